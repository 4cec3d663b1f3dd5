"""Fixtures for tests against real infrastructure.

One Firestore emulator and one moto S3 server for the whole session (each in its own
process group, stopped as a group at the end: no orphans). Each test gets a `Stack`: a
fresh, unique Firestore project (so tests never see each other's documents), a fresh
bucket, a clean environment, and `run()` / `start()` to run the real `preflight check`.

A missing Java or Firestore emulator fails the session loudly (servers.MissingTool); it is
never a skip.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import harness, seed, servers
from tests.audit_fleet import broken_registry

__all__ = ["broken_registry"]  # a session fixture of the audit tests (seeded once)

# The session's servers, by the name `--servers` knows them.
SERVER_FIXTURES = {"firestore_server": "firestore", "s3_server": "moto",
                   "redis_server": "redis", "azurite_server": "azurite", "gcs_server": "gcs"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--servers", metavar="NAMES", default=None,
        help="run only the tests that need no server but these (comma-separated: "
             f"{', '.join(sorted(SERVER_FIXTURES.values()))}; empty: none); the in-process "
             "stand-ins always run. `make test-lowest` passes moto.")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --servers, deselect (and count as such) every test needing another server."""
    option = config.getoption("--servers")
    if option is None:
        return
    allowed = {name.strip() for name in option.split(",") if name.strip()}
    unknown = allowed - set(SERVER_FIXTURES.values())
    if unknown:
        raise pytest.UsageError(f"--servers: unknown {', '.join(sorted(unknown))}")

    def needs_another(item: pytest.Item) -> bool:
        needed = {SERVER_FIXTURES[name] for name in getattr(item, "fixturenames", ())
                  if name in SERVER_FIXTURES}
        if item.get_closest_marker("integration") is not None:
            needed |= {"firestore", "moto"}  # the marker's promise (pyproject.toml)
        return not needed <= allowed

    deselected = [item for item in items if needs_another(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not needs_another(item)]


@pytest.fixture(scope="session")
def _graceful_termination() -> Iterator[None]:
    """SIGTERM/SIGHUP to pytest unwind like Ctrl-C, so the servers below are still stopped."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    replaced = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            replaced[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, previous in replaced.items():
            signal.signal(signum, previous)


@pytest.fixture(scope="session")
def firestore_server(_graceful_termination: None) -> Iterator[servers.Server]:
    """The session's Firestore emulator. Tests may pause/stop it; `stack` heals it after."""
    server = servers.firestore_emulator()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server(_graceful_termination: None) -> Iterator[servers.Server]:
    """The session's moto S3 server. Tests may pause/stop it; `stack` heals it after."""
    server = servers.s3_server()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(_graceful_termination: None) -> Iterator[servers.Server]:
    """A real Redis (Debian's redis-server) with no password. Tests may pause/stop it."""
    server = servers.redis_server()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azurite_server(_graceful_termination: None) -> Iterator[servers.Server]:
    """Azurite's Blob service (tools/azurite, `make tools`). Tests may pause/stop it."""
    server = servers.azurite()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gcs_server(_graceful_termination: None) -> Iterator[servers.Server]:
    """gcp-storage-emulator, in memory. Tests may pause/stop it."""
    server = servers.gcs_emulator()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def heal(server: servers.Server) -> None:
    """After a test: a paused server resumes, a stopped or dead one starts again."""
    server.resume()
    if server.process is None or server.process.poll() is not None:
        server.stop()
        server.start()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Stack:
    """A test's own slice of the real infrastructure, and preflight runs against it."""

    firestore: servers.Server
    s3: servers.Server
    project: str
    bucket: str
    tmp_path: Path
    collection: str = "routing_registry"
    _db: Any = None
    _s3c: Any = None
    forwarders: list[harness.Forwarder] = field(default_factory=list)
    started: list[harness.Running] = field(default_factory=list)

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.s3.address}"

    @property
    def home(self) -> Path:
        home = self.tmp_path / "home"
        home.mkdir(exist_ok=True)
        return home

    @property
    def db(self) -> Any:
        """A real Firestore client on this test's project."""
        if self._db is None:
            self._db = seed.firestore_client(self.firestore.address, self.project)
        return self._db

    @property
    def s3c(self) -> Any:
        """A real boto3 S3 client on the moto server."""
        if self._s3c is None:
            self._s3c = seed.s3_client(self.s3_endpoint)
        return self._s3c

    def env(self, **overrides: str | None) -> dict[str, str]:
        """The clean pod environment; a value of None removes the variable."""
        env = harness.stack_env(self.home, emulator=self.firestore.address,
                                s3_endpoint=self.s3_endpoint, project=self.project,
                                bucket=self.bucket)
        return harness.overridden(env, overrides)

    def seed(self, documents: Mapping[str, Mapping[str, Any]] | None = None,
             collection: str | None = None) -> dict[str, dict[str, Any]]:
        """Writes documents (default: the engines' sample registry for t_system/dev)."""
        chosen = seed.registry() if documents is None else documents
        docs = {k: dict(v) for k, v in chosen.items()}
        if docs:
            seed.write(self.db, docs, collection or self.collection)
        return docs

    def doc(self, doc_id: str, collection: str | None = None) -> Any:
        return self.db.collection(collection or self.collection).document(doc_id)

    def snapshot(self) -> dict[str, Any]:
        """Everything preflight could touch: every collection's documents, every bucket."""
        collections = sorted(c.id for c in self.db.collections())
        documents = {name: seed.snapshot(self.db, name) for name in collections}
        buckets = sorted(b["Name"] for b in self.s3c.list_buckets().get("Buckets", []))
        objects = {}
        for name in buckets:
            listing = self.s3c.list_objects_v2(Bucket=name).get("Contents", [])
            objects[name] = sorted((o["Key"], o["ETag"], o["Size"]) for o in listing)
        return {"collections": collections, "documents": documents, "buckets": buckets,
                "objects": objects}

    def forwarder(self, target: str) -> harness.Forwarder:
        """A not-yet-started TCP forwarder to `target` (stopped again after the test)."""
        forwarder = harness.Forwarder(target)
        self.forwarders.append(forwarder)
        return forwarder

    def run(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 30.0,
            **options: Any) -> harness.Result:
        """`preflight check ARGS` to the end, in `env` (default: `self.env()`)."""
        return harness.run_preflight(list(args), self.env() if env is None else env,
                                     timeout, workdir=self.tmp_path / "runs", **options)

    def start(self, *args: str, env: Mapping[str, str] | None = None,
              **options: Any) -> harness.Running:
        """`preflight check ARGS` in the background; `.finish(timeout)` collects it."""
        running = harness.start_preflight(list(args), self.env() if env is None else env,
                                          workdir=self.tmp_path / "runs", **options)
        self.started.append(running)
        return running


