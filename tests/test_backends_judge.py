"""The pure half of the deep probes: what the engines would build, and what an answer means.

No server here: `target` (the profile's config keys, groups, stand-in variables and
defaults) and `judge` (pass / fail with a fix; the one transient policy in `judge_one`)
are tested exhaustively as functions, and a canary sweep proves that no config or variable
value reaches any message, fix or repr.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Required, TypedDict

import pytest

from preflight.contract.profile import load
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
    resolve,
    s3,
    target_of,
)
from preflight.core.result import Outcome
from preflight.judge import aws as aws_judge
from preflight.judge.backends import answer as answer_of
from preflight.judge.reachable import judge_library, judge_one, plan
from preflight.observe import azure_blob as azure_blob_seen
from preflight.observe import bigquery as bigquery_seen
from preflight.observe import cosmos as cosmos_seen
from preflight.observe import dynamodb as dynamodb_seen
from preflight.observe import firestore as firestore_seen
from preflight.observe import redis as redis_seen
from preflight.observe.aws import Identity, Refusal
from preflight.observe.dynamodb import TableObservation as Table
from preflight.observe.errors import Refused, Transient
from preflight.observe.google_api import ApiAnswer
from preflight.observe.interpreter import ImportsObservation
from preflight.observe.probing import NO_ANSWER, observer_of
from preflight.observe.s3 import BucketObservation
from tests.probing import route, usable_everywhere, variable

COSMOS_KEY = ("dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/"
              "t4bQtVNw==")
USABLE = usable_everywhere()


def judge(backend: str, target: Endpoint, seen: Any) -> Outcome:
    found: Outcome = importlib.import_module(f"preflight.judge.backends.{backend}").judge(
        target, seen)
    return found


def endpoint(found: Endpoint | Unbuildable) -> Any:
    assert isinstance(found, Endpoint), found
    return found


def finding(found: Endpoint | Unbuildable) -> Unbuildable:
    assert isinstance(found, Unbuildable), found
    return found


# ------------------------------------------------------------------------------- the profile

def test_config_keys_as_the_profile_says_the_engines_read_them() -> None:
    spec = load().kinds["chat_store"].backends["dynamodb"]  # type: ignore[index]
    absent = resolve(spec, {}, {})
    assert isinstance(absent, dict)
    assert (absent["table_name"].value, absent["table_name"].source) == (
        "chat_store", "the engines' default")
    empty = resolve(spec, {"table_name": ""}, {})  # the engines: `table or "event_spine"`
    assert isinstance(empty, dict)
    assert empty["table_name"].value == "event_spine"
    assert empty["table_name"].source == "the engines' default for an empty `table_name`"
    own = resolve(spec, {"table_name": "t", "region": "eu-west-1"}, {})
    assert isinstance(own, dict)
    assert [own[k].source for k in ("table_name", "region")] == [
        "`table_name` of its config", "`region` of its config"]


@pytest.mark.parametrize("falsy", [0, False, {}])
def test_a_falsy_config_value_is_absent_to_the_engines(falsy: Any) -> None:
    """The engines read `config.get(key) or fallback`: 0 and False fall back, as "" does."""
    bucket = endpoint(s3.target(route("object_store", "s3", {"bucket": falsy}),
                                {"RAW_BUCKET": "raw-bucket"}))
    assert (bucket.bucket, bucket.where) == ("raw-bucket", "the bucket in RAW_BUCKET")
    table = endpoint(dynamodb.target(route("notes_store", "dynamodb", {"region": falsy}), {}))
    assert table.region == "us-west-2"


def test_a_table_name_botocore_refuses_before_the_network() -> None:
    found = finding(dynamodb.target(route("notes_store", "dynamodb", {"table_name": "t"}), {}))
    assert "not a DynamoDB table name" in found.message and "`table_name`" in found.fix


@pytest.mark.parametrize(("config", "environ", "source"), [
    ({"endpoint": "https://a/", "key": COSMOS_KEY}, {}, "`endpoint`/`key` of its config"),
    ({"endpoint": "https://a/"}, {"AZURE_COSMOSDB_ENDPOINT": "https://b/",
                                  "AZURE_COSMOSDB_KEY": COSMOS_KEY},
     "AZURE_COSMOSDB_ENDPOINT/AZURE_COSMOSDB_KEY"),
    ({"key": ""}, {"AZURE_COSMOSDB_ENDPOINT": "https://b/", "AZURE_COSMOSDB_KEY": COSMOS_KEY},
     "AZURE_COSMOSDB_ENDPOINT/AZURE_COSMOSDB_KEY"),
])
def test_a_group_comes_from_one_place(config: dict[str, Any], environ: dict[str, str],
                                      source: str) -> None:
    """docs/ENGINES.md §5.4: the route's endpoint and key together, or both variables."""
    found = endpoint(cosmos.target(route("notes_store", "cosmos", config), environ))
    assert source in found.where
    assert found.url == (config["endpoint"] if "config" in source else "https://b/")


