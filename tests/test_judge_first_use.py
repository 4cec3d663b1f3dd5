"""routing.serving and routing.backends judgments: pure functions, every first-use rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from preflight.config import Config, Raw, Source
from preflight.contract.lookups import Located
from preflight.contract.profile import load
from preflight.contract.route_model import RouteDoc
from preflight.core.findings import Effect
from preflight.core.result import Status
from preflight.core.scope import Scope
from preflight.judge import route_backends, serving
from tests.configs import config_of
from tests.seed import route

PROFILE = load("engines")
SERVED = Scope("t_acme", "prod", "p_main")
KEY = "a2V5a2V5"  # base64, as the Cosmos client needs
COSMOS_ENV = {"AZURE_COSMOSDB_ENDPOINT": "e", "AZURE_COSMOSDB_KEY": KEY}


def judge_route(kind: str, backend: str, config: dict[str, Any] | None = None,
                environ: Mapping[str, str | None] | None = None,
                refused: frozenset[str] = frozenset(), scope: Scope = SERVED,
                ) -> list[tuple[str, Effect, str]]:
    doc = RouteDoc(f"{kind}-x", route(kind, scope.tenant, scope.env, scope.project,
                                      backend=backend, config=config or {}))
    findings = route_backends.judge_route(PROFILE, PROFILE.kinds[kind],
                                            Located(kind, scope, "serving"), doc, refused,
                                            environ or {})
    return [(f.code, f.effect, f.message) for f in findings]


@pytest.mark.parametrize(("kind", "backend", "config", "environ"), [
    ("object_store", "s3", {"bucket": "raw"}, {}),
    ("object_store", "s3", {}, {"RAW_BUCKET": "raw"}),
    ("object_store", "S3", {"bucket": "raw"}, {}),
    ("notes_store", "firestore", {}, {"GCP_PROJECT_ID": "p"}),
    ("notes_store", "firestore", {"project": "other"}, {}),
    ("notes_store", "dynamodb", {}, {}),
    ("notes_store", "dynamodb", {"region": "", "table_name": ""}, {}),  # falsy: the defaults
    ("notes_store", "cosmos", {}, COSMOS_ENV),
    ("notes_store", "cosmos", {"endpoint": "e", "key": KEY}, {}),
    ("notes_store", "cosmos", {"endpoint": "e"}, COSMOS_ENV),  # the config's endpoint dropped
    ("chat_store", "cosmos", {"endpoint": "e", "key": KEY}, {}),
    ("chat_store", "cosmos", {"endpoint": "e", "key": ""}, {}),  # refused at the account
    ("event_spine", "dynamodb", {"table_name": "t", "region": "eu-west-1"}, {}),
    ("event_stream", "firestore", {}, {"GCP_PROJECT": "p"}),
])
def test_routes_the_engines_can_build(kind: str, backend: str, config: dict[str, Any],
                                      environ: dict[str, str | None]) -> None:
    assert judge_route(kind, backend, config, environ) == []


def test_a_key_a_variable_may_stand_in_for_is_needed_from_one_or_the_other() -> None:
    (found,) = judge_route("object_store", "s3", {}, {"RAW_BUCKET": ""})
    assert found[:2] == ("config_key_missing", Effect.FIRST_USE)
    assert "s3 needs config key `bucket` (or set RAW_BUCKET)" in found[2]


def test_cosmos_for_chat_has_no_stand_in_variables() -> None:
    found = judge_route("chat_store", "cosmos", {}, COSMOS_ENV)
    assert [message for _, _, message in found] == [
        "cosmos needs config key `endpoint`", "cosmos needs config key `key`"]


@pytest.mark.parametrize(("config", "environ", "said"), [
    # issue 21's false pass: each key has a value somewhere, but not both in one place
    ({"endpoint": "e"}, {"AZURE_COSMOSDB_KEY": KEY},
     "the config lacks `key`, and AZURE_COSMOSDB_ENDPOINT is unset"),
    ({"key": KEY}, {"AZURE_COSMOSDB_ENDPOINT": "e", "AZURE_COSMOSDB_KEY": ""},
     "the config lacks `endpoint`, and AZURE_COSMOSDB_KEY is unset"),
    ({}, {}, "the config lacks `endpoint`, `key`, and neither AZURE_COSMOSDB_ENDPOINT nor "
     "AZURE_COSMOSDB_KEY is set"),
])
def test_tabular_cosmos_takes_endpoint_and_key_together(
        config: dict[str, Any], environ: dict[str, str | None], said: str) -> None:
    (found,) = judge_route("graph_store", "cosmos", config, environ)
    assert found[:2] == ("config_group_incomplete", Effect.FIRST_USE)
    assert found[2] == ("cosmos takes `endpoint`, `key` from its config only when all are "
                        f"there, else all from AZURE_COSMOSDB_ENDPOINT and AZURE_COSMOSDB_KEY: "
                        f"{said}")


@pytest.mark.parametrize(("kind", "backend", "config", "environ", "said"), [
    ("notes_store", "dynamodb", {"region": "eu west"}, {}, "dynamodb's region (`region` in "
     "its config) is not a region name (a host label)"),
    ("chat_store", "dynamodb", {"region": "123"}, {}, "dynamodb's region"),
    ("notes_store", "cosmos", {}, {**COSMOS_ENV, "AZURE_COSMOSDB_KEY": "k"},
     "cosmos's key (AZURE_COSMOSDB_KEY) is not base64"),
    ("event_spine", "cosmos", {"endpoint": "e", "key": "not base64!"}, {},
     "cosmos's key (`key` in its config) is not base64"),
])
def test_a_value_the_client_refuses_before_any_call(
        kind: str, backend: str, config: dict[str, Any], environ: dict[str, str | None],
        said: str) -> None:
    (found,) = judge_route(kind, backend, config, environ)
    assert found[:2] == ("config_value_invalid", Effect.FIRST_USE)
    assert found[2].startswith(said), found[2]
    assert "eu west" not in found[2] and "not base64!" not in found[2]  # never a value


@pytest.mark.parametrize(("backend", "config", "environ"), [
    ("azure_blob", {"connection_string": "x"}, {}),
    ("azure_blob", {}, {"AZURE_STORAGE_CONNECTION_STRING": "x"}),
    ("gcs", {"project": "p", "bucket": "b"}, {}),
    ("gcs", {"project": "p"}, {"GCS_BUCKET": "b"}),
])
def test_object_store_backends_the_engines_cannot_use(
        backend: str, config: dict[str, Any], environ: dict[str, str | None]) -> None:
    (found,) = judge_route("object_store", backend, config, environ)
    assert found[:2] == ("backend_unusable", Effect.FIRST_USE)
    assert "every request raises TypeError" in found[2]


def test_a_missing_config_key_is_reported_before_unusable() -> None:
    (found,) = judge_route("object_store", "gcs", {"bucket": "b"})
    assert found[0] == "config_key_missing"


def test_s3_refuses_an_env_the_engines_do_not_serve() -> None:
    (found,) = judge_route("object_store", "s3", {"bucket": "b"},
                           scope=Scope("t_acme", "qa", "p_main"))
    assert found[:2] == ("env_not_served", Effect.FIRST_USE)
    assert "'qa'" in found[2]


def test_the_timeline_takes_its_project_from_the_environment_only() -> None:
    (found,) = judge_route("event_stream", "firestore", {"project": "p"}, {"GCP_PROJECT_ID": ""})
    assert found[:2] == ("variable_missing", Effect.FIRST_USE)
    assert "GCP_PROJECT_ID or GCP_PROJECT" in found[2]


def test_gcs_needs_its_project_in_the_config() -> None:
    (found,) = judge_route("object_store", "gcs", {"bucket": "b"}, {"GCP_PROJECT_ID": "p"})
    assert "gcs needs config key `project`" in found[2]


@pytest.mark.parametrize("kind", ["object_store", "notes_store", "flow_store", "event_stream"])
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


def test_a_refused_backend_the_resolver_does_not_accept_fails_its_requests() -> None:
    """memory is refused, but for object_store it is first of all not a backend at all: the
    engines do not serve it, whatever the contract says."""
    (found,) = judge_route("object_store", "memory", refused=frozenset({"memory"}))
    assert found[:2] == ("backend_unsupported", Effect.FIRST_USE)


def test_a_refused_lab_only_backend_says_both() -> None:
    found = judge_route("notes_store", "filesystem", refused=frozenset({"filesystem"}))
    assert [code for code, _, _ in found] == ["backend_refused", "backend_mode_only"]


def test_config_values_never_appear_in_a_finding() -> None:
    secret = "CANARY-" + "x" * 8
    found = judge_route("object_store", "azure_blob", {"container": secret})
    assert secret not in repr(found)


def configure(**values: str | tuple[str, ...]) -> Config:
    return config_of({name: Raw(value, Source.ENV, name.upper())
                      for name, value in values.items()})


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