@pytest.fixture
def stack(firestore_server: servers.Server, s3_server: servers.Server,
          tmp_path: Path) -> Iterator[Stack]:
    """A unique project (emulator cleared for it), an existing empty bucket, a clean env."""
    heal(firestore_server)
    heal(s3_server)
    project = unique("it")
    bucket = unique("raw")
    servers.clear_firestore(firestore_server.address, project)
    current = Stack(firestore_server, s3_server, project, bucket, tmp_path)
    current.s3c.create_bucket(Bucket=bucket)
    try:
        yield current
    finally:
        for running in current.started:
            running.kill()  # a test that failed before finish() leaves no preflight behind
        for forwarder in current.forwarders:
            forwarder.stop()
        heal(firestore_server)
        heal(s3_server)
        servers.clear_firestore(firestore_server.address, project)
        if current._db is not None:
            current._db.close()
        try:
            for item in current.s3c.list_objects_v2(Bucket=bucket).get("Contents", []):
                current.s3c.delete_object(Bucket=bucket, Key=item["Key"])
            current.s3c.delete_bucket(Bucket=bucket)
        except Exception:
            pass  # the test may have deleted it, or restarted moto


@pytest.fixture
def run_preflight(stack: Stack) -> Any:
    """`run_preflight(args, env=None, timeout=30)`: the real CLI against this test's stack."""

    def run(args: list[str] | tuple[str, ...] = (), env: Mapping[str, str] | None = None,
            timeout: float = 30.0, **options: Any) -> harness.Result:
        return stack.run(*args, env=env, timeout=timeout, **options)

    return run


@pytest.fixture
def bucket(stack: Stack) -> str:
    """The name of this test's bucket, created (empty) on the moto server."""
    return stack.bucket
