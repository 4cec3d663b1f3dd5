"""routing.serving and routing.backends judgments: pure functions, every first-use rule."""

from __future__ import annotations

from typing import Any

import pytest

from preflight.checks import NAMES
from preflight.config import Config, Raw, Source, build
from preflight.contract.lookups import Located
from preflight.contract.profile import load
from preflight.contract.route_model import RouteDoc
from preflight.core.findings import Effect
from preflight.core.result import Status
from preflight.core.scope import Scope
from preflight.judge import route_backends, serving
from tests.seed import route

PROFILE = load("engines")
SERVED = Scope("t_acme", "prod", "p_main")


def judge_route(kind: str, backend: str, config: dict[str, Any] | None = None,
                environ: dict[str, str | None] | None = None,
                refused: frozenset[str] = frozenset()) -> list[tuple[str, Effect, str]]:
    doc = RouteDoc(f"{kind}-x", route(kind, "t_acme", "prod", "p_main", backend=backend,
                                      config=config or {}))
    findings = route_backends.judge_route(PROFILE, PROFILE.kinds[kind],
                                            Located(kind, SERVED, "serving"), doc, refused,
                                            environ or {})
    return [(f.code, f.effect, f.message) for f in findings]


@pytest.mark.parametrize(("kind", "backend", "config", "environ"), [
    ("object_store", "s3", {"bucket": "raw"}, {}),
    ("object_store", "s3", {}, {"RAW_BUCKET": "raw"}),
    ("object_store", "S3", {"bucket": "raw"}, {}),
    ("object_store", "gcs", {"project": "p", "bucket": "b"}, {}),
    ("object_store", "gcs", {"project": "p"}, {"GCS_BUCKET": "b"}),
    ("object_store", "azure_blob", {"connection_string": "x"}, {}),
    ("object_store", "azure_blob", {}, {"AZURE_STORAGE_CONNECTION_STRING": "x"}),
    ("notes_store", "firestore", {}, {"GCP_PROJECT_ID": "p"}),
    ("notes_store", "firestore", {"project": "other"}, {}),
    ("notes_store", "dynamodb", {}, {}),
    ("notes_store", "cosmos", {}, {"AZURE_COSMOSDB_ENDPOINT": "e", "AZURE_COSMOSDB_KEY": "k"}),
    ("chat_store", "cosmos", {"endpoint": "e", "key": "k"}, {}),
    ("event_spine", "dynamodb", {"table_name": "t"}, {}),
    ("event_stream", "firestore", {}, {}),
    ("event_stream", "filesystem", {}, {}),
])
def test_routes_the_engines_can_build(kind: str, backend: str, config: dict[str, Any],
                                      environ: dict[str, str | None]) -> None:
    assert judge_route(kind, backend, config, environ) == []


def test_a_key_a_variable_may_stand_in_for_is_needed_from_one_or_the_other() -> None:
    (found,) = judge_route("object_store", "s3", {}, {"RAW_BUCKET": ""})
    assert found[:2] == ("config_key_missing", Effect.FIRST_USE)
    assert "s3 needs config key `bucket` (or set RAW_BUCKET)" in found[2]


def test_cosmos_for_chat_has_no_stand_in_variables() -> None:
    found = judge_route("chat_store", "cosmos", {},
                        {"AZURE_COSMOSDB_ENDPOINT": "e", "AZURE_COSMOSDB_KEY": "k"})
    assert [message for _, _, message in found] == [
        "cosmos needs config key `endpoint`", "cosmos needs config key `key`"]


def test_gcs_needs_its_project_in_the_config() -> None:
    (found,) = judge_route("object_store", "gcs", {"bucket": "b"}, {"GCP_PROJECT_ID": "p"})
    assert "gcs needs config key `project`" in found[2]


@pytest.mark.parametrize("kind", ["object_store", "notes_store", "flow_store"])
def test_filesystem_serves_only_lab_requests(kind: str) -> None:
    (found,) = judge_route(kind, "filesystem")
    assert found[:2] == ("backend_mode_only", Effect.FIRST_USE)
    assert "saas, enterprise requests fail" in found[2]


