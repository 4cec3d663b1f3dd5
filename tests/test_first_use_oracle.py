"""The first-use oracle (tests/first_use_oracle.py), one hand-written case per fact.

Each case is a fact of docs/ENGINES.md section 5 read as a registry + environment: the
oracle must give the class the engines' own code gives (it was compared with their real
resolvers outside this repository, on the Firestore emulator and moto); here each class is
pinned so that a later edit cannot drift silently.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.first_use_oracle import (
    ENGINES_REQUIREMENTS,
    EVERY_CLIENT,
    SERVING_KINDS,
    TABULAR_KINDS,
    TIMELINE_SCOPE,
    VARIABLES,
    Outcome,
    Reason,
    Scope,
    first_use,
    lookup,
    variable,
)

SCOPE = Scope("t_acme", "prod", "p_shop")
PROJECT = {"GCP_PROJECT_ID": "proj"}
COSMOS_ENV = {"AZURE_COSMOSDB_ENDPOINT": "https://acct.documents.azure.com:443/",
              "AZURE_COSMOSDB_KEY": "a2V5a2V5a2V5"}
BLOB = ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;"
        "EndpointSuffix=core.windows.net")


def route(kind: str, backend: str, config: dict[str, Any] | None = None,
          scope: Scope = SCOPE, doc_id: str | None = None,
          **fields: Any) -> dict[str, dict[str, Any]]:
    doc_id = doc_id or f"{kind}-{scope.tenant}-{scope.env}"
    document = {"id": doc_id, "resource_kind": kind, "tenant_id": scope.tenant,
                "env": scope.env, "project_id": scope.project, "backend_type": backend,
                "config": config or {}, **fields}
    return {doc_id: document}


def one(kind: str, backend: str, config: dict[str, Any] | None = None,
        environ: dict[str, str] | None = None, modes: tuple[str, ...] = ("saas", "enterprise"),
        installed: frozenset[str] = EVERY_CLIENT, scope: Scope = SCOPE) -> Outcome:
    return lookup(route(kind, backend, config, scope), kind, scope, environ or {}, modes,
                  installed)


# ------------------------------------------------------------------ lookups

def test_no_route_and_no_fallback_to_a_project_less_route() -> None:
    projectless = route("object_store", "s3", {"bucket": "b"}, Scope("t_acme", "prod", None))
    outcome = lookup(projectless, "object_store", SCOPE, {})
    assert (outcome.reason, outcome.modes) == (Reason.NO_ROUTE, frozenset({"saas", "enterprise"}))


def test_a_document_lacking_project_id_is_not_found_at_the_timeline_scope() -> None:
    documents = route("event_stream", "firestore", scope=TIMELINE_SCOPE)
    del documents["event_stream-t_system-dev"]["project_id"]
    assert lookup(documents, "event_stream", TIMELINE_SCOPE, PROJECT).reason is Reason.NO_ROUTE


def test_invalid_route_names_the_document_the_lookup_returns_first() -> None:
    documents = {**route("config_store", "firestore", doc_id="a-broken", tier=None),
                 **route("config_store", "firestore", doc_id="b-fine")}
    outcome = lookup(documents, "config_store", SCOPE, PROJECT)
    assert (outcome.reason, outcome.key) == (Reason.INVALID_ROUTE, "a-broken")


def test_the_first_document_in_id_order_decides() -> None:
    documents = {**route("notes_store", "dynamodb", doc_id="b"),
                 **route("notes_store", "memory", doc_id="a")}
    assert lookup(documents, "notes_store", SCOPE, {}).reason is Reason.UNSUPPORTED_BACKEND


@pytest.mark.parametrize(("kind", "backend"), [
    ("object_store", "firestore"), ("object_store", " s3"), ("object_store", ""),
    ("flow_store", "s3"), ("flow_store", "memory"), ("chat_store", "filesystem"),
    ("event_spine", "redis"), ("event_stream", "memory"), ("event_stream", "s3"),
])
def test_unsupported_backend(kind: str, backend: str) -> None:
    scope = TIMELINE_SCOPE if kind == "event_stream" else SCOPE
    outcome = one(kind, backend, environ=PROJECT, scope=scope)
    assert (outcome.reason, outcome.key) == (Reason.UNSUPPORTED_BACKEND, "backend_type")


def test_backend_type_is_lower_cased_not_trimmed() -> None:
    assert one("object_store", "S3", {"bucket": "b"}).network
    assert one("graph_store", "FireStore", environ=PROJECT).network
    assert one("graph_store", "firestore ", environ=PROJECT).reason is Reason.UNSUPPORTED_BACKEND


@pytest.mark.parametrize("kind", ["object_store", "canvas_command_store"])
def test_filesystem_is_mode_only_outside_lab(kind: str) -> None:
    served = one(kind, "filesystem", modes=("saas", "enterprise", "lab"))
    assert (served.reason, served.modes) == (Reason.MODE_ONLY, frozenset({"saas", "enterprise"}))
    lab_only = one(kind, "filesystem", modes=("lab",))
    assert not lab_only.fails
    assert not lab_only.network


def test_timeline_on_filesystem_appends_only_in_lab() -> None:
    documents = route("event_stream", "filesystem", scope=TIMELINE_SCOPE)
    outcome = lookup(documents, "event_stream", TIMELINE_SCOPE, {}, ("saas", "lab"))
    assert (outcome.reason, outcome.modes) == (Reason.MODE_ONLY, frozenset({"saas"}))
    assert "append" in (outcome.note or "")
    assert not lookup(documents, "event_stream", TIMELINE_SCOPE, {}, ("lab",)).fails


def test_timeline_ignores_its_config_and_needs_the_project_variable() -> None:
    documents = route("event_stream", "firestore", {"project": "p"}, scope=TIMELINE_SCOPE)
    outcome = lookup(documents, "event_stream", TIMELINE_SCOPE, {})
    assert (outcome.reason, outcome.key) == (Reason.MISSING_CONFIG, "GCP_PROJECT_ID")
    assert lookup(documents, "event_stream", TIMELINE_SCOPE, {"GCP_PROJECT": "p"}).network


@pytest.mark.parametrize(("config", "environ", "key"), [
    ({}, {}, "config.bucket"),
    ({"bucket": ""}, {"RAW_BUCKET": ""}, "config.bucket"),
])
def test_s3_bucket_missing(config: dict[str, Any], environ: dict[str, str], key: str) -> None:
    outcome = one("object_store", "s3", config, environ)
    assert (outcome.reason, outcome.key) == (Reason.MISSING_CONFIG, key)


def test_s3_takes_raw_bucket_when_the_route_has_none() -> None:
    outcome = one("object_store", "s3", {"bucket": None}, {"RAW_BUCKET": "raw"})
    assert outcome.network
    assert not outcome.fails


def test_s3_refuses_an_env_raw_storage_does_not_serve() -> None:
    outcome = one("object_store", "s3", {"bucket": "b"}, scope=Scope("t_acme", "qa", "p"))
    assert (outcome.reason, outcome.key) == (Reason.ENV_NOT_SERVED, "ENV")


@pytest.mark.parametrize(("backend", "config", "environ"), [
    ("azure_blob", {"connection_string": BLOB}, {}),
    ("azure_blob", {}, {"AZURE_STORAGE_CONNECTION_STRING": BLOB}),
    ("gcs", {"project": "p", "bucket": "b"}, {}),
    ("gcs", {"project": "p"}, {"GCS_BUCKET": "b"}),
])
def test_azure_blob_and_gcs_are_unusable_at_this_version(
        backend: str, config: dict[str, Any], environ: dict[str, str]) -> None:
    outcome = one("object_store", backend, config, environ)
    assert outcome.reason is Reason.BACKEND_UNUSABLE_AT_THIS_VERSION
    assert not outcome.network  # it fails whatever the container or bucket


@pytest.mark.parametrize(("backend", "config", "environ", "key"), [
    ("azure_blob", {"container": "c"}, {}, "config.connection_string"),
    ("gcs", {"bucket": "b"}, {"GCP_PROJECT_ID": "p"}, "config.project"),  # no stand-in
    ("gcs", {"project": "p"}, {"GCS_BUCKET": ""}, "config.bucket"),
])
def test_missing_config_comes_before_unusable(
        backend: str, config: dict[str, Any], environ: dict[str, str], key: str) -> None:
    outcome = one("object_store", backend, config, environ)
    assert (outcome.reason, outcome.key) == (Reason.MISSING_CONFIG, key)


@pytest.mark.parametrize("kind", [*TABULAR_KINDS, "chat_store", "event_spine"])
def test_firestore_project_from_config_or_either_variable(kind: str) -> None:
    outcome = one(kind, "firestore", {}, {"GCP_PROJECT_ID": ""})
    assert (outcome.reason, outcome.key) == (Reason.MISSING_CONFIG, "config.project")
    assert one(kind, "firestore", {"project": "p"}).network
    assert one(kind, "firestore", {}, {"GCP_PROJECT_ID": "", "GCP_PROJECT": "p"}).network


@pytest.mark.parametrize("kind", ["flow_store", "chat_store", "event_spine"])
@pytest.mark.parametrize("region", ["eu_west_1", "bad region", "-eu", "123"])
def test_dynamodb_region_must_be_a_host_label(kind: str, region: str) -> None:
    outcome = one(kind, "dynamodb", {"region": region})
    assert (outcome.reason, outcome.key) == (Reason.INVALID_CONFIG, "config.region")


@pytest.mark.parametrize("kind", ["flow_store", "chat_store", "event_spine"])
def test_dynamodb_defaults_decide_nothing_before_the_network(kind: str) -> None:
    for config in ({}, {"region": ""}, {"region": None, "table_name": "t"}):
        assert one(kind, "dynamodb", config).network


def test_chat_store_empty_table_name_means_event_spine() -> None:
    assert "event_spine" in (one("chat_store", "dynamodb", {"table_name": ""}).note or "")


# Cosmos (tabular): the route's endpoint and key only together, else both from the environment.
@pytest.mark.parametrize(("config", "environ"), [
    ({"endpoint": "https://a/", "key": "a2V5"}, {}),
    ({}, COSMOS_ENV),
    ({"endpoint": "https://a/"}, COSMOS_ENV),  # the route's endpoint is dropped
    ({"key": "a2V5"}, COSMOS_ENV),
])
def test_cosmos_pair_complete(config: dict[str, Any], environ: dict[str, str]) -> None:
    outcome = one("seo_config_store", "cosmos", config, environ)
    assert outcome.network
    assert not outcome.fails


@pytest.mark.parametrize(("config", "environ"), [
    ({"endpoint": "https://a/"}, {"AZURE_COSMOSDB_KEY": "a2V5"}),  # issue 21's false pass
    ({"key": "a2V5"}, {"AZURE_COSMOSDB_ENDPOINT": "https://a/"}),
    ({"endpoint": "https://a/", "key": ""}, {}),
    ({}, {"AZURE_COSMOSDB_ENDPOINT": "https://a/", "AZURE_COSMOSDB_KEY": ""}),
])
def test_cosmos_pair_incomplete(config: dict[str, Any], environ: dict[str, str]) -> None:
    outcome = one("seo_config_store", "cosmos", config, environ)
    assert outcome.reason is Reason.COSMOS_CREDENTIALS_INCOMPLETE
    assert "AZURE_COSMOSDB_ENDPOINT" in (outcome.key or "")


def test_cosmos_key_that_does_not_decode_fails_before_connecting() -> None:
    outcome = one("component_registry", "cosmos", {}, {**COSMOS_ENV,
                                                        "AZURE_COSMOSDB_KEY": "not base64!"})
    assert (outcome.reason, outcome.key) == (Reason.INVALID_CONFIG, "AZURE_COSMOSDB_KEY")


@pytest.mark.parametrize("kind", ["chat_store", "event_spine"])
def test_spine_cosmos_takes_nothing_from_the_environment(kind: str) -> None:
    missing = one(kind, "cosmos", {"key": "a2V5"}, COSMOS_ENV)
    assert (missing.reason, missing.key) == (Reason.MISSING_CONFIG, "config.endpoint")
    no_key = one(kind, "cosmos", {"endpoint": "https://a/"}, COSMOS_ENV)
    assert (no_key.reason, no_key.key) == (Reason.MISSING_CONFIG, "config.key")
    assert one(kind, "cosmos", {"endpoint": "https://a/", "key": ""}).network
    # the client signs with the key before it formats the endpoint: a bad key decides first
    bad_key = one(kind, "cosmos", {"key": "not base64!"})
    assert (bad_key.reason, bad_key.key) == (Reason.INVALID_CONFIG, "config.key")


@pytest.mark.parametrize("kind", ["strategy_lock_store", "chat_store", "event_spine"])
def test_cosmos_without_azure_cosmos_installed(kind: str) -> None:
    outcome = one(kind, "cosmos", {"endpoint": "https://a/", "key": "a2V5"},
                  installed=ENGINES_REQUIREMENTS)
    assert (outcome.reason, outcome.key) == (Reason.IMPORT_ERROR_CLIENT_MISSING, "azure-cosmos")


# ------------------------------------------------------------------ variables

def test_chat_bus_memory_or_unset_or_empty_fails() -> None:
    for environ in ({}, {"CHAT_BUS_BACKEND": "memory"}, {"CHAT_BUS_BACKEND": ""},
                    {"CHAT_BUS_BACKEND": "kafka"}):
        assert variable("CHAT_BUS_BACKEND", environ).reason is Reason.UNSUPPORTED_BACKEND


def test_chat_bus_redis_host_unset_means_localhost_not_a_failure() -> None:
    outcome = variable("CHAT_BUS_BACKEND", {"CHAT_BUS_BACKEND": "REDIS"}, installed=EVERY_CLIENT)
    assert outcome.network
    assert not outcome.fails
    assert "localhost" in (outcome.note or "")


@pytest.mark.parametrize(("port", "fails"), [("x", True), ("", True), ("6379.0", True),
                                             (" 6380 ", False), ("6_379", False)])
def test_chat_bus_port_is_parsed_with_int(port: str, fails: bool) -> None:
    outcome = variable("CHAT_BUS_BACKEND", {"CHAT_BUS_BACKEND": "redis", "REDIS_PORT": port},
                       installed=EVERY_CLIENT)
    assert outcome.fails is fails
    if fails:
        assert (outcome.reason, outcome.key) == (Reason.INVALID_CONFIG, "REDIS_PORT")


def test_chat_bus_without_redis_installed() -> None:
    outcome = variable("CHAT_BUS_BACKEND", {"CHAT_BUS_BACKEND": "redis"})
    assert (outcome.reason, outcome.key) == (Reason.IMPORT_ERROR_CLIENT_MISSING, "redis")


@pytest.mark.parametrize(("environ", "reason", "key"), [
    ({}, Reason.UNSUPPORTED_BACKEND, "MEMORY_BACKEND"),
    ({"MEMORY_BACKEND": "memory"}, Reason.UNSUPPORTED_BACKEND, "MEMORY_BACKEND"),
    ({"MEMORY_BACKEND": "firestore"}, Reason.MISSING_CONFIG, "GCP_PROJECT_ID"),
    ({"MEMORY_BACKEND": "fs"}, Reason.MISSING_CONFIG, "MEMORY_DIR"),
    ({"MEMORY_BACKEND": "filesystem", "MEMORY_DIR": ""}, Reason.MISSING_CONFIG, "MEMORY_DIR"),
    ({"IDENTITY_BACKEND": "memory"}, Reason.UNSUPPORTED_BACKEND, "IDENTITY_BACKEND"),
    ({"IDENTITY_BACKEND": "firestore"}, Reason.MISSING_CONFIG, "GCP_PROJECT_ID"),
])
def test_memory_and_identity(environ: dict[str, str], reason: Reason, key: str) -> None:
    name = next(iter(environ), "MEMORY_BACKEND")
    outcome = variable(name, environ)
    assert (outcome.reason, outcome.key) == (reason, key)
    assert outcome.raises


def test_memory_on_a_folder_works_without_the_network() -> None:
    outcome = variable("MEMORY_BACKEND", {"MEMORY_BACKEND": "FS", "MEMORY_DIR": "/data"})
    assert not outcome.fails
    assert not outcome.network


@pytest.mark.parametrize(("name", "at_import"), [("RATE_LIMIT_BACKEND", True),
                                                 ("REALTIME_REGISTRY_BACKEND", True),
                                                 ("THREE_WISE_BACKEND", True),
                                                 ("ANALYTICS_EVENTS_BACKEND", False),
                                                 ("PRIVACY_BACKEND", False)])
def test_silent_memory_fallback(name: str, at_import: bool) -> None:
    for environ, key in (({}, name), ({name: "firestore "}, name),
                         ({name: "Firestore"}, "GCP_PROJECT_ID")):
        outcome = variable(name, environ)
        assert (outcome.reason, outcome.key) == (Reason.SILENT_MEMORY_FALLBACK, key)
        assert not outcome.raises
        assert outcome.read_at_import is at_import
    durable = variable(name, {name: "firestore", "GCP_PROJECT": "p"})
    assert durable.network
    assert not durable.fails


@pytest.mark.parametrize(("value", "reason"), [
    (None, None), ("", None), ("FS", None), ("filesystem", None), ("Firestore", None),
    ("memory", Reason.UNSUPPORTED_BACKEND), ("firestore ", Reason.UNSUPPORTED_BACKEND),
])
def test_knowledge_backend(value: str | None, reason: Reason | None) -> None:
    """Unset or empty means files under the working folder; firestore builds a client with
    the credentials' project; anything else raises at first use."""
    environ = {} if value is None else {"KNOWLEDGE_BACKEND": value}
    assert variable("KNOWLEDGE_BACKEND", environ).reason is reason


