"""The pure half of the deep probes: what the engines would build, and what an answer means.

No server here: `target` (config keys, stand-in variables, the engines' defaults) and
`judge` (pass / fail with a fix / transient) are tested exhaustively as functions, and a
canary sweep proves that no config or variable value reaches any message, fix or repr.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from preflight.contract.targets import (
    BACKENDS,
    Endpoint,
    ProbeSubject,
    Unbuildable,
    azure_blob,
    bigquery,
    cosmos,
    dynamodb,
    firestore,
    gcs,
    redis,
    s3,
    target_of,
)
from preflight.judge.backends import answer as answer_of
from preflight.judge.reachable import judge_of, judge_one, plan
from preflight.observe import azure_blob as azure_blob_seen
from preflight.observe import bigquery as bigquery_seen
from preflight.observe import cosmos as cosmos_seen
from preflight.observe import dynamodb as dynamodb_seen
from preflight.observe import firestore as firestore_seen
from preflight.observe import redis as redis_seen
from preflight.observe.dynamodb import TableObservation as Table
from preflight.observe.probing import NO_ANSWER, observer_of
from preflight.observe.rest import HttpObservation
from preflight.observe.s3 import BucketObservation
from tests.probing import route, variable

COSMOS_KEY = ("dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/"
              "t4bQtVNw==")


def endpoint(found: Endpoint | Unbuildable) -> Any:
    assert isinstance(found, Endpoint), found
    return found


def finding(found: Endpoint | Unbuildable) -> Unbuildable:
    assert isinstance(found, Unbuildable), found
    return found


# ------------------------------------------------------------------------------- redis

def test_redis_route_config_with_defaults() -> None:
    found = endpoint(redis.target(route("chat_bus", "redis", {"host": "h1"}), {}))
    assert (found.host, found.port, found.db, found.password, found.tls) == ("h1", 6379, 0,
                                                                              None, False)
    assert found.where == "the `host`/`port` of its config"


@pytest.mark.parametrize(("config", "expected"), [
    ({"host": "h", "port": "6380"}, (6380, 0, False)),
    ({"host": "h", "port": 6390, "db": "3"}, (6390, 3, False)),
    ({"host": "h", "port": None, "db": None, "ssl": "true"}, (6379, 0, True)),
    ({"host": "h", "tls": True}, (6379, 0, True)),
    ({"host": "h", "ssl": False, "tls": "yes"}, (6379, 0, True)),
])
def test_redis_route_config_values(config: dict[str, Any],
                                   expected: tuple[int, int, bool]) -> None:
    found = endpoint(redis.target(route("chat_bus", "redis", config), {}))
    assert (found.port, found.db, found.tls) == expected


@pytest.mark.parametrize(("config", "key"), [
    ({}, "`host`"), ({"host": ""}, "`host`"), ({"host": 5}, "`host`"),
    ({"host": "h", "port": "x"}, "`port`"), ({"host": "h", "port": 0}, "`port`"),
    ({"host": "h", "port": 70000}, "`port`"), ({"host": "h", "port": True}, "`port`"),
    ({"host": "h", "port": ""}, "`port`"), ({"host": "h", "db": -1}, "`db`"),
    ({"host": "h", "db": "one"}, "`db`"), ({"host": "h", "db": True}, "`db`"),
    ({"host": "h", "ssl": "maybe"}, "`ssl`"), ({"host": "h", "password": 123}, "`password`"),
    ({"host": "h", "username": ["u"]}, "`username`"),
])
def test_redis_unusable_config_is_a_finding_naming_the_key(config: dict[str, Any],
                                                           key: str) -> None:
    found = finding(redis.target(route("chat_bus", "redis", config), {}))
    assert key in found.message
    assert found.fix


def test_redis_chat_bus_variable_uses_the_engines_defaults() -> None:
    found = endpoint(redis.target(variable("CHAT_BUS_BACKEND", "redis"), {}))
    assert (found.host, found.port, found.db, found.password, found.tls) == (
        "localhost", 6379, 0, None, False)
    assert "REDIS_HOST/REDIS_PORT are unset" in found.where
    assert found.from_env


def test_redis_chat_bus_variable_reads_host_and_port_as_int_does() -> None:
    found = endpoint(redis.target(variable("CHAT_BUS_BACKEND", "redis"),
                                  {"REDIS_HOST": "cache", "REDIS_PORT": " 6380 "}))
    assert (found.host, found.port) == ("cache", 6380)
    assert found.where == "REDIS_HOST/REDIS_PORT"
    assert "REDIS_PORT" in finding(redis.target(variable("CHAT_BUS_BACKEND", "redis"),
                                                {"REDIS_PORT": "63a"})).message
    assert "REDIS_HOST" in finding(redis.target(variable("CHAT_BUS_BACKEND", "redis"),
                                                {"REDIS_HOST": " "})).message


REDIS_CASES = [
    ("pong", None, "pass", "answered PING"),
    ("refused", None, "transient", "refused the connection"),
    ("timeout", None, "transient", "did not answer within"),
    ("unresolved", None, "transient", "does not resolve"),
    ("closed", None, "transient", "closed the connection"),
    ("not_ready", "LOADING", "transient", "not ready (LOADING)"),
    ("tls_untrusted", None, "fail", "not trusted"),
    ("tls_failed", None, "fail", "TLS handshake"),
    ("needs_password", "NOAUTH", "fail", "requires a password"),
    ("wrong_password", "WRONGPASS", "fail", "rejected the `password`"),
    ("no_password_on_server", "ERR", "fail", "has no password set"),
    ("no_such_db", "ERR", "fail", "no database `db`"),
    ("denied", "DENIED", "fail", "protected mode"),
    ("error_reply", "WRONGTYPE", "fail", "answered WRONGTYPE"),
]


@pytest.mark.parametrize(("outcome", "reply", "answer", "text"), REDIS_CASES)
def test_redis_judge(outcome: str, reply: str | None, answer: str, text: str) -> None:
    target = endpoint(redis.target(route("chat_bus", "redis", {"host": "h", "db": 2}), {}))
    result = judge_of("redis")(target, redis_seen.RedisObservation(outcome, "ping", reply, 1.0))
    assert answer_of(result) == answer
    assert text in result.message
    assert "the `host`/`port` of its config" in result.message or outcome == "needs_password"
    assert (result.remediation is not None) or answer != "fail"


def test_redis_judge_says_the_chat_bus_cannot_authenticate() -> None:
    target = endpoint(redis.target(variable("CHAT_BUS_BACKEND", "redis"), {"REDIS_HOST": "c"}))
    seen = redis_seen.RedisObservation("needs_password", "ping", "NOAUTH")
    result = judge_of("redis")(target, seen)
    assert answer_of(result) == "fail"
    assert "connects without one" in result.message


# ------------------------------------------------------------------------------- s3

def test_s3_bucket_from_config_else_raw_bucket() -> None:
    own = endpoint(s3.target(route("object_store", "s3", {"bucket": "own-bucket"}),
                             {"RAW_BUCKET": "raw-bucket"}))
    assert (own.bucket, own.where) == ("own-bucket", "the bucket in `bucket` of its config")
    fallback = endpoint(s3.target(route("object_store", "s3", {"bucket": ""}),
                                  {"RAW_BUCKET": "raw-bucket"}))
    assert (fallback.bucket, fallback.where) == ("raw-bucket", "the bucket in RAW_BUCKET")
    assert own == endpoint(s3.target(route("x", "s3", {}), {"RAW_BUCKET": "own-bucket"}))


def test_s3_findings_name_the_key_not_the_value() -> None:
    none = finding(s3.target(route("object_store", "s3", {}), {}))
    assert "`bucket`" in none.message and "RAW_BUCKET" in none.message
    bad = finding(s3.target(route("object_store", "s3", {"bucket": "s3://Bad_Name"}), {}))
    assert "`bucket`" in bad.message and "Bad_Name" not in bad.message + bad.fix
    assert "`bucket`" in finding(s3.target(route("o", "s3", {"bucket": 7}), {})).message


@pytest.mark.parametrize(("status", "bucket_region", "client_region", "answer", "text"), [
    (200, None, "us-east-1", "pass", "exists and is readable"),
    (200, "eu-west-1", "us-east-1", "pass", "follows S3's redirect"),
    (404, None, "us-east-1", "fail", "does not exist"),
    (403, None, "us-east-1", "fail", "may not read it (403"),
    (301, "eu-west-1", "us-east-1", "fail", "is in region eu-west-1, not us-east-1"),
    (400, None, "us-east-1", "fail", "answered 400"),
])
def test_s3_judge_tells_404_403_and_region_apart(status: int, bucket_region: str | None,
                                                 client_region: str, answer: str,
                                                 text: str) -> None:
    target = endpoint(s3.target(route("object_store", "s3", {"bucket": "b-bucket"}), {}))
    seen = BucketObservation("b-bucket", status, None, bucket_region, client_region, "e")
    result = judge_of("s3")(target, seen)
    assert answer_of(result) == answer
    assert text in result.message
    assert "b-bucket" not in result.message + (result.remediation or "")


def test_s3_judge_without_credentials() -> None:
    target = endpoint(s3.target(route("o", "s3", {"bucket": "b-bucket"}), {}))
    seen = BucketObservation("b-bucket", 0, "NoCredentials", None, None, "e", True)
    assert answer_of(judge_of("s3")(target, seen)) == "fail"


# ------------------------------------------------------------------------------- firestore

@pytest.mark.parametrize(("config", "environ", "project", "where"), [
    ({"project": "own"}, {"GCP_PROJECT_ID": "env"}, "own", "the `project` of its config"),
    ({}, {"GCP_PROJECT_ID": "env", "GCP_PROJECT": "old"}, "env", "GCP_PROJECT_ID"),
    ({"project": None}, {"GCP_PROJECT_ID": "", "GCP_PROJECT": "old"}, "old", "GCP_PROJECT"),
])
def test_firestore_project_as_the_engines_choose_it(config: dict[str, Any],
                                                    environ: dict[str, str], project: str,
                                                    where: str) -> None:
    found = endpoint(firestore.target(route("chat_store", "firestore", config), environ))
    assert found.project == project
    assert where in found.where


def test_firestore_without_any_project_is_a_finding() -> None:
    found = finding(firestore.target(route("chat_store", "firestore", {}), {}))
    assert "`project`" in found.message and "GCP_PROJECT_ID" in found.message


@pytest.mark.parametrize(("error", "answer", "text"), [
    (None, "pass", "answered a read"),
    ("PermissionDenied", "fail", "permission denied"),
    ("Unauthenticated", "fail", "rejected the credentials"),
    ("NotFound", "fail", "no Firestore (default) database"),
    ("FailedPrecondition", "fail", "Datastore-mode"),
    ("InvalidArgument", "fail", "(InvalidArgument)"),
])
def test_firestore_judge(error: str | None, answer: str, text: str) -> None:
    target = endpoint(firestore.target(route("k", "firestore", {"project": "p"}), {}))
    seen = firestore_seen.FirestoreObservation(0 if error is None else None, error)
    result = judge_of("firestore")(target, seen)
    assert answer_of(result) == answer
    assert text in result.message


# ------------------------------------------------------------------------------- dynamodb

@pytest.mark.parametrize(("kind", "table", "schema"), [
    ("firearms_policy_store", "tabular_store", "pk_sk"),
    ("strategy_lock_store", "tabular_store", "pk_sk"),
    ("chat_store", "chat_store", "event_spine"),
    ("event_spine", "event_spine", "event_spine"),
    ("analytics_store", "analytics_store", "pk_sk"),
])
def test_dynamodb_defaults_per_kind(kind: str, table: str, schema: str) -> None:
    found = endpoint(dynamodb.target(route(kind, "dynamodb", {"table_name": None}), {}))
    assert (found.table, found.region, found.schema) == (table, "us-west-2", schema)
    assert f"table {table} (the engines' default) in us-west-2" in found.where


def test_dynamodb_config_and_endpoint_variables() -> None:
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_DYNAMODB":
               "http://127.0.0.1:2"}
    found = endpoint(dynamodb.target(route("notes_store", "dynamodb", {
        "table_name": "own.table-1", "region": "eu-central-1"}), environ))
    assert (found.table, found.region, found.endpoint_url) == ("own.table-1", "eu-central-1",
                                                               "http://127.0.0.1:2")
    assert found.where == "the table in `table_name` of its config in the `region` of its config"
    general = endpoint(dynamodb.target(route("notes_store", "dynamodb", {}),
                                       {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}))
    assert general.endpoint_url == "http://127.0.0.1:1"


@pytest.mark.parametrize(("config", "key"), [
    ({"table_name": "ab"}, "`table_name`"), ({"table_name": "a b c"}, "`table_name`"),
    ({"table_name": 3}, "`table_name`"), ({"region": "us west"}, "`region`"),
    ({"region": ["x"]}, "`region`"),
])
def test_dynamodb_unusable_names(config: dict[str, Any], key: str) -> None:
    assert key in finding(dynamodb.target(route("notes_store", "dynamodb", config), {})).message


PK_SK = {"http_status": 200, "status": "ACTIVE", "key_schema": (("pk", "HASH"), ("sk", "RANGE")),
         "attribute_types": {"pk": "S", "sk": "S"}}
SPINE = {"http_status": 200, "status": "ACTIVE", "key_schema": (("event_id", "HASH"),),
         "attribute_types": {"event_id": "S", "tenant_run_idx": "S"},
         "indexes": {"tenant_run_idx": (("tenant_run_idx", "HASH"),)}}


@pytest.mark.parametrize(("kind", "seen", "answer", "text"), [
    ("notes_store", PK_SK, "pass", "exists with the keys"),
    ("notes_store", {**PK_SK, "status": "UPDATING"}, "pass", "exists"),
    ("notes_store", {**PK_SK, "status": "CREATING"}, "transient", "being created"),
    ("notes_store", {**PK_SK, "status": "DELETING"}, "fail", "is DELETING"),
    ("notes_store", {**PK_SK, "key_schema": (("pk", "HASH"),)}, "fail", "string `pk`"),
    ("notes_store", {**PK_SK, "attribute_types": {"pk": "S", "sk": "N"}}, "fail",
     "sk (RANGE, N)"),
    ("notes_store", {**PK_SK, "key_schema": (("id", "HASH"), ("sk", "RANGE"))}, "fail",
     "id (HASH"),
    ("event_spine", SPINE, "pass", "exists with the keys"),
    ("chat_store", {**SPINE, "indexes": {}}, "fail", "no global secondary index"),
    ("event_spine", {**SPINE, "key_schema": (("pk", "HASH"),)}, "fail",
     "only string keys"),
    ("event_spine", PK_SK, "fail", "only string keys"),
    ("notes_store", {"http_status": 400, "error_code": "ResourceNotFoundException"},
     "fail", "does not exist"),
    ("notes_store", {"http_status": 400, "error_code": "AccessDeniedException"}, "fail",
     "may not describe"),
    ("notes_store", {"http_status": 400, "error_code": "UnrecognizedClientException"},
     "fail", "rejected the credentials"),
    ("notes_store", {"http_status": 0, "no_credentials": True}, "fail", "no AWS"),
    ("notes_store", {"http_status": 418, "error_code": "Teapot"}, "fail", "418 Teapot"),
    ("notes_store", {"http_status": 403, "error_code": "403"}, "fail",
     "AWS refused to describe table tabular_store (the engines' default) in us-west-2 (the "
     "engines' default) (403)"),
])
def test_dynamodb_judge(kind: str, seen: dict[str, Any], answer: str, text: str) -> None:
    target = endpoint(dynamodb.target(route(kind, "dynamodb", {}), {}))
    result = judge_of("dynamodb")(target, dynamodb_seen.TableObservation(**seen))
    assert answer_of(result) == answer, result
    assert text in result.message


def test_dynamodb_same_table_for_two_store_kinds_is_one_probe_judged_per_kind() -> None:
    subjects = [route("chat_store", "dynamodb", {"table_name": "shared"}),
                route("notes_store", "dynamodb", {"table_name": "shared"})]
    planned = plan(subjects, {})
    assert len(planned.endpoints) == 1
    results = {subject.kind: judge_of("dynamodb")(target, dynamodb_seen.TableObservation(**PK_SK))
               for subject, target in planned.probed}
    assert answer_of(results["notes_store"]) == "pass"
    assert answer_of(results["chat_store"]) == "fail"


# ------------------------------------------------------------------------------- gcs

def test_gcs_needs_project_and_bucket() -> None:
    assert "`project`" in finding(gcs.target(route("object_store", "gcs", {"bucket": "b"}),
                                             {})).message
    assert "GCS_BUCKET" in finding(gcs.target(route("object_store", "gcs", {"project": "p"}),
                                              {})).message
    found = endpoint(gcs.target(route("object_store", "gcs", {"project": "p"}),
                                {"GCS_BUCKET": "env-bucket"}))
    assert (found.bucket, found.api_root, found.emulator) == (
        "env-bucket", "https://storage.googleapis.com", False)
    emulated = endpoint(gcs.target(route("o", "gcs", {"project": "p", "bucket": "b"}),
                                   {"STORAGE_EMULATOR_HOST": "http://127.0.0.1:9/"}))
    assert (emulated.api_root, emulated.emulator) == ("http://127.0.0.1:9", True)


@pytest.mark.parametrize(("seen", "answer", "text"), [
    (HttpObservation(200), "pass", "can be listed"),
    (HttpObservation(404, "notFound"), "fail", "does not exist"),
    (HttpObservation(403, "forbidden"), "fail", "may not list"),
    (HttpObservation(401), "fail", "rejected the credentials"),
    (HttpObservation(400, "invalid"), "fail", "refused the name"),
    (HttpObservation(503), "transient", "answered 503"),
    (HttpObservation(429), "transient", "answered 429"),
    (HttpObservation(0, transport_error="ConnectionError"), "transient", "no answer"),
    (HttpObservation(0, no_credentials=True), "fail", "no Google credentials"),
    (HttpObservation(0, credentials_refused=True), "fail", "refused the credentials"),
    (HttpObservation(418), "fail", "answered 418"),
])
def test_gcs_judge(seen: HttpObservation, answer: str, text: str) -> None:
    target = endpoint(gcs.target(route("o", "gcs", {"project": "p", "bucket": "b"}), {}))
    result = judge_of("gcs")(target, seen)
    assert answer_of(result) == answer
    assert text in result.message


# ------------------------------------------------------------------------------- azure blob

def test_azure_blob_connection_string_and_container() -> None:
    own = endpoint(azure_blob.target(route("object_store", "azure_blob", {
        "connection_string": "cs1", "container": "media"}), {"AZURE_STORAGE_CONNECTION_STRING":
                                                             "cs2"}))
    assert (own.connection_string, own.container) == ("cs1", "media")
    assert own.where == ("the container in `container` of its config of the account in "
                         "`connection_string` of its config")
    fallback = endpoint(azure_blob.target(route("object_store", "azure_blob", {}),
                                          {"AZURE_STORAGE_CONNECTION_STRING": "cs2"}))
    assert (fallback.connection_string, fallback.container) == ("cs2", "raw-objects")
    assert "raw-objects (the engines' default)" in fallback.where
    assert "AZURE_STORAGE_CONNECTION_STRING" in fallback.where
    assert "AZURE_STORAGE_CONNECTION_STRING" in finding(azure_blob.target(
        route("object_store", "azure_blob", {}), {})).message
    assert "`container`" in finding(azure_blob.target(route("object_store", "azure_blob", {
        "connection_string": "cs", "container": None}), {})).message


@pytest.mark.parametrize(("seen", "answer", "text"), [
    (azure_blob_seen.ContainerObservation(200), "pass", "exists"),
    (azure_blob_seen.ContainerObservation(404, "ContainerNotFound"), "fail",
     "does not exist (ContainerNotFound)"),
    (azure_blob_seen.ContainerObservation(403, "AuthenticationFailed"), "fail",
     "rejected the key or SAS"),
    (azure_blob_seen.ContainerObservation(403, "AuthorizationPermissionMismatch"), "fail",
     "may not read it"),
    (azure_blob_seen.ContainerObservation(0, malformed=True), "fail", "not one the Azure"),
    (azure_blob_seen.ContainerObservation(0, transport_error="ServiceRequestError"),
     "transient", "no answer"),
    (azure_blob_seen.ContainerObservation(503, "ServerBusy"), "transient", "answered 503"),
    (azure_blob_seen.ContainerObservation(409, "Odd"), "fail", "answered 409 Odd"),
])
def test_azure_blob_judge(seen: azure_blob_seen.ContainerObservation, answer: str,
                          text: str) -> None:
    target = endpoint(azure_blob.target(route("o", "azure_blob", {"connection_string": "c"}),
                                        {}))
    result = judge_of("azure_blob")(target, seen)
    assert answer_of(result) == answer
    assert text in result.message


# ------------------------------------------------------------------------------- cosmos

ACCOUNT = {"AZURE_COSMOSDB_ENDPOINT": "https://env.documents.azure.com:443/",
           "AZURE_COSMOSDB_KEY": COSMOS_KEY}


@pytest.mark.parametrize(("kind", "database", "container"), [
    ("notes_store", "tabular_store", None), ("analytics_store", "analytics_store", "analytics"),
    ("chat_store", "chat_store", "events"), ("event_spine", "event_spine", "events"),
])
def test_cosmos_defaults_per_kind(kind: str, database: str, container: str | None) -> None:
    config = {"endpoint": "https://own.documents.azure.com/", "key": COSMOS_KEY}
    found = endpoint(cosmos.target(route(kind, "cosmos", config), {}))
    assert (found.url, found.database, found.container) == (
        "https://own.documents.azure.com", database, container)


def test_cosmos_tabular_takes_both_variables_when_the_config_lacks_one() -> None:
    found = endpoint(cosmos.target(route("notes_store", "cosmos", {
        "endpoint": "https://own.documents.azure.com/"}), ACCOUNT))
    assert found.url == "https://env.documents.azure.com:443"
    assert "AZURE_COSMOSDB_ENDPOINT/AZURE_COSMOSDB_KEY" in found.where


def test_cosmos_event_spine_reads_no_variable() -> None:
    found = finding(cosmos.target(route("event_spine", "cosmos", {}), ACCOUNT))
    assert "`endpoint`" in found.message and "no variable" in found.message


@pytest.mark.parametrize(("config", "text"), [
    ({"endpoint": "own.documents.azure.com", "key": COSMOS_KEY}, "not an https:// URL"),
    ({"endpoint": "https://own.documents.azure.com", "key": "not base64!"}, "not a base64 key"),
    ({"endpoint": "https://own.documents.azure.com", "key": COSMOS_KEY, "database": ""},
     "`database`"),
])
def test_cosmos_unusable_config(config: dict[str, Any], text: str) -> None:
    assert text in finding(cosmos.target(route("notes_store", "cosmos", config), {})).message


def test_cosmos_without_account_is_a_finding() -> None:
    assert "AZURE_COSMOSDB_ENDPOINT" in finding(
        cosmos.target(route("notes_store", "cosmos", {}), {})).message


@pytest.mark.parametrize(("seen", "answer", "text"), [
    (cosmos_seen.CosmosObservation(HttpObservation(200), HttpObservation(200)), "pass",
     "it exists"),
    (cosmos_seen.CosmosObservation(HttpObservation(404, "NotFound")), "fail",
     "the database does not exist"),
    (cosmos_seen.CosmosObservation(HttpObservation(200), HttpObservation(404, "NotFound")),
     "fail", "the container events does not exist"),
    (cosmos_seen.CosmosObservation(HttpObservation(401, "Unauthorized")), "fail",
     "rejected the credentials"),
    (cosmos_seen.CosmosObservation(HttpObservation(403, "Forbidden")), "fail", "forbidden"),
    (cosmos_seen.CosmosObservation(HttpObservation(429)), "transient", "answered 429"),
    (cosmos_seen.CosmosObservation(HttpObservation(0, transport_error="ConnectTimeout")),
     "transient", "no answer"),
])
def test_cosmos_judge(seen: cosmos_seen.CosmosObservation, answer: str, text: str) -> None:
    target = endpoint(cosmos.target(route("chat_store", "cosmos", {
        "endpoint": "https://own.documents.azure.com", "key": COSMOS_KEY}), {}))
    result = judge_of("cosmos")(target, seen)
    assert answer_of(result) == answer
    assert text in result.message


# ------------------------------------------------------------------------------- bigquery

def test_bigquery_defaults_and_variables() -> None:
    found = endpoint(bigquery.target(variable("NEXUS_BACKEND", "bigquery"), {}))
    assert (found.project, found.dataset, found.table, found.emulator) == (
        None, "nexus_events", "dataset_events", False)
    assert "the credentials' project" in found.where
    named = endpoint(bigquery.target(variable("NEXUS_BACKEND", "bigquery"), {
        "NEXUS_BQ_DATASET": "d", "NEXUS_BQ_TABLE": "t", "GCLOUD_PROJECT": "p",
        "GCP_PROJECT_ID": "not-this-one", "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9"}))
    assert (named.project, named.dataset, named.table, named.api_root) == (
        "p", "d", "t", "http://127.0.0.1:9")
    assert named.where == "table in NEXUS_BQ_TABLE of dataset in NEXUS_BQ_DATASET in GCLOUD_PROJECT"


@pytest.mark.parametrize(("seen", "answer", "text"), [
    (bigquery_seen.TableObservation(HttpObservation(200)), "pass", "exists"),
    (bigquery_seen.TableObservation(HttpObservation(404), HttpObservation(200)), "fail",
     "does not exist (its dataset does)"),
    (bigquery_seen.TableObservation(HttpObservation(404), HttpObservation(404)), "fail",
     "the dataset of the"),
    (bigquery_seen.TableObservation(HttpObservation(404), HttpObservation(503)), "transient",
     "answered 503"),
    (bigquery_seen.TableObservation(HttpObservation(403, "accessDenied")), "fail",
     "may not read"),
    (bigquery_seen.TableObservation(HttpObservation(0), no_project=True), "fail",
     "GOOGLE_CLOUD_PROJECT"),
    (bigquery_seen.TableObservation(HttpObservation(0, no_credentials=True)), "fail",
     "no Google credentials"),
    (bigquery_seen.TableObservation(HttpObservation(500)), "transient", "answered 500"),
])
def test_bigquery_judge(seen: bigquery_seen.TableObservation, answer: str, text: str) -> None:
    target = endpoint(bigquery.target(variable("NEXUS_BACKEND", "bigquery"), {}))
    result = judge_of("bigquery")(target, seen)
    assert answer_of(result) == answer
    assert text in result.message


# ------------------------------------------------------------------------------- planning

def test_one_probe_per_distinct_endpoint() -> None:
    kinds = [f"kind_{i}" for i in range(17)]
    subjects = [route(kind, "firestore", {}) for kind in kinds]
    subjects += [route("chat_bus", "redis", {"host": "h", "port": 1}),
                 route("chat_bus", "redis", {"host": "h", "port": "1"}, name="other"),
                 route("chat_bus", "redis", {"host": "h", "port": 1, "password": "p"},
                       name="third"),
                 variable("CHAT_BUS_BACKEND", "redis"),
                 route("budget", "filesystem", {"root": "/x"})]
    planned = plan(subjects, {"GCP_PROJECT_ID": "p", "REDIS_HOST": "h", "REDIS_PORT": "1"})
    assert len(planned.probed) == 21
    assert [e.backend for e in planned.endpoints] == ["firestore", "redis", "redis"]
    assert [(s.backend, why) for s, why in planned.not_probed] == [
        ("filesystem", "no probe for filesystem")]


def test_a_variable_without_an_endpoint_is_left_to_env_backends() -> None:
    """REDIS_PORT=six is env.backends' finding (with the profile's severity), not a probe's."""
    planned = plan([variable("CHAT_BUS_BACKEND", "redis")], {"REDIS_PORT": "six"})
    assert (planned.probed, planned.unbuildable) == ([], [])
    ((subject, why),) = planned.not_probed
    assert (subject.kind, why) == ("CHAT_BUS_BACKEND",
                                   "REDIS_PORT is not a port number (see env.backends)")
    route_subject = route("chat_bus", "redis", {"host": "h", "port": "six"})
    assert [f.message for _, f in plan([route_subject], {}).unbuildable] == [
        "`port` in its config is not a port number"]


