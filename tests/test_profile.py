"""Profiles: the built-in one, an operator's file, and every way a file can be wrong."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

import jsonschema
import pytest
import yaml

from preflight.contract import profile
from preflight.contract.profile import BackendSpec, ProfileError, load
from preflight.core.scope import Scope
from tests import harness

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "profile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> ProfileError:
    with pytest.raises(ProfileError) as caught:
        load(str(write(tmp_path, text)))
    assert "\n" not in str(caught.value)
    return caught.value


def test_the_compiled_built_in_profile_is_up_to_date() -> None:
    """engines.json and its line index come from engines.yaml (`make profiles`)."""
    for name, text in profile.compile_built_in("engines").items():
        shipped = (REPO / "preflight/contract/profiles" / name).read_text("utf-8")
        assert shipped == text, f"{name} is stale: run `make profiles`"


def test_the_built_in_profile_is_valid_against_the_published_schema() -> None:
    schema = json.loads((REPO / "preflight/contract/schema/profile-v1.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load((REPO / "preflight/contract/profiles/engines.yaml").read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)


def test_the_built_in_profile_holds_the_engines_rules() -> None:
    """Copied from ENGINES.md, not from the profile, so a wrong profile is caught here."""
    engines = load("engines")

    def backends(kind: str) -> Mapping[str, BackendSpec]:
        found = engines.kinds[kind].backends
        assert found is not None, kind
        return found

    assert engines.kinds_at("startup") == harness.ENGINES_KINDS
    assert engines.refused_all == harness.ENGINES_REFUSED
    assert engines.startup_scope == Scope("t_system", "dev")
    assert engines.fixed_scopes() == {Scope("t_system", "dev"): ("event_stream",)}
    assert set(engines.kinds_at("serving")) == {
        "object_store", "firearms_policy_store", "strategy_policy_store", "strategy_lock_store",
        "notes_store", "seo_config_store", "config_store", "component_registry",
        "canvas_command_store", "flow_store", "graph_store", "overlay_store", "chat_store",
        "event_spine"}
    assert engines.envs == ("dev", "staging", "stage", "prod")
    assert (engines.collection, engines.database) == ("routing_registry", "(default)")
    assert engines.severity_of("kpi") == "fail"
    assert engines.severity_of("object_store") == "warn"
    s3 = backends("object_store")["s3"]
    assert [(key.name, key.stand_in) for key in s3.config] == [("bucket", ("RAW_BUCKET",))]
    dynamo = backends("chat_store")["dynamodb"]
    assert {key.name: key.default for key in dynamo.config} == {
        "table_name": "chat_store", "region": "us-west-2"}
    assert backends("notes_store")["filesystem"].modes == ("lab",)
    # docs/ENGINES.md §5.4-§5.9
    cosmos = backends("flow_store")["cosmos"]
    assert [(g.keys, g.stand_in) for g in cosmos.together] == [
        (("endpoint", "key"), ("AZURE_COSMOSDB_ENDPOINT", "AZURE_COSMOSDB_KEY"))]
    assert {k.name: k.stand_in for k in cosmos.config} == {
        "endpoint": (), "key": (), "database": ()}
    objects = backends("object_store")
    assert {name for name, spec in objects.items() if spec.unusable} == {"azure_blob", "gcs"}
    assert objects["s3"].refuses_other_envs
    timeline = backends("event_stream")
    assert timeline["filesystem"].modes == ("lab",)
    assert timeline["firestore"].needs_one_of == ("GCP_PROJECT_ID", "GCP_PROJECT")
    assert {key.name: key.if_empty for key in dynamo.config} == {
        "table_name": "event_spine", "region": "us-west-2"}
    assert engines.engines is not None
    assert set(engines.engines.requirements_lack) == {"redis", "azure-cosmos"}
    assert engines.libraries["cosmos"].module == "azure.cosmos"
    assert {name: rule.reads for name, rule in engines.backend_variables.items()
            if rule.reads == "import"} == {"RATE_LIMIT_BACKEND": "import",
                                           "REALTIME_REGISTRY_BACKEND": "import",
                                           "THREE_WISE_BACKEND": "import"}
    assert "PAGE_CONTENT_BACKEND" not in engines.backend_variables
    assert "SEO_BACKEND" in engines.engines.not_checked


def test_lines_point_into_the_yaml_source() -> None:
    engines = load("engines")
    file, line = engines.where("kinds", "object_store").rsplit(":", 1)
    assert file == "preflight/contract/profiles/engines.yaml"
    text = (REPO / file).read_text("utf-8").splitlines()
    assert text[int(line) - 1].strip() == "object_store:"


def test_an_operator_profile_extends_the_built_in_one(tmp_path: Path) -> None:
    path = write(tmp_path, """