@pytest.mark.parametrize("environ", [{}, {"AZURE_COSMOSDB_KEY": COSMOS_KEY},
                                     {"AZURE_COSMOSDB_ENDPOINT": "https://b/"}])
def test_a_group_half_in_each_place_is_a_finding(environ: dict[str, str]) -> None:
    """The false pass of issue 21: `endpoint` in the config, only the key in a variable."""
    found = finding(cosmos.target(route("notes_store", "cosmos", {"endpoint": "https://a/"}),
                                  environ))
    assert "AZURE_COSMOSDB_ENDPOINT/AZURE_COSMOSDB_KEY are not both set" in found.message
    assert "`endpoint`/`key`" in found.message


def test_a_kind_without_a_spec_has_no_defaults() -> None:
    """Defaults come from the profile only: a kind that declares no backends gets none."""
    found = finding(dynamodb.target(ProbeSubject("nothing_declared", "o", "dynamodb"), {}))
    assert "`table_name`" in found.message


# ------------------------------------------------------------------------------- redis

def test_redis_route_config_with_library_defaults() -> None:
    found = endpoint(redis.target(route("chat_bus", "redis", {"host": "h1"}), {}))
    assert (found.host, found.port, found.db, found.password, found.tls) == ("h1", None, 0,
                                                                              None, False)
    assert found.where == "the `host`/`port` of its config"


@pytest.mark.parametrize(("config", "expected"), [
    ({"host": "h", "port": "6380"}, (6380, 0, False)),
    ({"host": "h", "port": 6390, "db": "3"}, (6390, 3, False)),
    ({"host": "h", "port": None, "db": None, "ssl": "true"}, (None, 0, True)),
    ({"host": "h", "tls": True}, (None, 0, True)),
    ({"host": "h", "ssl": False, "tls": "yes"}, (None, 0, True)),
])
def test_redis_route_config_values(config: dict[str, Any],
                                   expected: tuple[int | None, int, bool]) -> None:
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


def test_redis_chat_bus_variable_uses_the_profiles_defaults() -> None:
    found = endpoint(redis.target(variable("CHAT_BUS_BACKEND", "redis"), {}))
    rules = load().backend_variables
    assert (found.host, found.port, found.db, found.password, found.tls) == (
        rules["REDIS_HOST"].default, int(str(rules["REDIS_PORT"].default)), 0, None, False)
    assert found.where == (f"{found.host}:{found.port} (REDIS_HOST/REDIS_PORT are unset)")
    assert found.from_env


def test_redis_chat_bus_variable_reads_host_and_port_as_the_engines_do() -> None:
    found = endpoint(redis.target(variable("CHAT_BUS_BACKEND", "redis"),
                                  {"REDIS_HOST": "cache", "REDIS_PORT": " 6380 "}))
    assert (found.host, found.port) == ("cache", 6380)
    assert found.where == "REDIS_HOST/REDIS_PORT"
    assert "REDIS_PORT" in finding(redis.target(variable("CHAT_BUS_BACKEND", "redis"),
                                                {"REDIS_PORT": "63a"})).message
    # An empty REDIS_HOST is used as it is (the profile's rule): redis-py resolves it.
    assert endpoint(redis.target(variable("CHAT_BUS_BACKEND", "redis"),
                                 {"REDIS_HOST": ""})).host == ""


REDIS_CASES = [
    ("pong", None, "pass", "answered PING"),
    ("tls_untrusted", None, "fail", "not trusted"),
    ("tls_failed", None, "fail", "TLS handshake"),
    ("needs_password", None, "fail", "requires a password"),
    ("wrong_password", None, "fail", "rejected the `password`"),
    ("no_password_on_server", None, "fail", "has no password set"),
    ("no_such_db", "ERR", "fail", "no database `db`"),
    ("denied", "DENIED", "fail", "protected mode"),
    ("error_reply", "NOPERM", "fail", "answered NOPERM"),
]


@pytest.mark.parametrize(("outcome", "reply", "answer", "text"), REDIS_CASES)
def test_redis_judge(outcome: str, reply: str | None, answer: str, text: str) -> None:
    target = endpoint(redis.target(route("chat_bus", "redis", {"host": "h", "db": 2}), {}))
    result = judge("redis", target, redis_seen.RedisObservation(outcome, reply))
    assert answer_of(result) == answer
    assert text in result.message
    assert "the `host`/`port` of its config" in result.message or outcome == "needs_password"
    assert (result.remediation is not None) or answer != "fail"