def test_page_content_backend_is_read_by_no_mounted_code() -> None:
    outcome = variable("PAGE_CONTENT_BACKEND", {"PAGE_CONTENT_BACKEND": "memory"})
    assert not outcome.fails
    assert "no code" in (outcome.note or "")


@pytest.mark.parametrize("environ", [{}, {"SEO_BACKEND": "memory"}, {"SEO_BACKEND": "firestore"}])
def test_seo_backend_falls_back_to_the_routed_repository(environ: dict[str, str]) -> None:
    outcome = variable("SEO_BACKEND", environ)
    assert not outcome.fails
    assert not outcome.network
    assert outcome.read_at_import
    assert "seo_config_store" in (outcome.note or "")


@pytest.mark.parametrize(("value", "reason"), [
    (None, None), ("", None), ("FIRESTORE", None), ("bq", None), ("BigQuery", None),
    ("noop", Reason.UNSUPPORTED_BACKEND), ("memory", Reason.UNSUPPORTED_BACKEND),
    ("in-memory", Reason.UNSUPPORTED_BACKEND), (" firestore", Reason.UNSUPPORTED_BACKEND),
])
def test_nexus_backend(value: str | None, reason: Reason | None) -> None:
    environ = {} if value is None else {"NEXUS_BACKEND": value}
    outcome = variable("NEXUS_BACKEND", environ)
    assert outcome.reason is reason
    assert outcome.network is (reason is None)


def test_nexus_bigquery_needs_its_client_library() -> None:
    outcome = variable("NEXUS_BACKEND", {"NEXUS_BACKEND": "bq"},
                       installed=ENGINES_REQUIREMENTS - {"google-cloud-bigquery"})
    assert outcome.reason is Reason.IMPORT_ERROR_CLIENT_MISSING


# ------------------------------------------------------------------ the whole answer

def test_first_use_covers_every_kind_scope_the_timeline_and_every_variable() -> None:
    scopes = [SCOPE, Scope("t_beta", "prod", "p_two")]
    outcomes = first_use({}, {}, scopes)
    subjects = [(o.subject, o.scope) for o in outcomes]
    assert len(subjects) == len(set(subjects)) == 2 * len(SERVING_KINDS) + 1 + len(VARIABLES)
    assert ("event_stream", TIMELINE_SCOPE) in subjects
    assert {o.reason for o in outcomes if o.scope is not None} == {Reason.NO_ROUTE}


def test_unknown_kind_or_variable_is_an_error() -> None:
    with pytest.raises(ValueError, match="kind"):
        lookup({}, "tabular_store", SCOPE, {})
    with pytest.raises(ValueError, match="variable"):
        variable("BUDGET_BACKEND", {})