extends: engines
name: acme
serving:
  severity: fail
refused_backends:
  by_env:
    prod: [filesystem]
kinds:
  ledger_store:
    at: serving
    backends:
      firestore: {}
  event_stream: null
""")
    mine = load(str(path))
    engines = load("engines")
    assert mine.name == "acme"
    assert not mine.built_in
    assert mine.serving_severity == "fail"
    assert mine.refused_by_env == {"prod": ("filesystem",)}
    assert "ledger_store" in mine.kinds_at("serving")
    assert "event_stream" not in mine.kinds
    assert mine.kinds_at("startup") == engines.kinds_at("startup")
    assert mine.environment == engines.environment
    assert mine.where("kinds", "ledger_store") == f"{path}:10"
    assert mine.where("kinds", "kpi").startswith("engines.yaml:")


def test_the_shown_built_in_profile_loads_as_an_operator_file(tmp_path: Path) -> None:
    copied = load(str(write(tmp_path, profile.built_in_yaml("engines"))))
    engines = load("engines")
    assert (copied.kinds, copied.environment, copied.backend_variables) == (
        engines.kinds, engines.environment, engines.backend_variables)


@pytest.mark.parametrize(("text", "line", "path", "words"), [
    ("extends: engines\nname: x\nkinds:\n  object_store:\n    at: servng\n", 5,
     "kinds.object_store.at", "expected startup, serving or a scope"),
    ("extends: engines\nname: x\nstartup:\n  severity: fatal\n", 4, "startup.severity",
     "'fatal' is not one of"),
    ("extends: engines\nname: x\nregistry:\n  colection: r\n", 4, "registry.colection",
     "unknown key ('colection'"),
    ("extends: engines\nname: x\nenvironment:\n  MY_BACKEND:\n    code: mine\n"
     "    fix: set it\n", 4, "environment.MY_BACKEND", "'engines' is required"),
    ("extends: engines\nname: x\nrefused_backends:\n  by_env:\n    prdo: [filesystem]\n", 5,
     "refused_backends.by_env.prdo", "not one of the envs"),
    ("extends: engines\nname: x\nbackend_variables:\n  CHAT_BUS_BACKEND:\n"
     "    needs: {redis: [REDIS_HOTS]}\n", 5, "backend_variables.CHAT_BUS_BACKEND.needs.redis",
     "REDIS_HOTS is not a variable"),
    ("extends: engines\nname: x\nkinds:\n  notes_store:\n    at: serving\n    backends:\n"
     "      cosmos:\n        config:\n          endpoint: {stand_in: [E]}\n          key: {}\n"
     "        together: [{keys: [endpoint, key], stand_in: [E, K]}]\n", 9,
     "kinds.notes_store.backends.cosmos.config.endpoint.stand_in", "its group's applies"),
    ("extends: engines\nname: x\nkinds:\n  ledger_store:\n    at: serving\n    backends:\n"
     "      cosmos:\n        config: {endpoint: {}}\n"
     "        together: [{keys: [endpoint, key], stand_in: [E, K]}]\n", 9,
     "kinds.ledger_store.backends.cosmos.together[0].keys", "'key' is not a config key"),
    ("extends: engines\nname: x\nkinds:\n  notes_store:\n    at: serving\n    backends:\n"
     "      cosmos:\n        config: {endpoint: {}, key: {}}\n"
     "        together: [{keys: [endpoint, key], stand_in: [E, K, X]}]\n", 9,
     "kinds.notes_store.backends.cosmos.together[0].stand_in", "one stand_in variable per key"),
    ("extends: engines\nname: x\nkinds:\n  object_store:\n    at: serving\n    backends:\n"
     "      minio:\n        unusable: {reason: broken}\n", 8,
     "kinds.object_store.backends.minio.unusable", "'since' is required"),
    ("extends: engines\nname: x\nbackend_variables:\n  IDENTITY_BACKEND:\n    engines:\n"
     "      reads: first_use\n      accept: [firestore]\n"
     "      needs_one_of: {memory: [GCP_PROJECT_ID]}\n", 8,
     "backend_variables.IDENTITY_BACKEND.engines.needs_one_of.memory",
     "the engines do not accept it"),
    ("extends: engines\nname: x\nengines:\n  requirements_lack: [redis-py]\n", 4,
     "engines.requirements_lack[0]", "not the distribution of any of `libraries`"),
    ("extends: engines\nname: x\nlibraries:\n  memcache: {distribution: pymemcache}\n", 4,
     "libraries.memcache", "'module' is required"),
    ("extends: engines\nname: x\nname: y\n", 3, "name", "duplicate key"),
    ("extends: engines\nname: [x\n", None, "", "not valid YAML"),
    ("extends: nginx\nname: x\n", 1, "extends", "the name of a built-in profile"),
    ("- just\n- a list\n", None, "", "expected a YAML mapping"),
])
def test_a_bad_profile_names_the_line_and_key_path(tmp_path: Path, text: str, line: int | None,
                                                    path: str, words: str) -> None:
    error = refused(tmp_path, text)
    assert profile.dotted(error.path) == path, str(error)
    if line is not None:
        assert error.line == line, str(error)
        assert f"profile.yaml:{line}: " in str(error)
    assert words in str(error), str(error)


def test_a_missing_file_or_unknown_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load(str(tmp_path / "nope.yaml"))
    with pytest.raises(ProfileError, match="neither a built-in profile"):
        load("nginx")


def cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(harness.preflight_argv(*args), env=harness.minimal_env(tmp_path),
                          capture_output=True, text=True, timeout=60, check=False)


def test_profile_validate_accepts_a_good_file_and_names_the_line_of_a_bad_one(
        tmp_path: Path) -> None:
    good = write(tmp_path, "extends: engines\nname: acme\n", "good.yaml")
    result = cli("profile", "validate", str(good), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid profile 'acme': 17 start-up kinds, 14 serving kinds" in result.stdout
    bad = write(tmp_path, "extends: engines\nname: acme\nserving:\n  modes: lab\n", "bad.yaml")
    result = cli("profile", "validate", str(bad), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"preflight: error: {bad}:4: serving.modes: 'lab' is not "
                                     "of type 'array'")
    assert result.stdout == ""


def test_a_bad_profile_stops_check_before_any_network_call(tmp_path: Path) -> None:
    bad = write(tmp_path, "extends: engines\nname: acme\nprobes: {enabled: maybe}\n")
    env = {**harness.minimal_env(tmp_path), "PREFLIGHT_PROFILE": str(bad),
           "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{harness.closed_port()}"}
    result = subprocess.run(harness.preflight_argv("check"), env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"preflight: error: PREFLIGHT_PROFILE: {bad}:3: "
                                     "probes.enabled: 'maybe' is not of type 'boolean'")


def test_profile_show_prints_the_built_in_source(tmp_path: Path) -> None:
    result = cli("profile", "show", "engines", tmp_path=tmp_path)
    assert result.returncode == 0
    assert result.stdout == (REPO / "preflight/contract/profiles/engines.yaml").read_text("utf-8")
    assert cli("profile", "show", "nginx", tmp_path=tmp_path).returncode == 2