def test_every_backend_has_a_target_an_observer_and_a_judge() -> None:
    for name in BACKENDS:
        assert callable(target_of(name)) and callable(judge_of(name))
        assert callable(observer_of(name))
    assert target_of("filesystem") is None


def test_unanswered_and_crashed_probes_are_described_by_class_only() -> None:
    target = endpoint(redis.target(route("chat_bus", "redis", {"host": "h"}), {}))
    hung = judge_one(target, NO_ANSWER, 1.5)
    assert answer_of(hung) == "transient" and "within 1.5s" in hung.message
    secret = "CANARY-in-an-exception"
    refused = judge_one(target, ConnectionRefusedError(f"at {secret}"), 1.0)
    assert answer_of(refused) == "transient" and "ConnectionRefusedError" in refused.message
    crashed = judge_one(target, KeyError(secret), 1.0)
    assert answer_of(crashed) == "fail" and "KeyError" in crashed.message
    for result in (hung, refused, crashed):
        assert secret not in result.message + (result.remediation or "")


# ------------------------------------------------------------------------------- canaries

def _canary(label: str) -> str:
    return f"canary{label}{secrets.token_hex(6)}"


def _sweep_cases() -> list[tuple[str, ProbeSubject, dict[str, str], list[Any]]]:
    """Per backend: a subject and environment with canaries everywhere, and observations."""
    key = COSMOS_KEY[:-8] + secrets.token_hex(2) + "AAA=="[-4:]
    http = [HttpObservation(s, r) for s, r in ((200, None), (404, "notFound"), (403, None),
                                                (401, None), (503, None), (418, None))]
    http += [HttpObservation(0, transport_error="ConnectionError"),
             HttpObservation(0, no_credentials=True)]
    config_everything = {name: _canary(name) for name in (
        "host", "password", "username", "bucket", "project", "table_name", "connection_string",
        "container", "endpoint", "key", "database", "url", "token")}
    env_everything = {name: _canary(name) for name in (
        "RAW_BUCKET", "GCS_BUCKET", "GCP_PROJECT_ID", "GCP_PROJECT", "REDIS_HOST",
        "AZURE_STORAGE_CONNECTION_STRING", "AZURE_COSMOSDB_ENDPOINT", "AZURE_COSMOSDB_KEY",
        "NEXUS_BQ_DATASET", "NEXUS_BQ_TABLE", "GOOGLE_CLOUD_PROJECT", "BIGQUERY_EMULATOR_HOST",
        "STORAGE_EMULATOR_HOST", "AWS_ENDPOINT_URL_DYNAMODB")}
    env_everything["REDIS_PORT"] = "6390"
    return [
        ("redis", route("chat_bus", "redis", {**config_everything, "port": 6390, "db": 1}),
         env_everything, [redis_seen.RedisObservation(o, "auth", r) for o, r, _, _ in REDIS_CASES]),
        ("redis", variable("CHAT_BUS_BACKEND", "redis"), env_everything,
         [redis_seen.RedisObservation(o, "ping", r) for o, r, _, _ in REDIS_CASES]),
        ("s3", route("object_store", "s3", {**config_everything, "bucket": "canary-"
                                            + secrets.token_hex(6)}), env_everything,
         [BucketObservation("b", s, c, r, "us-east-1", "e") for s, c, r in (
             (200, None, None), (404, "NoSuchBucket", None), (403, "AccessDenied", None),
             (301, "PermanentRedirect", "eu-west-1"), (500, "InternalError", None))]),
        ("firestore", route("chat_store", "firestore", config_everything), env_everything,
         [firestore_seen.FirestoreObservation(None, e) for e in (
             "PermissionDenied", "NotFound", "Unauthenticated", "InvalidArgument")]),
        ("dynamodb", route("chat_store", "dynamodb", {**config_everything, "region":
                                                      "canary" + secrets.token_hex(4)}),
         env_everything, [Table(**PK_SK), Table(**SPINE),
                          Table(400, error_code="ResourceNotFoundException"),
                          Table(400, error_code="AccessDeniedException")]),
        ("gcs", route("object_store", "gcs", config_everything), env_everything, http),
        ("azure_blob", route("object_store", "azure_blob", config_everything), env_everything,
         [azure_blob_seen.ContainerObservation(s, c) for s, c in (
             (200, None), (404, "ContainerNotFound"), (403, "AuthenticationFailed"),
             (503, "ServerBusy"))] + [azure_blob_seen.ContainerObservation(0, malformed=True)]),
        ("cosmos", route("chat_store", "cosmos", {**config_everything, "key": key,
                                                  "endpoint": "https://" + _canary("h")}),
         env_everything, [cosmos_seen.CosmosObservation(h, HttpObservation(404)) for h in http]
         + [cosmos_seen.CosmosObservation(HttpObservation(200), h) for h in http]),
        ("bigquery", variable("NEXUS_BACKEND", "bigquery"), env_everything,
         [bigquery_seen.TableObservation(h, HttpObservation(404)) for h in http]
         + [bigquery_seen.TableObservation(HttpObservation(0), no_project=True)]),
    ]


