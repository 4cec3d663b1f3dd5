"""backends.reachable end to end, against real servers on loopback ports.

Redis (Debian's redis-server), moto (S3 and DynamoDB), Google's Firestore emulator,
gcp-storage-emulator (GCS) and Azurite (Azure Blob): each probe is seen healthy, missing
(table, bucket, container), refused (nothing listens), hung (the server SIGSTOPped: the
check still returns inside its deadline) and unauthorised where the server can be (Redis
`requirepass`, Azurite with a wrong account key). The check runs through the real runner
(tests/probing.py), with its retries, watchdog and deadline.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from preflight.contract.profile import load
from tests import harness, seed, servers
from tests.conftest import heal
from tests.probing import EventLog, Run, route, run_check, usable_everywhere, variable

pytestmark = pytest.mark.integration

DEADLINE = 4.0  # seconds: short, but roomy for a loaded 2-core machine
SLACK = 2.0  # how far past the deadline a run may end (the runner's own bound is ~0.5 s)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_unanswered(run: Run, text: str) -> None:
    """Only transient trouble: error, transient, inside the deadline, naming the backend."""
    assert run.status == "error", run.describe()
    assert run.result.outcome.transient, run.describe()
    assert text in run.result.outcome.message, run.describe()
    assert run.wall < DEADLINE + SLACK, f"{run.wall:.1f}s\n{run.describe()}"
    assert run.result.attempts >= 2, run.describe()


def assert_fails(run: Run, origin: str, text: str) -> dict[str, Any]:
    assert run.status == "fail", run.describe()
    item = run.item(origin)
    assert item["status"] == "fail", item
    assert text in item["message"], item
    assert item["fix"], item
    assert text in run.result.outcome.message
    return item


# =============================================================================== redis

@pytest.fixture(scope="module")
def redis_with_password() -> Iterator[tuple[servers.Server, str]]:
    password = "pw-" + uuid.uuid4().hex
    server = servers.redis_server(password=password)
    server.start()
    try:
        yield server, password
    finally:
        server.stop()


@pytest.fixture
def redis(redis_server: servers.Server) -> Iterator[servers.Server]:
    heal(redis_server)
    yield redis_server
    heal(redis_server)


def redis_route(server: servers.Server, name: str = "chat_bus-t_system-dev",
                **config: Any) -> Any:
    return route("chat_bus", "redis", {"host": "127.0.0.1", "port": server.port, **config},
                 name=name)


def test_redis_healthy(redis: servers.Server) -> None:
    run = run_check([redis_route(redis), redis_route(redis, name="again", port=str(redis.port))])
    assert run.status == "pass", run.describe()
    assert run.details["probes"] == 1 and run.details["subjects"] == 2
    assert "redis answered PING" in run.item("chat_bus-t_system-dev")["message"]


def test_redis_chat_bus_variable(redis: servers.Server) -> None:
    run = run_check([variable("CHAT_BUS_BACKEND", "redis")],
                    {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis.port)})
    assert run.status == "pass", run.describe()
    assert run.item("CHAT_BUS_BACKEND")["message"] == \
        "redis answered PING at REDIS_HOST/REDIS_PORT"


def test_redis_password_and_db(redis_with_password: tuple[servers.Server, str]) -> None:
    server, password = redis_with_password
    run = run_check([redis_route(server, password=password, db=3)])
    assert run.status == "pass", run.describe()
    assert "(db 3, AUTH)" in run.item("chat_bus")["message"]


@pytest.mark.parametrize(("config", "text"), [
    ({"password": "wrong-password"}, "rejected the `password` of its config"),
    ({}, "requires a password, and none comes from its config"),
])
def test_redis_unauthorised(redis_with_password: tuple[servers.Server, str],
                            config: dict[str, Any], text: str) -> None:
    server, _password = redis_with_password
    run = run_check([redis_route(server, **config)])
    item = assert_fails(run, "chat_bus", text)
    assert run.result.attempts == 1  # definitive: no retry
    assert "wrong-password" not in run.everything()
    assert item["fix"]


def test_redis_chat_bus_variable_against_a_password(
        redis_with_password: tuple[servers.Server, str]) -> None:
    server, _password = redis_with_password
    run = run_check([variable("CHAT_BUS_BACKEND", "redis")],
                    {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(server.port)})
    assert_fails(run, "CHAT_BUS_BACKEND", "connects without one")


def test_redis_password_the_server_does_not_need_passes(redis: servers.Server) -> None:
    """redis-py authenticates with HELLO 3 AUTH default …, which a server without a password
    accepts (its `default` user has `nopass`): the engines' client connects, so does the
    probe."""
    run = run_check([redis_route(redis, password="not-needed")])
    assert run.status == "pass", run.describe()
    assert "(AUTH)" in run.item("chat_bus")["message"]


@pytest.mark.parametrize(("config", "text"), [
    ({"db": 99}, "has no database `db` of its config"),
    ({"port": "not-a-port"}, "`port` in its config is not a port number"),
])
def test_redis_config_the_server_refuses(redis: servers.Server, config: dict[str, Any],
                                         text: str) -> None:
    assert_fails(run_check([redis_route(redis, **config)]), "chat_bus", text)


def test_redis_refused() -> None:
    run = run_check([route("chat_bus", "redis", {"host": "127.0.0.1",
                                                 "port": harness.closed_port()})],
                    timeout=DEADLINE)
    assert_unanswered(run, "no answer from redis for the `host`/`port` of its config "
                      "(ConnectionError)")
    item = run.item("chat_bus")
    assert item["status"] == "transient"


def test_redis_hung(redis: servers.Server) -> None:
    redis.pause()
    run = run_check([redis_route(redis)], timeout=DEADLINE)
    assert_unanswered(run, "no answer from redis for the `host`/`port` of its config")


def test_redis_stopped_then_started_inside_the_deadline_passes_and_keeps_answers(
        redis: servers.Server) -> None:
    """Definitive answers are kept between attempts: the healthy redis is probed once."""
    late = servers.redis_server()
    front = harness.Forwarder(redis.address).start()
    try:
        subjects = [route("chat_bus", "redis", {"host": "127.0.0.1", "port": front.port}),
                    route("chat_bus", "redis", {"host": "127.0.0.1", "port": late.port},
                          name="late")]
        box: dict[str, Run] = {}
        log = EventLog()
        worker = threading.Thread(target=lambda: box.update(run=run_check(
            subjects, timeout=20.0, log=log)))
        worker.start()
        harness.wait_until(lambda: any(e["message"] == "check attempt failed"
                                       for e in log.events), 10, "a failed first attempt")
        late.start()
        worker.join(30)
        run = box["run"]
        assert run.status == "pass", run.describe()
        assert run.result.attempts >= 2, run.describe()
        assert front.connections == 1, "a definitive answer was probed again"
    finally:
        late.stop()
        front.stop()


def _monitor(server: servers.Server, seen: list[str], ready: threading.Event,
             stop: threading.Event, password: str | None = None) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        oks = 1
        if password is not None:
            sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n"
                         % (len(password), password.encode()))
            oks = 2
        sock.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
        buffer = b""
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\r\n")
            for line in lines:
                if line == b"+OK":
                    oks -= 1
                    if not oks:
                        ready.set()
                elif line.startswith(b"+"):
                    seen.append(line.decode("utf-8", "replace"))


class Recorder:
    """A loopback relay in front of Redis that keeps every byte the client sends."""

    def __init__(self, target: servers.Server) -> None:
        self.target = target
        self.sent = bytearray()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target.port), timeout=5)
                threading.Thread(target=self._relay, args=(upstream, client, False),
                                 daemon=True).start()
                threading.Thread(target=self._relay, args=(client, upstream, True),
                                 daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket, keep: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if keep:
                    self.sent += chunk
                sink.sendall(chunk)
        sink.close()

    def commands(self) -> list[list[str]]:
        """The RESP arrays sent, each as its words."""
        found, data, at = [], bytes(self.sent), 0
        while at < len(data):
            header, at = data[at:].split(b"\r\n", 1)[0], at + data[at:].index(b"\r\n") + 2
            words = []
            for _ in range(int(header[1:])):
                size_line = data[at:data.index(b"\r\n", at)]
                at += len(size_line) + 2
                size = int(size_line[1:])
                words.append(data[at:at + size].decode("utf-8", "replace"))
                at += size + 2
            found.append(words)
        return found

    def close(self) -> None:
        self.listener.close()


def _command_info(server: servers.Server, password: str, name: str,
                  ) -> tuple[set[str], set[str]]:
    """The server's own word on a command: (its flags, its ACL categories)."""
    import redis as redis_py

    with redis_py.Redis(host="127.0.0.1", port=server.port, password=password,
                        protocol=2) as client:
        info = client.execute_command("COMMAND", "INFO", name)[name.lower()]
    flags, categories = set(info["flags"]), set(info["acl_categories"])
    assert "@write" not in categories or "write" in flags  # the two agree
    return flags, categories