@pytest.mark.parametrize(("kind", "backend"), [
    ("object_store", "firestore"), ("notes_store", "redis"), ("notes_store", "bigquery"),
    ("chat_store", "filesystem"), ("event_stream", "s3"), ("notes_store", "memory")])
def test_backends_a_resolver_does_not_accept(kind: str, backend: str) -> None:
    (found,) = judge_route(kind, backend)
    assert found[:2] == ("backend_unsupported", Effect.FIRST_USE)
    assert f"is not one the {kind} resolver accepts" in found[2]


def test_surrounding_spaces_are_not_trimmed_by_the_resolver() -> None:
    (found,) = judge_route("notes_store", " firestore", {"project": "p"})
    assert "has surrounding spaces" in found[2]


def test_a_backend_refused_in_one_env_is_a_contract_finding() -> None:
    (found,) = judge_route("notes_store", "dynamodb", refused=frozenset({"dynamodb"}))
    assert found[:2] == ("backend_refused", Effect.CONTRACT)


def test_config_values_never_appear_in_a_finding() -> None:
    secret = "CANARY-" + "x" * 8
    found = judge_route("object_store", "azure_blob", {"container": secret})
    assert secret not in repr(found)


def configure(**values: str | tuple[str, ...]) -> Config:
    raw = {name: Raw(None, Source.DEFAULT, f"--{name} (default)") for name in (
        "project", "database", "bucket", "collection", "kinds", "disallow", "verdict_file",
        "termination_log")}
    raw |= {"scopes": Raw((), Source.DEFAULT, "--scope (default)"),
            "timeout": Raw("60", Source.DEFAULT, "--timeout (default)"),
            "attempt_timeout": Raw("5", Source.DEFAULT, "--attempt-timeout (default)"),
            "format": Raw("json", Source.DEFAULT, "--format (default)"),
            "log_level": Raw("info", Source.DEFAULT, "--log-level (default)")}
    for name, value in values.items():
        raw[name] = Raw(value, Source.ENV, name.upper())
    return build(raw, {}, NAMES)


def test_request_time_scopes_are_the_serving_ones_and_the_fixed_ones() -> None:
    config = configure(serving_scopes=("t_acme/prod/p_main,t_beta/prod/p_x",))
    scopes = config.request_time_scopes()
    assert scopes[SERVED] == PROFILE.kinds_at("serving")
    assert scopes[Scope("t_beta", "prod", "p_x")] == PROFILE.kinds_at("serving")
    assert scopes[Scope("t_system", "dev")] == ("event_stream",)


def test_a_serving_scope_needs_a_project() -> None:
    from preflight.core.errors import ConfigError

    with pytest.raises(ConfigError, match="SERVING_SCOPES: expected serving scopes as "
                       "tenant/env/project"):
        configure(serving_scopes=("t_acme/prod",))


def docs_for(*routes: dict[str, Any]) -> list[RouteDoc]:
    return [RouteDoc(f"{r['resource_kind']}-{i}", r) for i, r in enumerate(routes)]


def test_serving_findings_warn_and_say_the_requests_fail() -> None:
    scopes = {SERVED: ("object_store", "notes_store")}
    docs = {SERVED: docs_for(route("notes_store", "t_acme", "prod", "p_main",
                                   backend="firestore"))}
    outcome = serving.judge(PROFILE, scopes, docs, serving=1)
    assert outcome.status is Status.WARN
    (finding,) = outcome.details["findings"]
    assert finding["code"] == "route_missing"
    assert finding["subject"] == "object_store at t_acme/prod/p_main"
    assert finding["effect"] == "first_use"
    assert "stricter_than_engines" not in outcome.details


def test_with_no_serving_scope_the_pass_says_what_was_not_checked() -> None:
    scope = Scope("t_system", "dev")
    docs = {scope: docs_for(route("event_stream", backend="firestore"))}
    outcome = serving.judge(PROFILE, {scope: ("event_stream",)}, docs, serving=0)
    assert outcome.status is Status.PASS
    assert "no serving scopes given (--serve-scope)" in outcome.message