@pytest.mark.parametrize("case", _sweep_cases(), ids=lambda c: f"{c[0]}-{c[1].kind}")
def test_no_config_or_variable_value_reaches_a_message_fix_or_repr(
        case: tuple[str, ProbeSubject, dict[str, str], list[Any]]) -> None:
    name, subject, environ, observations = case
    secrets_planted = [v for v in [*subject.config.values(), *environ.values()]
                       if isinstance(v, str) and len(v) > 5]
    target = target_of(name)
    assert target is not None
    found = target(subject, environ)
    assert isinstance(found, Endpoint), found
    texts = [repr(found), found.where, repr(subject)]
    for seen in observations:
        result = judge_of(name)(found, seen)
        texts += [result.message, result.remediation or ""]
    for crash in (NO_ANSWER, ConnectionRefusedError(secrets_planted[0]),
                  ValueError(secrets_planted[0])):
        result = judge_one(found, crash, 1.0)
        texts += [result.message, result.remediation or ""]
    joined = "\n".join(texts)
    leaked = [secret for secret in secrets_planted if secret in joined]
    assert not leaked, f"{leaked} in:\n{joined}"


def test_findings_carry_no_values() -> None:
    planted = _canary("value")
    cases: list[tuple[Callable[..., Any], dict[str, Any], Mapping[str, str]]] = [
        (redis.target, {"host": planted, "port": planted}, {}),
        (redis.target, {"host": planted, "db": planted}, {}),
        (s3.target, {"bucket": planted.upper()}, {}),
        (dynamodb.target, {"table_name": planted + " x"}, {}),
        (dynamodb.target, {"region": planted + " x"}, {}),
        (cosmos.target, {"endpoint": planted, "key": planted}, {}),
        (cosmos.target, {"endpoint": "https://" + planted, "key": planted + "!"}, {}),
        (azure_blob.target, {"connection_string": planted, "container": ""}, {}),
    ]
    for target, config, environ in cases:
        found = finding(target(route("notes_store", "x", config), environ))
        assert planted not in found.message + found.fix
        assert planted.upper() not in found.message + found.fix
