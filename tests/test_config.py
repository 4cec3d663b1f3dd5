"""Configuration is validated up front; each mistake names where the value came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.checks import NAMES
from preflight.config import Config, Raw, Source, build
from preflight.core.errors import ConfigError
from preflight.core.scope import Scope
from tests.harness import ENGINES_KINDS as ENGINES_REQUIRED_KINDS

DEFAULTS = {
    "project": None, "database": "(default)", "bucket": None, "collection": "routing_registry",
    "kinds": ",".join(ENGINES_REQUIRED_KINDS), "scopes": ("t_system/dev",),
    "disallow": "memory,noop,local,tmp,localhost", "timeout": "60", "attempt_timeout": "5",
    "verdict_file": None, "termination_log": None, "format": "json", "log_level": "info",
}
ENV_NAMES = {"scopes": "PREFLIGHT_SCOPES", "kinds": "PREFLIGHT_REQUIRED_KINDS",
             "timeout": "PREFLIGHT_TIMEOUT", "verdict_file": "PREFLIGHT_VERDICT_FILE"}


def configure(**env_values: object) -> Config:
    raw = {name: Raw(value, Source.DEFAULT, f"--{name} (default)")
           for name, value in DEFAULTS.items()}
    for name, value in env_values.items():
        raw[name] = Raw(value, Source.ENV, ENV_NAMES.get(name, name.upper()))  # type: ignore[arg-type]
    return build(raw, {}, NAMES)


def refused(**env_values: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        configure(**env_values)
    assert "\n" not in str(caught.value)
    return caught.value


def test_defaults_are_the_engines_own() -> None:
    config = configure()
    assert config.kinds == ENGINES_REQUIRED_KINDS
    assert config.scopes == (Scope("t_system", "dev"),)
    assert config.disallowed == frozenset({"memory", "noop", "local", "tmp", "localhost"})
    assert config.termination_log is None


def test_scopes_split_on_commas_with_projects() -> None:
    config = configure(scopes=("a/dev, b/prod/proj-1",))
    assert config.scopes == (Scope("a", "dev"), Scope("b", "prod", "proj-1"))
    assert config.scopes[1].label == "b/prod/proj-1"


@pytest.mark.parametrize("scope", ["t_system", "a/b/c/d", "/dev", "a//b", "a/ dev", "a/dev/"])
def test_bad_scopes_name_the_variable(scope: str) -> None:
    error = refused(scopes=(scope,))
    assert str(error).startswith("PREFLIGHT_SCOPES: expected scopes as tenant/env")


def test_empty_list_items_are_refused() -> None:
    assert "item 2 is empty" in str(refused(kinds="kpi,,seo"))


def test_control_characters_are_refused() -> None:
    assert "control characters" in str(refused(kinds="kpi,se\x1bo"))


def test_kinds_with_special_characters_are_kept_verbatim() -> None:
    config = configure(kinds="a#b, c.d , e f,ünï")
    assert config.kinds == ("a#b", "c.d", "e f", "ünï")


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "1e9", ""])
def test_timeouts_must_be_positive_finite_seconds(value: str) -> None:
    assert str(refused(timeout=value)).startswith("PREFLIGHT_TIMEOUT: expected a number")


def test_long_values_are_shortened_in_messages() -> None:
    assert len(str(refused(timeout="x" * 5000))) < 200


def test_verdict_folder_must_exist(tmp_path: Path) -> None:
    error = refused(verdict_file=str(tmp_path / "missing" / "verdict.json"))
    assert str(error).startswith("PREFLIGHT_VERDICT_FILE: expected a file in an existing folder")


def test_verdict_path_must_not_be_a_folder(tmp_path: Path) -> None:
    assert "not a folder" in str(refused(verdict_file=str(tmp_path)))


def test_disallowed_backends_are_normalised() -> None:
    assert configure(disallow=" Memory ,FILESYSTEM").disallowed == frozenset(
        {"memory", "filesystem"})


def test_collection_must_be_top_level() -> None:
    assert "without '/'" in str(refused(collection="a/b/c"))
