"""Cosmos DB and BigQuery probes, with their client libraries, against replayed responses.

No local server of either exists here (Cosmos's emulator is Windows/Docker-only, BigQuery
has none packaged), so these tests replay the services' documented answers
(tests/data/replayed/*.json) from a loopback HTTP server (tests/faults/tools.FakeHTTP), at
the transport edge. Everything above the socket is real: the check, the runner,
azure-cosmos's `CosmosClient` (which reads the database account while it is built, then
the database and container) and its master-key signature, which the replay verifies
independently (checked against Microsoft's published example); google-cloud-bigquery's
`bigquery.Client()` with Application Default Credentials from a service-account key whose
token endpoint is loopback. Refused is a closed port; hung is a listener that never answers
(tools.BlackHole).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests import harness
from tests.faults import tools
from tests.probing import route, run_check, variable

DATA = Path(__file__).parent / "data" / "replayed"
KEY = base64.b64encode(hashlib.sha256(b"preflight replay tests").digest()).decode()
DEADLINE = 4.0


def recorded(service: str) -> dict[str, Any]:
    responses: dict[str, Any] = json.loads((DATA / f"{service}.json").read_text())["responses"]
    return responses


def reply(entry: dict[str, Any], endpoint: str = "") -> tools.Reply:
    body = json.loads(json.dumps(entry["body"]).replace("{ENDPOINT}", endpoint))
    return tools.Reply(entry["status"], body, dict(entry["headers"]))


# =============================================================================== Cosmos DB

def master_token(key: str, verb: str, resource_type: str, link: str, date: str) -> str:
    """The master-key token as Microsoft documents it, written here independently of the
    client library: HMAC-SHA256 over verb, resource type, resource link and date."""
    payload = f"{verb.lower()}\n{resource_type.lower()}\n{link}\n{date.lower()}\n\n"
    digest = hmac.new(base64.b64decode(key), payload.encode(), hashlib.sha256).digest()
    return f"type=master&ver=1.0&sig={base64.b64encode(digest).decode()}"


def test_the_replays_signature_check_matches_microsofts_example() -> None:
    """docs.microsoft.com, "Access control in the Azure Cosmos DB SQL API": the example."""
    token = master_token(
        "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw==",
        "GET", "dbs", "dbs/ToDoList", "Thu, 27 Apr 2017 00:51:12 GMT")
    assert token == "type=master&ver=1.0&sig=c09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu+c+c="


def _resource(path: str) -> tuple[str, str]:
    """(resource type, resource link) of a GET: '/' is the account (both empty)."""
    parts = [part for part in unquote(urlsplit(path).path).split("/") if part]
    return (parts[-2] if len(parts) % 2 == 0 and parts else "", "/".join(parts))


def _signature_ok(headers: dict[str, str], path: str) -> bool:
    headers = {name.lower(): value for name, value in headers.items()}
    resource_type, link = _resource(path)
    expected = master_token(KEY, "GET", resource_type, link, headers.get("x-ms-date", ""))
    return (unquote(headers.get("authorization", "")) == expected
            and bool(headers.get("x-ms-version")))


class CosmosReplay:
    """A Cosmos account: the given databases and containers exist; the key is KEY."""

    def __init__(self, databases: dict[str, list[str]], *, override: str | None = None) -> None:
        self.databases = databases
        self.override = override
        self.responses = recorded("cosmos")
        self.server = tools.FakeHTTP(self.script)

    def script(self, method: str, path: str) -> tools.Reply:
        headers: dict[str, str] = self.server.current.headers
        if self.override:
            return reply(self.responses[self.override])
        resource_type, link = _resource(path)
        parts = link.split("/") if link else []
        if method != "GET" or (parts and (parts[0] != "dbs" or len(parts) not in (2, 4))):
            return tools.Reply(400, {"code": "BadRequest", "message": "unexpected request"})
        if not _signature_ok(headers, path):
            return reply(self.responses["unauthorized"])
        if not parts:
            return reply(self.responses["database_account"], self.endpoint)
        if parts[1] not in self.databases or (
                len(parts) == 4 and parts[3] not in self.databases[parts[1]]):
            return reply(self.responses["not_found"])
        return reply(self.responses["container" if resource_type == "colls" else "database"])

    @property
    def endpoint(self) -> str:
        return f"{self.server.url}/"

    @property
    def reads(self) -> list[str]:
        """The resources read, '/' for the account, in order."""
        return ["/" + _resource(path)[1] for _method, path in self.server.requests]


@pytest.fixture
def replay() -> Iterator[list[CosmosReplay]]:
    made: list[CosmosReplay] = []
    yield made
    for each in made:
        each.server.stop()


def cosmos_account(made: list[CosmosReplay], databases: dict[str, list[str]],
                   override: str | None = None) -> CosmosReplay:
    account = CosmosReplay(databases, override=override)
    made.append(account)
    return account


def test_cosmos_healthy_and_missing(replay: list[CosmosReplay]) -> None:
    account = cosmos_account(replay, {"chat_store": ["events"], "tabular_store": [],
                                      "event_spine": []})
    config = {"endpoint": account.endpoint, "key": KEY}
    run = run_check([route("chat_store", "cosmos", config),
                     route("notes_store", "cosmos", {"endpoint": account.endpoint}, name="env"),
                     route("event_spine", "cosmos", config),
                     route("flow_store", "cosmos", {**config, "database": "gone"},
                           name="gone")],
                    {"AZURE_COSMOSDB_ENDPOINT": account.endpoint, "AZURE_COSMOSDB_KEY": KEY})
    assert run.status == "fail", run.describe()
    assert run.item("chat_store")["status"] == "pass"
    assert run.item("env")["message"] == (
        "database tabular_store (the engines' default) of the account in AZURE_COSMOSDB_ENDPOINT"
        "/AZURE_COSMOSDB_KEY: it exists and the key reads it")
    assert run.item("event_spine")["message"].endswith("the container events does not exist")
    assert run.item("gone")["message"].endswith("the database does not exist")
    assert KEY not in run.everything() and account.endpoint not in run.everything()
    # The client reads the account first (while it is built), then what the engines use.
    assert account.reads[0] == "/"
    assert {"/dbs/chat_store/colls/events", "/dbs/tabular_store"} <= set(account.reads)
    assert all(method == "GET" for method, _path in account.server.requests)


def test_cosmos_endpoint_and_key_come_together_or_not_at_all(replay: list[CosmosReplay]
                                                             ) -> None:
    """A tabular route with only `endpoint` in its config takes both from the variables;
    with only one variable set, the engines cannot build it: nothing is probed."""
    account = cosmos_account(replay, {"tabular_store": []})
    run = run_check([route("notes_store", "cosmos", {"endpoint": account.endpoint})],
                    {"AZURE_COSMOSDB_KEY": KEY})
    item = run.item("notes_store")
    assert item["status"] == "fail", item
    assert "AZURE_COSMOSDB_ENDPOINT/AZURE_COSMOSDB_KEY are not both set" in item["message"]
    assert account.server.requests == []


def test_cosmos_wrong_key(replay: list[CosmosReplay]) -> None:
    account = cosmos_account(replay, {"chat_store": ["events"]})
    other = base64.b64encode(b"another key, not the account's").decode()
    run = run_check([route("chat_store", "cosmos", {"endpoint": account.endpoint,
                                                    "key": other})])
    item = run.item("chat_store")
    assert item["status"] == "fail" and "rejected the credentials" in item["message"], item
    assert run.result.attempts == 1
    assert account.reads == ["/"], "the client's own retries of the account read are off"


def test_cosmos_key_that_is_not_base64_is_refused_by_the_client(replay: list[CosmosReplay]
                                                                ) -> None:
    account = cosmos_account(replay, {"chat_store": ["events"]})
    run = run_check([route("chat_store", "cosmos", {"endpoint": account.endpoint,
                                                    "key": "not a key!"})])
    item = run.item("chat_store")
    assert item["status"] == "fail" and "refused the key (it is not base64)" in item["message"]
    assert account.server.requests == []


@pytest.mark.parametrize(("override", "status", "text"), [
    ("forbidden", "fail", "access forbidden (403)"),
    ("throttled", "error", "Cosmos DB answered 429"),
    ("unavailable", "error", "Cosmos DB answered 503"),
])
def test_cosmos_refusals(replay: list[CosmosReplay], override: str, status: str,
                         text: str) -> None:
    account = cosmos_account(replay, {}, override=override)
    run = run_check([route("notes_store", "cosmos", {"endpoint": account.endpoint, "key": KEY})],
                    timeout=DEADLINE)
    assert run.status == status, run.describe()
    assert text in run.result.outcome.message
    if status == "error":
        assert run.result.outcome.transient and run.result.attempts >= 2


def test_cosmos_refused_and_hung() -> None:
    with tools.BlackHole() as hole:
        run = run_check([
            route("notes_store", "cosmos", {"endpoint": f"http://127.0.0.1:{harness.closed_port()}",
                                            "key": KEY}, name="refused"),
            route("notes_store", "cosmos", {"endpoint": f"http://127.0.0.1:{hole.port}",
                                            "key": KEY}, name="hung")], timeout=DEADLINE)
    assert run.status == "error", run.describe()
    assert run.result.outcome.transient
    assert run.wall < DEADLINE + 2
    assert "no answer from Cosmos DB" in run.item("refused")["message"]
    assert "(ServiceRequestError)" in run.item("refused")["message"]
    assert "no answer from Cosmos DB" in run.item("hung")["message"]


# =============================================================================== BigQuery

class BigQueryReplay:
    def __init__(self, tables: dict[str, list[str]], *, first: str | None = None,
                 answer: str | None = None) -> None:
        self.tables = tables
        self.first = first  # one answer before the real ones (e.g. a 503)
        self.answer = answer  # this answer to every request
        self.responses = recorded("bigquery")
        self.server = tools.FakeHTTP(self.script)

    def script(self, method: str, path: str) -> tools.Reply:
        if self.answer:
            return reply(self.responses[self.answer])
        if self.first:
            first, self.first = self.first, None
            return reply(self.responses[first])
        parts = urlsplit(path).path.strip("/").split("/")
        if method != "GET" or parts[:3] != ["bigquery", "v2", "projects"] or len(parts) not in (
                6, 8):
            return tools.Reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}})
        dataset = parts[5]
        if dataset not in self.tables:
            return reply(self.responses["dataset_not_found" if len(parts) == 6
                                        else "table_not_found"])
        if len(parts) == 6:
            return reply(self.responses["dataset"])
        return reply(self.responses["table" if parts[7] in self.tables[dataset]
                                    else "table_not_found"])


@pytest.fixture
def google_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               ) -> Iterator[tuple[dict[str, str], tools.FakeHTTP]]:
    """Application Default Credentials from a service-account key whose token endpoint is
    loopback; no metadata server. Returns the environment (also set in os.environ, which
    the client library reads) and the token endpoint."""
    token = tools.FakeHTTP(tools.token_endpoint("ok"))
    nowhere = f"127.0.0.1:{harness.closed_port()}"
    key = tools.service_account_key(tmp_path / "key.json", f"{token.url}/token")
    environ = {"GOOGLE_APPLICATION_CREDENTIALS": str(key), "GCE_METADATA_HOST": nowhere,
               "GCE_METADATA_IP": nowhere, "GOOGLE_CLOUD_PROJECT": "analytics-proj"}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    try:
        yield environ, token
    finally:
        token.stop()


def bigquery_run(environ: dict[str, str], replay: BigQueryReplay, monkeypatch: pytest.MonkeyPatch,
                 **extra: Any) -> Any:
    everything = {**environ, "BIGQUERY_EMULATOR_HOST": replay.server.url, **extra}
    for name, value in everything.items():
        monkeypatch.setenv(name, value)
    try:
        return run_check([variable("NEXUS_BACKEND", "bigquery")], everything,
                         timeout=DEADLINE)
    finally:
        replay.server.stop()


@pytest.mark.parametrize(("tables", "environ", "status", "text"), [
    ({"nexus_events": ["dataset_events"]}, {}, "pass",
     "table dataset_events (the default) of dataset nexus_events (the default) in "
     "GOOGLE_CLOUD_PROJECT exists"),
    ({"ds_7f3c1e": ["tb_9a2d4b"]}, {"NEXUS_BQ_DATASET": "ds_7f3c1e",
                                    "NEXUS_BQ_TABLE": "tb_9a2d4b"}, "pass",
     "table in NEXUS_BQ_TABLE of dataset in NEXUS_BQ_DATASET in GOOGLE_CLOUD_PROJECT exists"),
    ({"nexus_events": []}, {}, "fail", "does not exist (its dataset does)"),
    ({}, {}, "fail", "the dataset of the table"),
])
def test_bigquery_tables(google_env: tuple[dict[str, str], tools.FakeHTTP],
                         monkeypatch: pytest.MonkeyPatch, tables: dict[str, list[str]],
                         environ: dict[str, str], status: str, text: str) -> None:
    replay = BigQueryReplay(tables)
    run = bigquery_run(google_env[0], replay, monkeypatch, **environ)
    assert run.status == status, run.describe()
    assert text in run.item("NEXUS_BACKEND")["message"]
    assert replay.server.requests[0][1].startswith(
        "/bigquery/v2/projects/analytics-proj/datasets/")
    sent = {name.lower(): value for name, value in replay.server.headers[0].items()}
    assert sent["authorization"] == "Bearer ya29.fault-test-token"  # ADC, as the engines'
    assert google_env[1].requests and google_env[1].requests[0][0] == "POST"
    assert not [v for v in environ.values() if v in run.everything()]


def test_bigquery_transient_then_answers(google_env: tuple[dict[str, str], tools.FakeHTTP],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    replay = BigQueryReplay({"nexus_events": ["dataset_events"]}, first="backend_error")
    run = bigquery_run(google_env[0], replay, monkeypatch)
    assert run.status == "pass", run.describe()
    assert run.result.attempts == 2


@pytest.mark.parametrize(("answer", "text"), [
    ("access_denied", "may not read the table dataset_events (the default) of dataset "
     "nexus_events (the default) in GOOGLE_CLOUD_PROJECT (403, accessDenied)"),
    ("unauthenticated", "BigQuery rejected the credentials"),
])
def test_bigquery_refusals_keep_only_the_reason(google_env: tuple[dict[str, str], tools.FakeHTTP],
                                                monkeypatch: pytest.MonkeyPatch, answer: str,
                                                text: str) -> None:
    replay = BigQueryReplay({}, answer=answer)
    run = bigquery_run(google_env[0], replay, monkeypatch)
    assert run.status == "fail", run.describe()
    assert text in run.item("NEXUS_BACKEND")["message"]
    assert "Access Denied" not in run.everything()  # the API's message is never shown


def test_bigquery_without_credentials_or_project(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = f"127.0.0.1:{harness.closed_port()}"
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud configuration
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", nowhere)
    monkeypatch.setenv("GCE_METADATA_IP", nowhere)
    monkeypatch.setenv("PATH", str(tmp_path))  # no gcloud CLI to ask, as in a pod
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", f"http://{nowhere}")
    # google-auth retries its metadata-server detection for about 3 s before it concludes
    # there are no credentials: give the attempt that long.
    run = run_check([variable("NEXUS_BACKEND", "bigquery")], dict(os.environ), timeout=12,
                    attempt_timeout=6)
    assert run.status == "fail", run.describe()
    assert "no Google credentials" in run.item("NEXUS_BACKEND")["message"]


def test_bigquery_refused_and_hung(google_env: tuple[dict[str, str], tools.FakeHTTP],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"http://127.0.0.1:{harness.closed_port()}"
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", closed)
    run = run_check([variable("NEXUS_BACKEND", "bigquery")], google_env[0], timeout=DEADLINE)
    assert run.status == "error" and run.result.outcome.transient, run.describe()
    with tools.BlackHole() as hole:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", f"http://127.0.0.1:{hole.port}")
        run = run_check([variable("NEXUS_BACKEND", "bigquery")], google_env[0],
                        timeout=DEADLINE)
    assert run.status == "error" and run.result.outcome.transient, run.describe()
    assert "(ReadTimeout)" in run.result.outcome.message
    assert run.wall < DEADLINE + 2