def test_redis_judge_says_the_engines_client_cannot_authenticate() -> None:
    target = endpoint(redis.target(variable("CHAT_BUS_BACKEND", "redis"), {"REDIS_HOST": "c"}))
    result = judge("redis", target, redis_seen.RedisObservation("needs_password"))
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
    assert own == endpoint(s3.target(route("object_store", "s3", {}),
                                     {"RAW_BUCKET": "own-bucket"}))


def test_s3_findings_name_the_key_not_the_value() -> None:
    none = finding(s3.target(route("object_store", "s3", {}), {}))
    assert "`bucket`" in none.message and "RAW_BUCKET" in none.message
    bad = finding(s3.target(route("object_store", "s3", {"bucket": "s3://Bad_Name"}), {}))
    assert "`bucket`" in bad.message and "Bad_Name" not in bad.message + bad.fix
    assert "`bucket`" in finding(s3.target(route("object_store", "s3", {"bucket": 7}),
                                           {})).message


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
    result = judge("s3", target, seen)
    assert answer_of(result) == answer
    assert text in result.message
    assert "b-bucket" not in result.message + (result.remediation or "")


CHAIN_FAILURES = [
    Identity(source=None, endpoint="", no_credentials=True),
    Identity(source="custom-process", endpoint="", refusal=Refusal(
        "CredentialProcessFailed", "credential_process", "exited 3")),
    Identity(source="container-role", endpoint="", refusal=Refusal(
        "ContainerEndpointRefused", "container credentials endpoint", "non 200 response 403",
        403)),
]


@pytest.mark.parametrize("backend", ["s3", "dynamodb"])
@pytest.mark.parametrize("chain", CHAIN_FAILURES)
def test_aws_probes_judge_a_failed_credential_chain_as_aws_credentials_does(
        backend: str, chain: Identity) -> None:
    """Issue 19, items 5 and 6: a credential helper's failure is a credentials finding with
    aws.credentials' own message and fix — never a bug in the probe, never a permission."""
    subject = route("object_store", "s3", {"bucket": "b-bucket"}) if backend == "s3" \
        else route("notes_store", "dynamodb", {})
    result = judge(backend, endpoint(target_of(backend)(subject, {})), chain)  # type: ignore[misc]
    expected = aws_judge.judge(chain)
    assert (result.status, result.message, result.remediation) == (
        expected.status, expected.message, expected.remediation)
    assert "bug" not in result.message and "allow" not in (result.remediation or "")


# ------------------------------------------------------------------------------- firestore

@pytest.mark.parametrize(("kind", "config", "environ", "project", "where"), [
    ("chat_store", {"project": "own"}, {"GCP_PROJECT_ID": "env"}, "own",
     "the `project` of its config"),
    ("chat_store", {}, {"GCP_PROJECT_ID": "env", "GCP_PROJECT": "old"}, "env", "GCP_PROJECT_ID"),
    ("chat_store", {"project": None}, {"GCP_PROJECT_ID": "", "GCP_PROJECT": "old"}, "old",
     "GCP_PROJECT"),
    # The timeline ignores its route's config: the project comes from the environment.
    ("event_stream", {"project": "own"}, {"GCP_PROJECT_ID": "env"}, "env", "GCP_PROJECT_ID"),
])
def test_firestore_project_as_the_engines_choose_it(kind: str, config: dict[str, Any],
                                                    environ: dict[str, str], project: str,
                                                    where: str) -> None:
    found = endpoint(firestore.target(route(kind, "firestore", config), environ))
    assert found.project == project
    assert where in found.where


def test_firestore_without_any_project_is_a_finding() -> None:
    found = finding(firestore.target(route("chat_store", "firestore", {}), {}))
    assert found.message == ("no `project` in its config, and neither GCP_PROJECT_ID nor "
                             "GCP_PROJECT is set")
    assert "GCP_PROJECT_ID" in finding(firestore.target(route("event_stream", "firestore", {}),
                                                        {})).message


@pytest.mark.parametrize(("error", "answer", "text"), [
    (None, "pass", "answered a read"),
    ("PermissionDenied", "fail", "permission denied"),
    ("Unauthenticated", "fail", "rejected the credentials"),
    ("NotFound", "fail", "no default Firestore database"),
    ("FailedPrecondition", "fail", "Datastore-mode"),
    ("InvalidArgument", "fail", "(InvalidArgument)"),
])
def test_firestore_judge(error: str | None, answer: str, text: str) -> None:
    target = endpoint(firestore.target(route("chat_store", "firestore", {"project": "p"}), {}))
    seen = firestore_seen.FirestoreObservation(0 if error is None else None, error)
    result = judge("firestore", target, seen)
    assert answer_of(result) == answer
    assert text in result.message


# ------------------------------------------------------------------------------- dynamodb

