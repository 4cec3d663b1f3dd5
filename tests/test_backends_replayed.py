"""Cosmos DB and BigQuery probes against replayed responses, at the HTTP edge.

No local server of either exists here (Cosmos's emulator is Windows/Docker-only, BigQuery
has none packaged), so these tests replay the services' documented answers
(tests/data/replayed/*.json) from a loopback HTTP server (tests/faults/tools.FakeHTTP).
Everything above the socket is real: the check, the runner, `requests`, the master-key
signature (checked against Microsoft's published example), google-auth's session.
Refused is a closed port; hung is a listener that never answers (tools.BlackHole).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from preflight.observe import cosmos as cosmos_probe
from preflight.observe import rest
from tests import harness
from tests.faults import tools
from tests.probing import route, run_check, variable

DATA = Path(__file__).parent / "data" / "replayed"
KEY = base64.b64encode(hashlib.sha256(b"preflight replay tests").digest()).decode()
DEADLINE = 4.0


def recorded(service: str) -> dict[str, Any]:
    responses: dict[str, Any] = json.loads((DATA / f"{service}.json").read_text())["responses"]
    return responses


def reply(entry: dict[str, Any]) -> tools.Reply:
    return tools.Reply(entry["status"], entry["body"], dict(entry["headers"]))


# =============================================================================== Cosmos DB

def test_master_key_signature_matches_microsofts_example() -> None:
    """docs.microsoft.com, "Access control in the Azure Cosmos DB SQL API": the example."""
    token = cosmos_probe.master_token(
        "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw==",
        "GET", "dbs", "dbs/ToDoList", "Thu, 27 Apr 2017 00:51:12 GMT")
    assert token.lower() == ("type%3dmaster%26ver%3d1.0%26sig%3dc09PEVJrgp2uQRkr934kFbTqhByc7TVr3"
                             "OHyqlu%2bc%2bc%3d").lower()


def _signature_ok(headers: dict[str, str], path: str, resource_type: str) -> bool:
    """What the service checks, written from the documentation, independently of the probe."""
    headers = {name.lower(): value for name, value in headers.items()}
    link = unquote(urlsplit(path).path).strip("/")
    payload = f"get\n{resource_type}\n{link}\n{headers['x-ms-date'].lower()}\n\n"
    digest = hmac.new(base64.b64decode(KEY), payload.encode(), hashlib.sha256).digest()
    expected = f"type=master&ver=1.0&sig={base64.b64encode(digest).decode()}"
    return unquote(headers["authorization"]) == expected and bool(headers.get("x-ms-version"))


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
        parts = unquote(urlsplit(path).path).strip("/").split("/")
        resource_type = "colls" if len(parts) == 4 else "dbs"
        if method != "GET" or parts[0] != "dbs" or len(parts) not in (2, 4):
            return tools.Reply(400, {"code": "BadRequest", "message": "unexpected request"})
        if not _signature_ok(headers, path, resource_type):
            return reply(self.responses["unauthorized"])
        if parts[1] not in self.databases or (
                len(parts) == 4 and parts[3] not in self.databases[parts[1]]):
            return reply(self.responses["not_found"])
        return reply(self.responses["container" if len(parts) == 4 else "database"])

    @property
    def endpoint(self) -> str:
        return f"{self.server.url}/"


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
    paths = [path for _method, path in account.server.requests]
    assert "/dbs/chat_store/colls/events" in paths and "/dbs/tabular_store" in paths
    assert all(method == "GET" for method, _path in account.server.requests)


def test_cosmos_wrong_key(replay: list[CosmosReplay]) -> None:
    account = cosmos_account(replay, {"chat_store": ["events"]})
    other = base64.b64encode(b"another key, not the account's").decode()
    run = run_check([route("chat_store", "cosmos", {"endpoint": account.endpoint,
                                                    "key": other})])
    item = run.item("chat_store")
    assert item["status"] == "fail" and "rejected the credentials" in item["message"], item
    assert run.result.attempts == 1


@pytest.mark.parametrize(("override", "status", "text"), [
    ("forbidden", "fail", "access forbidden (403, Forbidden)"),
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
    assert "(ConnectionError)" in run.item("refused")["message"]
    assert "(ReadTimeout)" in run.item("hung")["message"]


# =============================================================================== BigQuery

class BigQueryReplay:
    def __init__(self, tables: dict[str, list[str]], *, first: str | None = None) -> None:
        self.tables = tables
        self.first = first  # one answer before the real ones (e.g. a 503)
        self.responses = recorded("bigquery")
        self.server = tools.FakeHTTP(self.script)

    def script(self, method: str, path: str) -> tools.Reply:
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


def _bigquery_env(server: tools.FakeHTTP, **extra: str) -> dict[str, str]:
    return {"BIGQUERY_EMULATOR_HOST": server.url, "GOOGLE_CLOUD_PROJECT": "analytics-proj",
            **extra}


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
def test_bigquery_tables(tables: dict[str, list[str]], environ: dict[str, str], status: str,
                         text: str) -> None:
    replay = BigQueryReplay(tables)
    try:
        run = run_check([variable("NEXUS_BACKEND", "bigquery")],
                        _bigquery_env(replay.server, **environ))
    finally:
        replay.server.stop()
    assert run.status == status, run.describe()
    assert text in run.item("NEXUS_BACKEND")["message"]
    assert replay.server.requests[0][1].startswith(
        "/bigquery/v2/projects/analytics-proj/datasets/")
    assert not [v for v in environ.values() if v in run.everything()]


def test_bigquery_transient_then_answers() -> None:
    replay = BigQueryReplay({"nexus_events": ["dataset_events"]}, first="backend_error")
    try:
        run = run_check([variable("NEXUS_BACKEND", "bigquery")], _bigquery_env(replay.server))
    finally:
        replay.server.stop()
    assert run.status == "pass", run.describe()
    assert run.result.attempts == 2


def test_bigquery_refused_and_hung() -> None:
    for environ in ({"BIGQUERY_EMULATOR_HOST": f"http://127.0.0.1:{harness.closed_port()}"},):
        run = run_check([variable("NEXUS_BACKEND", "bigquery")],
                        {**environ, "GOOGLE_CLOUD_PROJECT": "p"}, timeout=DEADLINE)
        assert run.status == "error" and run.result.outcome.transient, run.describe()
    with tools.BlackHole() as hole:
        run = run_check([variable("NEXUS_BACKEND", "bigquery")],
                        {"BIGQUERY_EMULATOR_HOST": f"http://127.0.0.1:{hole.port}",
                         "GOOGLE_CLOUD_PROJECT": "p"}, timeout=DEADLINE)
    assert run.status == "error" and run.result.outcome.transient, run.describe()
    assert "(ReadTimeout)" in run.result.outcome.message
    assert run.wall < DEADLINE + 2


@pytest.mark.parametrize(("answer", "reason"), [("access_denied", "accessDenied"),
                                                ("unauthenticated", "authError")])
def test_rest_calls_carry_google_credentials_and_keep_only_the_reason(
        tmp_path: Path, answer: str, reason: str) -> None:
    """The credentialed path (no emulator): a real service-account key, our token endpoint."""
    from google.oauth2 import service_account

    token = tools.FakeHTTP(tools.token_endpoint("ok"))
    api = tools.FakeHTTP(lambda _m, _p: reply(recorded("bigquery")[answer]))
    try:
        key = tools.service_account_key(tmp_path / "key.json", f"{token.url}/token")
        credentials = service_account.Credentials.from_service_account_file(
            str(key), scopes=[rest.READ_ONLY_SCOPE])
        seen = rest.get(rest.google_session(credentials),
                        f"{api.url}/bigquery/v2/projects/p/datasets/d/tables/t", 2.0,
                        params={"fields": "id"})
    finally:
        token.stop()
        api.stop()
    assert seen.status == recorded("bigquery")[answer]["status"]
    assert seen.reason == reason
    sent = {name.lower(): value for name, value in api.headers[0].items()}
    assert sent["authorization"] == "Bearer ya29.fault-test-token"
    assert token.requests and token.requests[0][0] == "POST"
