"""Secrets, for backends.reachable: canaries in every probe's config keys and stand-in variables.

The whole process runs (tests/probe_cli.py registers the check and feeds it routes, as the
profile wiring will), against the real servers: Redis with a password the canary is not,
moto, the Firestore emulator, gcp-storage-emulator, Azurite, and loopback servers
replaying Cosmos DB's and BigQuery's refusals. Hosts are canary loopback addresses
(127.x.y.z), never names a resolver would be asked about. Every byte of stdout, stderr
(debug logs), the verdict file and the termination log is audited, in both formats.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import harness, servers
from tests.conftest import Stack, heal
from tests.faults import tools
from tests.faults.common import Canaries, audit
from tests.verdict_schema import validate_verdict

pytestmark = pytest.mark.integration


def _loopback() -> str:
    """A loopback address nobody else uses: unique enough to be a canary, refused if dialled."""
    return "127." + ".".join(str(random.randint(2, 254)) for _ in range(3))


def _b64(label: str) -> str:
    return base64.b64encode(f"CANARY{label}{secrets.token_hex(12)}".encode()).decode()


def _token(label: str) -> str:
    return f"canary{label}{secrets.token_hex(6)}"


@pytest.fixture
def password_redis() -> Iterator[servers.Server]:
    server = servers.redis_server(password="pw-" + secrets.token_hex(8))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def google_token() -> Iterator[tools.FakeHTTP]:
    """Google's token endpoint, for the service-account key BigQuery's client resolves."""
    token = tools.FakeHTTP(tools.token_endpoint("ok"))
    try:
        yield token
    finally:
        token.stop()


@pytest.fixture
def replays() -> Iterator[tuple[tools.FakeHTTP, tools.FakeHTTP]]:
    data = Path(__file__).resolve().parent.parent / "data" / "replayed"
    cosmos = json.loads((data / "cosmos.json").read_text())["responses"]["unauthorized"]
    bigquery = json.loads((data / "bigquery.json").read_text())["responses"]["access_denied"]
    servers_ = (tools.FakeHTTP(lambda _m, _p: tools.Reply(cosmos["status"], cosmos["body"])),
                tools.FakeHTTP(lambda _m, _p: tools.Reply(bigquery["status"], bigquery["body"])))
    try:
        yield servers_
    finally:
        for server in servers_:
            server.stop()


def _plan(canaries: Canaries, stack: Stack, redis: servers.Server, azurite: servers.Server,
          gcs: servers.Server, cosmos: tools.FakeHTTP, bigquery: tools.FakeHTTP,
          google_key: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    plant = canaries.plant
    canaries.channels.update({"probe route config", "probe stand-in variables"})
    account = _token("account")
    azure = plant("azure connection string",
                  f"DefaultEndpointsProtocol=http;AccountName={account};"
                  f"AccountKey={plant('azure account key', _b64('azkey'))};"
                  f"BlobEndpoint=http://{azurite.address}/{account};")
    plant("azure account name", account)
    cosmos_url = plant("cosmos endpoint", f"{cosmos.url}/")

    def subject(kind: str, backend: str, config: dict[str, Any], name: str) -> dict[str, Any]:
        return {"kind": kind, "origin": f"route `{name}` (t_acme/prod/p1)", "backend": backend,
                "config": config}

    subjects = [
        subject("chat_bus", "redis", {
            "host": plant("redis host", _loopback()), "port": 6379,
            "password": plant("redis password", _token("redispw")),
            "username": plant("redis username", _token("user"))}, "bus-refused"),
        subject("chat_bus", "redis", {
            "host": "127.0.0.1", "port": redis.port, "db": 1,
            "password": plant("redis wrong password", _token("wrongpw"))}, "bus-wrong-password"),
        {"kind": "CHAT_BUS_BACKEND", "origin": "CHAT_BUS_BACKEND", "backend": "redis",
         "config": {}},
        subject("object_store", "s3", {"bucket": plant("s3 bucket", _token("-b"))}, "s3"),
        subject("notes_store", "dynamodb", {
            "table_name": plant("dynamodb table", _token("table")),
            "region": plant("dynamodb region", _token("region"))}, "dynamodb"),
        subject("chat_store", "firestore", {"project": plant("firestore project",
                                                             _token("-project"))}, "firestore"),
        subject("object_store", "gcs", {"project": plant("gcs project", _token("-gcsproj")),
                                        "bucket": plant("gcs bucket", _token("-gcsbucket"))},
                "gcs"),
        subject("object_store", "azure_blob", {
            "connection_string": azure,
            "container": plant("azure container", _token("-container"))}, "azure"),
        subject("chat_store", "cosmos", {
            "endpoint": cosmos_url, "key": plant("cosmos key", _b64("cosmoskey")),
            "database": plant("cosmos database", _token("db"))}, "cosmos"),
        {"kind": "NEXUS_BACKEND", "origin": "NEXUS_BACKEND", "backend": "bigquery",
         "config": {}},
    ]
    for entry in subjects:  # the canary URL with a password, in every route's config too
        entry["config"]["url"] = f"redis://u:{canaries.route_config_password}@x/0"
    environ = {
        "REDIS_HOST": plant("REDIS_HOST", _loopback()),
        "GCS_BUCKET": plant("GCS_BUCKET", _token("-gcsenv")),
        "STORAGE_EMULATOR_HOST": f"http://{gcs.address}",
        "AZURE_STORAGE_CONNECTION_STRING": azure,
        "AZURE_COSMOSDB_ENDPOINT": cosmos_url,
        "AZURE_COSMOSDB_KEY": plant("AZURE_COSMOSDB_KEY", _b64("cosmosenv")),
        "NEXUS_BQ_DATASET": plant("NEXUS_BQ_DATASET", _token("dataset")),
        "NEXUS_BQ_TABLE": plant("NEXUS_BQ_TABLE", _token("tbl")),
        "GOOGLE_CLOUD_PROJECT": plant("GOOGLE_CLOUD_PROJECT", _token("-bqproject")),
        "BIGQUERY_EMULATOR_HOST": plant("BIGQUERY_EMULATOR_HOST", bigquery.url),
        # The client libraries' own credentials: a key whose token endpoint is loopback, and
        # no metadata server anywhere but a closed loopback port.
        "GOOGLE_APPLICATION_CREDENTIALS": str(google_key),
        "GCE_METADATA_HOST": f"127.0.0.1:{harness.closed_port()}",
        "GCE_METADATA_IP": f"127.0.0.1:{harness.closed_port()}",
        "AWS_ENDPOINT_URL_DYNAMODB": (f"http://u{secrets.token_hex(3)}:"
                                      f"{plant('dynamodb endpoint password', _token('dynpw'))}"
                                      f"@{stack.s3.address}"),
    }
    return subjects, environ


def _run(argv: list[str], env: dict[str, str], folder: Path) -> harness.Result:
    folder.mkdir(parents=True)
    verdict, termination = folder / "verdict.json", folder / "termination-log"
    command = [sys.executable, "-m", "tests.probe_cli", *argv, "--verdict-file", str(verdict)]
    started = time.monotonic()
    process = subprocess.run(command, env={**env, "PREFLIGHT_TERMINATION_LOG": str(termination),
                                           "PYTHONPATH": str(harness.REPO)},
                             cwd=folder, capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL, check=False)
    result = harness.Result(argv=command, returncode=process.returncode, stdout=process.stdout,
                            stderr=process.stderr, wall=time.monotonic() - started,
                            workdir=folder, verdict_path=verdict)
    assert verdict.is_file(), result.describe()
    result.verdict_text = verdict.read_text()
    result.verdict = json.loads(result.verdict_text)
    validate_verdict(result.verdict)
    result.termination_log = termination.read_text() if termination.exists() else None
    return result


@pytest.mark.parametrize("output", ["json", "text"])
def test_probe_config_and_stand_ins_never_printed(
        request: pytest.FixtureRequest, stack: Stack, canaries: Canaries,
        password_redis: servers.Server, azurite_server: servers.Server,
        gcs_server: servers.Server, replays: tuple[tools.FakeHTTP, tools.FakeHTTP],
        google_token: tools.FakeHTTP, tmp_path: Path, output: str) -> None:
    for server in (azurite_server, gcs_server):
        heal(server)
    stack.seed(canaries.registry())
    key = tools.service_account_key(tmp_path / "key.json", f"{google_token.url}/token")
    subjects, environ = _plan(canaries, stack, password_redis, azurite_server, gcs_server,
                              *replays, key)
    subjects_file = tmp_path / "subjects.json"
    subjects_file.write_text(json.dumps(subjects))
    env = {**stack.env(**canaries.env(s3_endpoint=stack.s3_endpoint)), **environ}
    env.pop("PYTHONPATH", None)
    # --strict: the probes' findings block (built in they warn), so every answer shows.
    result = _run([str(subjects_file), "check", "--strict", "--format", output, "--log-level",
                   "debug", "--timeout", "6", "--attempt-timeout", "3"], env, tmp_path / "run")
    assert result.returncode == 1, result.describe()
    assert result.verdict is not None
    probes = next(c for c in result.verdict["checks"] if c["name"] == "backends.reachable")
    statuses = {item["origin"].split("`")[1] if "`" in item["origin"] else item["origin"]:
                item["status"] for item in probes["details"]["results"]}
    # Every probe ran and answered as its server does; a cold client on a loaded machine may
    # still be connecting when the definitive failures end the check (they do not wait).
    expected = {"bus-refused": {"transient"}, "bus-wrong-password": {"fail"},
                "CHAT_BUS_BACKEND": {"transient"}, "s3": {"fail", "transient"},
                "dynamodb": {"fail", "transient"}, "firestore": {"pass", "transient"},
                "gcs": {"fail"}, "azure": {"fail"}, "cosmos": {"fail"}, "NEXUS_BACKEND": {"fail"}}
    assert set(statuses) == set(expected), probes
    assert all(statuses[name] in allowed for name, allowed in expected.items()), statuses
    audit(result, canaries, f"{request.node.name}")