def test_redis_probe_runs_no_write_command(redis_with_password: tuple[servers.Server, str]
                                           ) -> None:
    """redis-py's handshake, built as the engines build their client, with AUTH and
    SELECT: every command Redis executes (MONITOR) is one of its connection commands and
    none is flagged `write` by the server itself (COMMAND INFO); on the wire, the client
    sends nothing else but CLIENT subcommands that set this connection's attributes, which
    a server that does not know them refuses (redis-py ignores the refusal, as it does for
    the engines)."""
    server, password = redis_with_password
    seen: list[str] = []
    ready, stop = threading.Event(), threading.Event()
    watcher = threading.Thread(target=_monitor, args=(server, seen, ready, stop, password),
                               daemon=True)
    recorder = Recorder(server)
    watcher.start()
    try:
        assert ready.wait(5), "MONITOR did not start"
        run = run_check([route("chat_bus", "redis", {"host": "127.0.0.1",
                                                     "port": recorder.port,
                                                     "password": password, "db": 2})])
        assert run.status == "pass", run.describe()
        harness.wait_until(lambda: any('"PING"' in line for line in seen), 5, "PING seen")
    finally:
        stop.set()
        watcher.join(5)
        recorder.close()
    executed = {line.split('"')[1].upper() for line in seen if '"' in line}
    assert executed == {"HELLO", "SELECT", "PING"}, seen
    for name in executed:
        flags, categories = _command_info(server, password, name)
        assert "write" not in flags and "@connection" in categories, (name, flags, categories)
    sent = recorder.commands()
    assert {words[0].upper() for words in sent} <= {"HELLO", "AUTH", "CLIENT", "SELECT", "PING"}
    client_commands = {words[1].upper() for words in sent if words[0].upper() == "CLIENT"}
    assert "SETINFO" in client_commands  # the engines' redis-py sends it too (redis-py >= 5)
    assert client_commands <= {"SETINFO", "MAINT_NOTIFICATIONS"}, sent
    assert password not in " ".join(line for line in seen)  # MONITOR redacts AUTH