@pytest.mark.parametrize(("kind", "config", "table", "phrase"), [
    ("firearms_policy_store", {}, "tabular_store", "the engines' default"),
    ("strategy_lock_store", {"table_name": None}, "tabular_store", "the engines' default for"),
    ("chat_store", {}, "chat_store", "the engines' default"),
    ("chat_store", {"table_name": ""}, "event_spine", "the engines' default for an empty"),
    ("event_spine", {}, "event_spine", "the engines' default"),
])
def test_dynamodb_defaults_per_kind(kind: str, config: dict[str, Any], table: str,
                                    phrase: str) -> None:
    found = endpoint(dynamodb.target(route(kind, "dynamodb", config), {}))
    assert (found.table, found.region) == (table, "us-west-2")
    assert f"table {table} ({phrase}" in found.where
    assert found.where.endswith("in us-west-2 (the engines' default)")


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


class TableFields(TypedDict, total=False):  # Table's fields, for Table(**fields)
    http_status: Required[int]
    status: str | None
    key_schema: tuple[tuple[str, str], ...]
    attribute_types: Mapping[str, str]
    indexes: Mapping[str, tuple[tuple[str, str], ...]]


PK_SK: TableFields = {
    "http_status": 200, "status": "ACTIVE", "key_schema": (("pk", "HASH"), ("sk", "RANGE")),
    "attribute_types": {"pk": "S", "sk": "S"}}
SPINE: TableFields = {
    "http_status": 200, "status": "ACTIVE", "key_schema": (("event_id", "HASH"),),
    "attribute_types": {"event_id": "S", "tenant_run_idx": "S"},
    "indexes": {"tenant_run_idx": (("tenant_run_idx", "HASH"),)}}


@pytest.mark.parametrize(("kind", "seen", "answer", "text"), [
    ("notes_store", PK_SK, "pass", "exists with the keys"),
    ("notes_store", {**PK_SK, "status": "UPDATING"}, "pass", "exists"),
    ("notes_store", {**PK_SK, "status": "CREATING"}, "transient", "being created"),
    ("notes_store", {**PK_SK, "status": "DELETING"}, "fail", "is DELETING"),
    ("notes_store", {**PK_SK, "key_schema": (("pk", "HASH"),)}, "fail",
     "the engines write `pk` (HASH, S) and `sk` (RANGE, S)"),
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
    ("notes_store", {"http_status": 418, "error_code": "Teapot"}, "fail", "418 Teapot"),
    ("notes_store", {"http_status": 403, "error_code": "403"}, "fail",
     "AWS refused to describe table tabular_store (the engines' default) in us-west-2 (the "
     "engines' default) (403)"),
])
def test_dynamodb_judge(kind: str, seen: dict[str, Any], answer: str, text: str) -> None:
    target = endpoint(dynamodb.target(route(kind, "dynamodb", {}), {}))
    result = judge("dynamodb", target, dynamodb_seen.TableObservation(**seen))
    assert answer_of(result) == answer, result
    assert text in result.message


def test_dynamodb_unknown_key_gets_aws_credentials_fix() -> None:
    target = endpoint(dynamodb.target(route("notes_store", "dynamodb", {}), {}))
    result = judge("dynamodb", target, Table(400, error_code="UnrecognizedClientException",
                                              credentials_source="env"))
    assert result.remediation == aws_judge.credentials_fix("UnrecognizedClientException", "env")
    assert "AWS_ACCESS_KEY_ID" in (result.remediation or "")


def test_dynamodb_same_table_for_two_store_kinds_is_one_probe_judged_per_kind() -> None:
    subjects = [route("chat_store", "dynamodb", {"table_name": "shared"}),
                route("notes_store", "dynamodb", {"table_name": "shared"})]
    planned = plan(subjects, {})
    assert len(planned.endpoints) == 1
    results = {subject.kind: judge("dynamodb", target, Table(**PK_SK))
               for subject, target in planned.probed}
    assert answer_of(results["notes_store"]) == "pass"
    assert answer_of(results["chat_store"]) == "fail"


# ------------------------------------------------------------------------------- gcs

def test_gcs_needs_project_and_bucket() -> None:
    def target(config: dict[str, Any], environ: dict[str, str]) -> Endpoint | Unbuildable:
        return gcs.target(route("object_store", "gcs", config, profile=USABLE), environ)

    assert "`project`" in finding(target({"bucket": "b"}, {})).message
    assert "GCS_BUCKET" in finding(target({"project": "p"}, {})).message
    found = endpoint(target({"project": "p"}, {"GCS_BUCKET": "env-bucket"}))
    assert (found.project, found.bucket) == ("p", "env-bucket")