# ------------------------------------------------------------------------------- TLS

def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1: (ca, certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "preflight test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                               "127.0.0.1")]))
                   .issuer_name(ca_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture(scope="module")
def redis_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[servers.Server, Path]]:
    ca, certificate, key = _certificates(tmp_path_factory.mktemp("tls"))
    server = servers.redis_server(tls=(certificate, key))
    server.start()
    try:
        yield server, ca
    finally:
        server.stop()


def test_redis_tls_trusted(redis_tls: tuple[servers.Server, Path],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    server, ca = redis_tls
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the pod's trust store, for this test
    run = run_check([redis_route(server, ssl=True)])
    assert run.status == "pass", run.describe()
    assert "TLS" in run.item("chat_bus")["message"]


def test_redis_tls_untrusted(redis_tls: tuple[servers.Server, Path],
                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server, _ca = redis_tls
    empty = tmp_path / "no-ca.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    assert_fails(run_check([redis_route(server, tls="true")]), "chat_bus", "is not trusted")


def test_redis_tls_to_a_plain_port(redis: servers.Server) -> None:
    """A plain Redis never answers a ClientHello: as for a hung server, the deadline ends it."""
    run = run_check([redis_route(redis, ssl=True)], timeout=DEADLINE)
    assert_unanswered(run, "no answer from redis for the `host`/`port` of its config")
    assert "does not speak TLS" in (run.result.outcome.remediation or "")


# =============================================================================== AWS

@pytest.fixture
def aws(s3_server: servers.Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The pod's AWS chain pointed at moto; returns the environment the probes read."""
    heal(s3_server)
    endpoint = f"http://{s3_server.address}"
    for name, value in {"AWS_ACCESS_KEY_ID": harness.AWS_KEY_ID,
                        "AWS_SECRET_ACCESS_KEY": harness.AWS_SECRET,
                        "AWS_DEFAULT_REGION": harness.AWS_REGION,
                        "AWS_ENDPOINT_URL_S3": endpoint, "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
                        "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials"}.items():
        monkeypatch.setenv(name, value)
    yield {"AWS_ENDPOINT_URL_DYNAMODB": endpoint}
    heal(s3_server)


def _dynamodb(endpoint: str, region: str = "us-west-2") -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_s3_healthy_missing_and_raw_bucket(aws: dict[str, str], s3_server: servers.Server) -> None:
    bucket = unique("probe")
    seed.s3_client(f"http://{s3_server.address}").create_bucket(Bucket=bucket)
    run = run_check([route("object_store", "s3", {"bucket": bucket}, name="own"),
                     route("object_store", "s3", {}, name="fallback"),
                     route("object_store", "s3", {"bucket": unique("missing")}, name="gone")],
                    {"RAW_BUCKET": bucket})
    assert run.details["probes"] == 2, run.describe()
    assert run.item("own")["status"] == "pass"
    assert run.item("fallback")["message"] == "the bucket in RAW_BUCKET exists and is readable"
    assert_fails(run, "gone", "the bucket in `bucket` of its config does not exist")


def test_s3_refused(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{harness.closed_port()}")
    run = run_check([route("object_store", "s3", {"bucket": "some-bucket"})], timeout=DEADLINE)
    assert_unanswered(run, "no answer from s3 for the bucket in `bucket` of its config "
                      "(EndpointConnectionError)")


def test_s3_hung(aws: dict[str, str], s3_server: servers.Server) -> None:
    s3_server.pause()
    run = run_check([route("object_store", "s3", {"bucket": "some-bucket"})], timeout=DEADLINE)
    assert_unanswered(run, "no answer from s3")


def test_dynamodb_tables(aws: dict[str, str]) -> None:
    client = _dynamodb(aws["AWS_ENDPOINT_URL_DYNAMODB"])
    tabular, spine, wrong = unique("tabular"), unique("spine"), unique("wrong")
    client.create_table(TableName=tabular, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}])
    client.create_table(
        TableName=spine, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"},
                              {"AttributeName": "tenant_run_idx", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "tenant_run_idx",
                                 "KeySchema": [{"AttributeName": "tenant_run_idx",
                                                "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    bare = unique("bare")
    client.create_table(TableName=bare, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "event_id",
                                               "AttributeType": "S"}])
    client.create_table(TableName=wrong, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}])
    elsewhere = unique("east")
    _dynamodb(aws["AWS_ENDPOINT_URL_DYNAMODB"], "us-east-1").create_table(
        TableName=elsewhere, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    run = run_check([
        route("firearms_policy_store", "dynamodb", {"table_name": tabular}, name="tabular"),
        route("event_spine", "dynamodb", {"table_name": spine}, name="spine"),
        route("chat_store", "dynamodb", {"table_name": tabular}, name="chat-on-tabular"),
        route("chat_store", "dynamodb", {"table_name": bare}, name="no-index"),
        route("notes_store", "dynamodb", {"table_name": wrong}, name="wrong-keys"),
        route("notes_store", "dynamodb", {"table_name": elsewhere}, name="wrong-region"),
        route("notes_store", "dynamodb", {"table_name": elsewhere, "region": "us-east-1"},
              name="right-region"),
        route("notes_store", "dynamodb", {"table_name": unique("missing")}, name="missing"),
    ], aws)
    assert run.details["probes"] == 7, run.describe()
    for passing in ("tabular", "spine", "right-region"):
        assert run.item(passing)["status"] == "pass", run.describe()
    assert_fails(run, "chat-on-tabular", "its keys are pk (HASH, S), sk (RANGE, S); the "
                 "engines' items carry only string keys such as event_id")
    assert_fails(run, "no-index", "no global secondary index tenant_run_idx")
    assert_fails(run, "wrong-keys", "its keys are id (HASH, N)")
    assert_fails(run, "wrong-region", "the table in `table_name` of its config in us-west-2 "
                 "(the engines' default) does not exist")
    assert_fails(run, "missing", "does not exist")


def test_aws_unauthorised(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """moto checking keys as AWS does: the pod's keys are unknown to it."""
    strict = servers.s3_server(enforce_iam=True)
    strict.start()
    try:
        endpoint = f"http://{strict.address}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        run = run_check([route("object_store", "s3", {"bucket": "some-bucket"}, name="s3"),
                         route("notes_store", "dynamodb", {}, name="dynamodb")],
                        {"AWS_ENDPOINT_URL_DYNAMODB": endpoint})
    finally:
        strict.stop()
    # The same judgement as s3.bucket's: an unknown key is a credentials fix, not a permission.
    assert_fails(run, "s3", "S3 does not know this access key id (403 InvalidAccessKeyId)")
    assert "fix the AWS credentials" in run.item("s3")["fix"]
    assert_fails(run, "dynamodb", "AWS refused to describe table tabular_store (the engines' "
                 "default) in us-west-2 (the engines' default) (403")


def test_dynamodb_refused(aws: dict[str, str]) -> None:
    run = run_check([route("notes_store", "dynamodb", {})],
                    {"AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{harness.closed_port()}"},
                    timeout=DEADLINE)
    assert_unanswered(run, "no answer from dynamodb for table tabular_store (the engines' "
                      "default) in us-west-2 (the engines' default) (EndpointConnectionError)")


def test_dynamodb_hung(aws: dict[str, str], s3_server: servers.Server) -> None:
    s3_server.pause()
    run = run_check([route("notes_store", "dynamodb", {})], aws, timeout=DEADLINE)
    assert_unanswered(run, "no answer from dynamodb")


# =============================================================================== Firestore

@pytest.fixture
def firestore(firestore_server: servers.Server,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[servers.Server]:
    """The emulator, warmed by a plain client; google's module-level channel options,
    which preflight's make_client extends, are restored for the tests that follow."""
    from google.cloud.firestore_v1 import base_client

    saved = [list(base_client._GRPC_MSG_SIZE_OPTIONS), list(base_client._DEFAULT_CHANNEL_OPTIONS)]
    heal(firestore_server)
    warm = seed.firestore_client(firestore_server.address, "warm-up")
    list(warm.collection("routing_registry").limit(1).stream(timeout=60))
    warm.close()
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_server.address)
    try:
        yield firestore_server
    finally:
        base_client._GRPC_MSG_SIZE_OPTIONS[:] = saved[0]
        base_client._DEFAULT_CHANNEL_OPTIONS[:] = saved[1]
        heal(firestore_server)


def test_firestore_every_kind_in_one_project_is_one_probe(firestore: servers.Server) -> None:
    """Every request-time kind on Firestore in the engines' project: one probe; a route with
    its own project: a second. The timeline (event_stream) ignores its config's project."""
    kinds = [name for name, kind in load().kinds.items()
             if kind.backends is not None and "firestore" in kind.backends]
    run = run_check([route(kind, "firestore", {}) for kind in kinds]
                    + [route("chat_store", "firestore", {"project": "other-project"},
                             name="own-project"),
                       route("event_stream", "firestore", {"project": "ignored"},
                             name="timeline")],
                    {"GCP_PROJECT_ID": unique("project")})
    assert run.status == "pass", run.describe()
    subjects = len(kinds) + 2
    assert run.details["probes"] == 2 and run.details["subjects"] == subjects
    assert run.result.outcome.message == \
        f"2 probe(s) answered for {subjects} route(s) and variable(s)"
    assert run.item("timeline")["message"].endswith("in the engines' project (GCP_PROJECT_ID)")


def test_firestore_refused(firestore: servers.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{harness.closed_port()}")
    run = run_check([route("chat_store", "firestore", {"project": "p"})], timeout=DEADLINE)
    assert_unanswered(run, "no answer from firestore for the `project` of its config")


def test_firestore_hung(firestore: servers.Server) -> None:
    firestore.pause()
    run = run_check([route("chat_store", "firestore", {"project": "p"})], timeout=DEADLINE)
    assert_unanswered(run, "no answer from firestore")


def test_firestore_without_a_project_is_a_finding() -> None:
    assert_fails(run_check([route("chat_store", "firestore", {})]), "chat_store",
                 "no `project` in its config, and neither GCP_PROJECT_ID nor GCP_PROJECT")


# =============================================================================== GCS

@pytest.fixture
def gcs(gcs_server: servers.Server) -> Iterator[servers.Server]:
    heal(gcs_server)
    yield gcs_server
    heal(gcs_server)


def _gcs_bucket(server: servers.Server, name: str) -> None:
    request = urllib.request.Request(f"http://{server.address}/storage/v1/b?project=p",
                                     data=f'{{"name": "{name}"}}'.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def raw(backend: str, config: dict[str, Any], name: str | None = None) -> Any:
    """An object_store route on a backend the engines cannot use at this version (GCS,
    Azure Blob), probed as though a later version could (tests/probing.usable_everywhere)."""
    return route("object_store", backend, config, name=name, profile=USABLE)


USABLE = usable_everywhere()


def test_gcs_healthy_and_missing(gcs: servers.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = unique("gcs")
    _gcs_bucket(gcs, bucket)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{gcs.address}")  # the library reads it
    run = run_check([raw("gcs", {"project": "p", "bucket": bucket}, name="own"),
                     raw("gcs", {"project": "p"}, name="fallback"),
                     raw("gcs", {"project": "p", "bucket": unique("no")}, name="missing"),
                     raw("gcs", {"bucket": bucket}, name="no-project")],
                    {"GCS_BUCKET": bucket})
    assert run.details["probes"] == 2, run.describe()
    assert run.item("own")["status"] == "pass"
    assert run.item("fallback")["message"] == \
        "the bucket in GCS_BUCKET exists and its objects can be listed"
    assert_fails(run, "missing", "the bucket in `bucket` of its config does not exist")
    assert_fails(run, "no-project", "no `project` in its config")


def test_gcs_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{harness.closed_port()}")
    run = run_check([raw("gcs", {"project": "p", "bucket": "b"})], timeout=DEADLINE)
    assert_unanswered(run, "no answer from GCS for the bucket in `bucket` of its config "
                      "(ConnectionError)")


def test_gcs_hung(gcs: servers.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    gcs.pause()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{gcs.address}")
    run = run_check([raw("gcs", {"project": "p", "bucket": "b"})], timeout=DEADLINE)
    assert_unanswered(run, "no answer from GCS")


def test_gcs_and_azure_blob_are_not_probed_while_the_engines_cannot_use_them(
        gcs: servers.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in profile marks object_store on gcs and azure_blob `unusable` (every
    request raises TypeError at this engines version): no probe reaches them, and the
    check says why; routing.backends reports the route."""
    door = harness.Forwarder(gcs.address).start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{door.address}")
    try:
        run = run_check([route("object_store", "gcs", {"project": "p", "bucket": "b"}),
                         route("object_store", "azure_blob", {"connection_string": "x"},
                               name="blob")])
    finally:
        door.stop()
    assert door.connections == 0
    assert run.status == "skipped", run.describe()
    reasons = [entry["reason"] for entry in run.details["not_probed"]]
    assert len(reasons) == 2 and all("cannot use" in reason and "TypeError" in reason
                                     and "routing.backends reports the route" in reason
                                     for reason in reasons), reasons


# =============================================================================== Azure Blob

@pytest.fixture
def azurite(azurite_server: servers.Server) -> Iterator[servers.Server]:
    heal(azurite_server)
    yield azurite_server
    heal(azurite_server)


def test_azure_blob_healthy_missing_and_wrong_key(azurite: servers.Server) -> None:
    from azure.storage.blob import BlobServiceClient

    connection = servers.azurite_connection_string(azurite.address)
    container = unique("media")
    with BlobServiceClient.from_connection_string(connection) as service:
        service.create_container(container)
    wrong_key = servers.azurite_connection_string(
        azurite.address, key="d3Jvbmcta2V5LWZvci1henVyaXRlLXRlc3RzLW9ubHktMDAwMDAwMDAwMDAw")
    run = run_check([
        raw("azure_blob", {"connection_string": connection, "container": container}, "own"),
        raw("azure_blob", {"container": container}, name="fallback"),
        raw("azure_blob", {"connection_string": connection}, name="default"),
        raw("azure_blob", {"connection_string": wrong_key, "container": container},
            "wrong-key"),
        raw("azure_blob", {"connection_string": "not a connection string"}, "malformed"),
    ], {"AZURE_STORAGE_CONNECTION_STRING": connection})
    assert run.details["probes"] == 4, run.describe()
    assert run.item("own")["status"] == "pass", run.describe()
    assert "AZURE_STORAGE_CONNECTION_STRING" in run.item("fallback")["message"]
    assert_fails(run, "default", "container raw-objects (the engines' default) of the account "
                 "in `connection_string` of its config does not exist (ContainerNotFound)")
    assert_fails(run, "wrong-key", "rejected the key or SAS")
    assert_fails(run, "malformed", "is not one the Azure client accepts")
    assert servers.AZURITE_KEY not in run.everything()


def test_azure_blob_refused() -> None:
    connection = servers.azurite_connection_string(f"127.0.0.1:{harness.closed_port()}")
    run = run_check([raw("azure_blob", {"connection_string": connection})],
                    timeout=DEADLINE)
    assert_unanswered(run, "no answer from Azure Blob Storage")


def test_azure_blob_hung(azurite: servers.Server) -> None:
    azurite.pause()
    connection = servers.azurite_connection_string(azurite.address)
    run = run_check([raw("azure_blob", {"connection_string": connection})],
                    timeout=DEADLINE)
    assert_unanswered(run, "no answer from Azure Blob Storage")


# =============================================================================== together

def test_all_backends_at_once_and_the_switch(redis: servers.Server, aws: dict[str, str],
                                             s3_server: servers.Server) -> None:
    bucket = unique("mixed")
    seed.s3_client(f"http://{s3_server.address}").create_bucket(Bucket=bucket)
    subjects = [redis_route(redis), route("object_store", "s3", {"bucket": bucket}),
                route("budget", "filesystem", {"root": "/x"})]
    run = run_check(subjects)
    assert run.status == "pass", run.describe()
    assert run.details["not_probed"] == [{"kind": "budget", "origin": subjects[2].origin,
                                          "backend": "filesystem",
                                          "reason": "no probe for filesystem"}]
    off = run_check(subjects, probes=False)
    assert off.status == "skipped"
    assert off.result.outcome.message == "probes are off (--no-probes / PREFLIGHT_PROBES=0)"