GOOGLE_CASES = [
    (ApiAnswer(200), "pass", ""),
    (ApiAnswer(404, "notFound"), "fail", "does not exist"),
    (ApiAnswer(401), "fail", "rejected the credentials"),
    (ApiAnswer(0, no_credentials=True), "fail", "no Google credentials"),
    (ApiAnswer(0, credentials_refused=True), "fail", "refused the credentials"),
    (ApiAnswer(418), "fail", "answered 418"),
]


@pytest.mark.parametrize(("seen", "answer", "text"), [
    *GOOGLE_CASES,
    (ApiAnswer(200), "pass", "can be listed"),
    (ApiAnswer(403, "forbidden"), "fail", "may not list the objects of the bucket in `bucket` "
     "of its config (403, forbidden)"),
    (ApiAnswer(400, "invalid"), "fail", "refused the name"),
])
def test_gcs_judge(seen: ApiAnswer, answer: str, text: str) -> None:
    target = endpoint(gcs.target(route("object_store", "gcs", {"project": "p", "bucket": "b"},
                                       profile=USABLE), {}))
    result = judge("gcs", target, seen)
    assert answer_of(result) == answer
    assert text in result.message


# ------------------------------------------------------------------------------- azure blob

def test_azure_blob_connection_string_and_container() -> None:
    def target(config: dict[str, Any], environ: dict[str, str]) -> Endpoint | Unbuildable:
        return azure_blob.target(route("object_store", "azure_blob", config, profile=USABLE),
                                 environ)

    own = endpoint(target({"connection_string": "cs1", "container": "media"},
                          {"AZURE_STORAGE_CONNECTION_STRING": "cs2"}))
    assert (own.connection_string, own.container) == ("cs1", "media")
    assert own.where == ("the container in `container` of its config of the account in "
                         "`connection_string` of its config")
    fallback = endpoint(target({}, {"AZURE_STORAGE_CONNECTION_STRING": "cs2"}))
    assert (fallback.connection_string, fallback.container) == ("cs2", "raw-objects")
    assert "raw-objects (the engines' default)" in fallback.where
    assert "AZURE_STORAGE_CONNECTION_STRING" in fallback.where
    assert "AZURE_STORAGE_CONNECTION_STRING" in finding(target({}, {})).message
    assert "`container`" in finding(target({"connection_string": "cs", "container": None},
                                           {})).message


@pytest.mark.parametrize(("seen", "answer", "text"), [
    (azure_blob_seen.ContainerObservation(200), "pass", "exists"),
    (azure_blob_seen.ContainerObservation(404, "ContainerNotFound"), "fail",
     "does not exist (ContainerNotFound)"),
    (azure_blob_seen.ContainerObservation(403, "AuthenticationFailed"), "fail",
     "rejected the key or SAS"),
    (azure_blob_seen.ContainerObservation(403, "AuthorizationPermissionMismatch"), "fail",
     "may not read it"),
    (azure_blob_seen.ContainerObservation(0, malformed=True), "fail", "not one the Azure"),
    (azure_blob_seen.ContainerObservation(409, "Odd"), "fail", "answered 409 Odd"),
])
def test_azure_blob_judge(seen: azure_blob_seen.ContainerObservation, answer: str,
                          text: str) -> None:
    target = endpoint(azure_blob.target(route("object_store", "azure_blob",
                                              {"connection_string": "c"}, profile=USABLE), {}))
    result = judge("azure_blob", target, seen)
    assert answer_of(result) == answer
    assert text in result.message


# ------------------------------------------------------------------------------- cosmos

@pytest.mark.parametrize(("kind", "database", "container"), [
    ("notes_store", "tabular_store", None),
    ("chat_store", "chat_store", "events"), ("event_spine", "event_spine", "events"),
])
def test_cosmos_defaults_per_kind(kind: str, database: str, container: str | None) -> None:
    config = {"endpoint": "https://own.documents.azure.com/", "key": COSMOS_KEY}
    found = endpoint(cosmos.target(route(kind, "cosmos", config), {}))
    assert (found.url, found.database, found.container) == (
        "https://own.documents.azure.com/", database, container)


def test_cosmos_event_spine_reads_no_variable() -> None:
    found = finding(cosmos.target(route("event_spine", "cosmos", {}), {
        "AZURE_COSMOSDB_ENDPOINT": "https://env/", "AZURE_COSMOSDB_KEY": COSMOS_KEY}))
    assert found.message == "no `endpoint` in its config"


@pytest.mark.parametrize(("config", "text"), [
    ({"endpoint": "own.documents.azure.com", "key": COSMOS_KEY}, "not an https:// URL"),
    ({"endpoint": "https://own.documents.azure.com", "key": COSMOS_KEY, "database": ""},
     "`database` in its config is empty"),
])
def test_cosmos_unusable_config(config: dict[str, Any], text: str) -> None:
    assert text in finding(cosmos.target(route("notes_store", "cosmos", config), {})).message


@pytest.mark.parametrize(("seen", "answer", "text"), [
    (cosmos_seen.CosmosObservation(200), "pass", "it exists"),
    (cosmos_seen.CosmosObservation(404, "database"), "fail", "the database does not exist"),
    (cosmos_seen.CosmosObservation(404, "container"), "fail",
     "the container events does not exist"),
    (cosmos_seen.CosmosObservation(401, "account"), "fail", "rejected the credentials"),
    (cosmos_seen.CosmosObservation(403, "account"), "fail", "forbidden"),
    (cosmos_seen.CosmosObservation(0, "account", malformed=True), "fail", "not base64"),
    (cosmos_seen.CosmosObservation(400, "database"), "fail", "answered 400 reading the database"),
])
def test_cosmos_judge(seen: cosmos_seen.CosmosObservation, answer: str, text: str) -> None:
    target = endpoint(cosmos.target(route("chat_store", "cosmos", {
        "endpoint": "https://own.documents.azure.com", "key": COSMOS_KEY}), {}))
    result = judge("cosmos", target, seen)
    assert answer_of(result) == answer
    assert text in result.message


# ------------------------------------------------------------------------------- bigquery

def test_bigquery_reads_the_variables_the_profile_names() -> None:
    found = endpoint(bigquery.target(variable("NEXUS_BACKEND", "bigquery"), {}))
    reads = load().environment["NEXUS_BACKEND"].probe["bigquery"].reads  # type: ignore[index]
    assert (found.project, found.dataset, found.table) == (
        None, reads["dataset"].default, reads["table"].default)
    assert "the credentials' project" in found.where
    named = endpoint(bigquery.target(variable("NEXUS_BACKEND", "bigquery"), {
        "NEXUS_BQ_DATASET": "d", "NEXUS_BQ_TABLE": "t", "GCLOUD_PROJECT": "p",
        "GCP_PROJECT_ID": "not-this-one"}))
    assert (named.project, named.dataset, named.table) == ("p", "d", "t")
    assert named.where == "table in NEXUS_BQ_TABLE of dataset in NEXUS_BQ_DATASET in GCLOUD_PROJECT"


@pytest.mark.parametrize(("seen", "answer", "text"), [
    *((bigquery_seen.TableObservation(seen), answer, text)
      for seen, answer, text in GOOGLE_CASES if seen.status != 404),
    (bigquery_seen.TableObservation(ApiAnswer(404), ApiAnswer(200)), "fail",
     "does not exist (its dataset does)"),
    (bigquery_seen.TableObservation(ApiAnswer(404), ApiAnswer(404)), "fail",
     "the dataset of the"),
    (bigquery_seen.TableObservation(ApiAnswer(403, "accessDenied")), "fail",
     "may not read"),
    (bigquery_seen.TableObservation(ApiAnswer(0), no_project=True), "fail",
     "neither the environment nor the credentials name one"),
])
def test_bigquery_judge(seen: bigquery_seen.TableObservation, answer: str, text: str) -> None:
    target = endpoint(bigquery.target(variable("NEXUS_BACKEND", "bigquery"), {}))
    result = judge("bigquery", target, seen)
    assert answer_of(result) == answer
    assert text in result.message
    if seen.table.status == 404:
        assert "NEXUS_BQ_DATASET / NEXUS_BQ_TABLE" in (result.remediation or "")


# ------------------------------------------------------------------------------- planning

def test_one_probe_per_distinct_endpoint() -> None:
    kinds = [name for name, kind in load().kinds.items()
             if kind.backends is not None and "firestore" in kind.backends]
    subjects = [route(kind, "firestore", {}) for kind in kinds]
    subjects += [route("chat_bus", "redis", {"host": "h", "port": 1}),
                 route("chat_bus", "redis", {"host": "h", "port": "1"}, name="other"),
                 route("chat_bus", "redis", {"host": "h", "port": 1, "password": "p"},
                       name="third"),
                 variable("CHAT_BUS_BACKEND", "redis"),
                 route("budget", "filesystem", {"root": "/x"})]
    planned = plan(subjects, {"GCP_PROJECT_ID": "p", "REDIS_HOST": "h", "REDIS_PORT": "1"})
    assert len(planned.probed) == len(kinds) + 4
    assert [e.backend for e in planned.endpoints] == ["firestore", "redis", "redis"]
    assert [(s.backend, why) for s, why in planned.not_probed] == [
        ("filesystem", "no probe for filesystem")]


def test_a_variable_without_an_endpoint_is_left_to_env_backends() -> None:
    """REDIS_PORT=six is env.backends' finding (with the profile's severity), not a probe's."""
    planned = plan([variable("CHAT_BUS_BACKEND", "redis")], {"REDIS_PORT": "six"})
    assert (planned.probed, planned.unbuildable) == ([], [])
    ((subject, why),) = planned.not_probed
    assert (subject.kind, why) == (
        "CHAT_BUS_BACKEND", "REDIS_PORT is not a port number from 1 to 65535 (see env.backends)")
    route_subject = route("chat_bus", "redis", {"host": "h", "port": "six"})
    assert [f.message for _, f in plan([route_subject], {}).unbuildable] == [
        "`port` in its config is not a port number from 1 to 65535"]


@pytest.mark.parametrize("backend", ["gcs", "azure_blob"])
def test_a_backend_the_engines_cannot_use_is_not_probed(backend: str) -> None:
    """Issue 21 item 7: the profile marks object_store on gcs and azure_blob unusable at
    this engines version; routing.backends reports the route, the probes leave it."""
    planned = plan([route("object_store", backend, {"project": "p", "bucket": "b",
                                                    "connection_string": "c"})], {})
    assert (planned.probed, planned.unbuildable, planned.endpoints) == ([], [], [])
    ((_, why),) = planned.not_probed
    assert why.startswith(f"the engines cannot use {backend} at this version (")
    assert why.endswith("routing.backends reports the route")


def test_every_backend_has_a_target_an_observer_and_a_judge() -> None:
    for name in BACKENDS:
        assert callable(target_of(name)) and callable(observer_of(name))
        assert callable(importlib.import_module(f"preflight.judge.backends.{name}").judge)
    assert target_of("filesystem") is None


def test_the_one_transient_policy() -> None:
    """judge_one: no answer and Transient are transient (a status when the error carries
    one); Refused is a definitive refusal; anything else is a bug in the probe."""
    target = endpoint(redis.target(route("chat_bus", "redis", {"host": "h"}), {}))
    secret = "CANARY-in-an-exception"
    hung = judge_one(target, NO_ANSWER, 1.5)
    assert answer_of(hung) == "transient" and "within 1.5s" in hung.message
    refused = judge_one(target, Transient(ConnectionRefusedError(f"at {secret}")), 1.0)
    assert answer_of(refused) == "transient" and "(ConnectionRefusedError)" in refused.message

    class Throttled(Exception):
        status_code = 429

    throttled = judge_one(target, Transient(Throttled(secret)), 1.0)
    assert answer_of(throttled) == "transient" and "answered 429" in throttled.message
    refusal = judge_one(target, Refused("NoPermissionError", secret), 1.0)
    assert answer_of(refusal) == "fail" and "refused the probe" in refusal.message
    crashed = judge_one(target, KeyError(secret), 1.0)
    assert answer_of(crashed) == "fail" and "bug in preflight's probe" in (
        crashed.remediation or "")
    for result in (hung, refused, throttled, refusal, crashed):
        assert secret not in result.message + (result.remediation or "")


# ------------------------------------------------------------------------------- libraries

def test_libraries_are_checked_only_with_the_engines_python() -> None:
    profile = load()
    subjects = [variable("CHAT_BUS_BACKEND", "redis"),
                route("notes_store", "cosmos", {"endpoint": "https://a/", "key": COSMOS_KEY}),
                route("flow_store", "cosmos", {"endpoint": "https://b/", "key": COSMOS_KEY})]
    assert plan(subjects, {}, profile).interpreter is None  # init container, sidecar
    planned = plan(subjects, {}, profile, "/opt/venv/bin/python")
    assert planned.interpreter is not None
    assert planned.interpreter.modules == ("redis", "azure.cosmos")
    assert planned.endpoints[-1] == planned.interpreter
    assert [(s.kind, lib.module) for s, lib in planned.libraries] == [
        ("CHAT_BUS_BACKEND", "redis"), ("notes_store", "azure.cosmos"),
        ("flow_store", "azure.cosmos")]


@pytest.mark.parametrize(("seen", "answer", "text", "fix"), [
    (ImportsObservation({}), "pass", "imports redis", None),
    (ImportsObservation({"redis": "ModuleNotFoundError"}), "fail",
     "cannot import redis (ModuleNotFoundError)",
     "install redis in the engines' image (the engines' requirements do not bring it)"),
    (ImportsObservation(not_started="PermissionError"), "fail", "could not be run",
     "PREFLIGHT_ENGINES_PYTHON"),
    (NO_ANSWER, "transient", "did not say", "--attempt-timeout"),
])
def test_judge_library(seen: Any, answer: str, text: str, fix: str | None) -> None:
    profile = load()
    lacking = profile.engines.requirements_lack if profile.engines else ()
    result = judge_library(variable("CHAT_BUS_BACKEND", "redis"), profile.libraries["redis"],
                           seen, 2.0, lacking)
    assert answer_of(result) == answer
    assert text in result.message
    assert fix is None or fix in (result.remediation or "")


# ------------------------------------------------------------------------------- canaries

def _canary(label: str) -> str:
    return f"canary{label}{secrets.token_hex(6)}"


def _sweep_cases() -> list[tuple[str, ProbeSubject, dict[str, str], list[Any]]]:
    """Per backend: a subject and environment with canaries everywhere, and observations."""
    key = COSMOS_KEY[:-8] + secrets.token_hex(2) + "AAA=="[-4:]
    google = [seen for seen, _, _ in GOOGLE_CASES] + [ApiAnswer(403, "forbidden")]
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
         env_everything, [redis_seen.RedisObservation(o, r) for o, r, _, _ in REDIS_CASES]),
        ("redis", variable("CHAT_BUS_BACKEND", "redis"), env_everything,
         [redis_seen.RedisObservation(o, r) for o, r, _, _ in REDIS_CASES]),
        ("s3", route("object_store", "s3", {**config_everything, "bucket": "canary-"
                                            + secrets.token_hex(6)}), env_everything,
         [BucketObservation("b", s, c, r, "us-east-1", "e") for s, c, r in (
             (200, None, None), (404, "NoSuchBucket", None), (403, "AccessDenied", None),
             (301, "PermanentRedirect", "eu-west-1"), (500, "InternalError", None))]
         + CHAIN_FAILURES),
        ("firestore", route("chat_store", "firestore", config_everything), env_everything,
         [firestore_seen.FirestoreObservation(None, e) for e in (
             "PermissionDenied", "NotFound", "Unauthenticated", "InvalidArgument")]),
        ("dynamodb", route("chat_store", "dynamodb", {**config_everything, "region":
                                                      "canary" + secrets.token_hex(4)}),
         env_everything, [Table(**PK_SK), Table(**SPINE),
                          Table(400, error_code="ResourceNotFoundException"),
                          Table(400, error_code="AccessDeniedException"), *CHAIN_FAILURES]),
        ("gcs", route("object_store", "gcs", config_everything, profile=USABLE), env_everything,
         google),
        ("azure_blob", route("object_store", "azure_blob", config_everything, profile=USABLE),
         env_everything,
         [azure_blob_seen.ContainerObservation(s, c) for s, c in (
             (200, None), (404, "ContainerNotFound"), (403, "AuthenticationFailed"))]
         + [azure_blob_seen.ContainerObservation(0, malformed=True)]),
        ("cosmos", route("chat_store", "cosmos", {**config_everything, "key": key,
                                                  "endpoint": "https://" + _canary("h")}),
         env_everything, [cosmos_seen.CosmosObservation(s, r) for s in (200, 401, 403, 404, 418)
                          for r in ("account", "database", "container")]
         + [cosmos_seen.CosmosObservation(0, malformed=True)]),
        ("bigquery", variable("NEXUS_BACKEND", "bigquery"), env_everything,
         [bigquery_seen.TableObservation(h, ApiAnswer(404)) for h in google]
         + [bigquery_seen.TableObservation(ApiAnswer(0), no_project=True)]),
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
        result = judge(name, found, seen)
        texts += [result.message, result.remediation or ""]
    for crash in (NO_ANSWER, Transient(ConnectionRefusedError(secrets_planted[0])),
                  Refused("Kind", secrets_planted[0]), ValueError(secrets_planted[0])):
        result = judge_one(found, crash, 1.0)
        texts += [result.message, result.remediation or ""]
    joined = "\n".join(texts)
    leaked = [secret for secret in secrets_planted if secret in joined]
    assert not leaked, f"{leaked} in:\n{joined}"


def test_findings_carry_no_values() -> None:
    planted = _canary("value")
    cases: list[tuple[Callable[..., Any], str, dict[str, Any], Mapping[str, str]]] = [
        (redis.target, "chat_bus", {"host": planted, "port": planted}, {}),
        (redis.target, "chat_bus", {"host": planted, "db": planted}, {}),
        (s3.target, "object_store", {"bucket": planted.upper()}, {}),
        (dynamodb.target, "notes_store", {"table_name": planted + " x"}, {}),
        (dynamodb.target, "notes_store", {"region": planted + " x"}, {}),
        (cosmos.target, "notes_store", {"endpoint": planted, "key": planted}, {}),
        (cosmos.target, "notes_store", {"endpoint": planted}, {"AZURE_COSMOSDB_KEY": planted}),
        (azure_blob.target, "object_store", {"connection_string": planted, "container": ""},
         {}),
    ]
    for target, kind, config, environ in cases:
        backend = target.__module__.rsplit(".", 1)[1]
        found = finding(target(route(kind, backend, config, profile=USABLE), environ))
        assert planted not in found.message + found.fix
        assert planted.upper() not in found.message + found.fix
