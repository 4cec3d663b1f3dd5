"""Real local dependencies: Google's Firestore emulator, a moto S3/DynamoDB server, Redis,
Azurite (Azure Blob) and gcp-storage-emulator (GCS).

Used by the test fixtures, `make demo` and the benchmarks. Each server runs in its own
process group on a free loopback port and is stopped as a group: no orphans. A missing
tool (Java, the emulator, redis-server, Azurite) is an error that says how to install it,
never a quiet skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

READY_LINE = "Dev App Server is now running"
REPO = Path(__file__).resolve().parent.parent
AZURITE = REPO / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's well-known development account (published in Azurite's README; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")
START_TIMEOUT = 90.0


class MissingTool(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def emulator_command(port: int) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise MissingTool("Java is not installed: the Firestore emulator needs it "
                          "(apt-get install -y default-jre-headless)")
    gcloud = shutil.which("gcloud")
    roots = [Path(os.environ.get("CLOUDSDK_ROOT", "/usr/lib/google-cloud-sdk"))]
    if gcloud:
        roots.append(Path(os.path.realpath(gcloud)).parent.parent)
    for root in roots:
        jar = root / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
        if jar.exists():
            return [java, "-Duser.language=en", "-cp", str(jar),
                    "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                    "start", "--host=127.0.0.1", f"--port={port}"]
    raise MissingTool("the Google Cloud CLI's Firestore emulator is not installed "
                      "(apt-get install -y google-cloud-cli-firestore-emulator); looked in "
                      + ", ".join(map(str, roots)))


class Server:
    """A child process group we can stop, pause (SIGSTOP) and resume."""

    def __init__(self, name: str, command: Sequence[str], port: int, ready_line: str | None,
                 log_path: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.command = list(command)
        # None: this process's environment; otherwise it, plus these variables.
        self.env = None if env is None else {**os.environ, **env}
        self.port = port
        self.ready_line = ready_line
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT) -> Server:
        ready = threading.Event()
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, stdin=subprocess.DEVNULL, env=self.env)

        def pump(stream: Any) -> None:
            for line in stream:
                self.output.append(line)
                if self.ready_line and self.ready_line in line:
                    ready.set()
            ready.set()

        threading.Thread(target=pump, args=(self.process.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                   + "".join(self.output[-30:]))
            if self.ready_line and ready.is_set():
                return self
            if not self.ready_line and self._accepts():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {timeout:.0f}s:\n"
                           + "".join(self.output[-30:]))

    def _accepts(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/", timeout=1):
                return True
        except OSError as error:
            return isinstance(error, urllib.request.HTTPError)

    def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        # The group may outlive its leader (the emulator's Java child): make sure it is gone.
        self._signal(signal.SIGKILL)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None


def firestore_emulator(port: int | None = None) -> Server:
    port = port or free_port()
    return Server("firestore emulator", emulator_command(port), port, READY_LINE)


def s3_server(port: int | None = None, *, enforce_iam: bool = False) -> Server:
    """moto's server (S3, STS and the rest). `enforce_iam`: every request is authenticated
    against moto's IAM users (INITIAL_NO_AUTH_ACTION_COUNT=0); see `moto_auth`."""
    port = port or free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    if not enforce_iam:
        return Server("moto S3 server", command, port, None)
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    return Server("moto server enforcing IAM", command, port, None, env=env)


def moto_auth(address: str, enforced: bool) -> None:
    """Turns a moto server's IAM enforcement off (to create users) or on again.

    POST /moto-api/reset-auth sets INITIAL_NO_AUTH_ACTION_COUNT and restarts its count:
    "inf" lets every request through, "0" authenticates every one from now on.
    """
    request = urllib.request.Request(f"http://{address}/moto-api/reset-auth",
                                     data=b"0" if enforced else b"inf", method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def redis_server(port: int | None = None, *, password: str | None = None,
                 tls: tuple[Path, Path] | None = None, workdir: Path | None = None) -> Server:
    """Debian's redis-server, persisting nothing. `tls` = (certificate, key): TLS only."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise MissingTool("redis-server is not installed: the Redis probe tests need a real "
                          "Redis (apt-get install -y redis-server)")
    port = port or free_port()
    folder = workdir or Path(tempfile.gettempdir())  # nothing is saved there
    command = [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(folder), "--daemonize", "no", "--loglevel", "notice"]
    if tls:
        command += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(tls[0]),
                    "--tls-key-file", str(tls[1]), "--tls-auth-clients", "no"]
    else:
        command += ["--port", str(port)]
    if password is not None:
        command += ["--requirepass", password]
    return Server("redis-server", command, port, "Ready to accept connections")


def azurite(port: int | None = None) -> Server:
    """Microsoft's Azure Blob emulator (tools/azurite, `make tools`): in memory, no telemetry."""
    node = shutil.which("node")
    if node is None:
        raise MissingTool("Node.js is not installed: Azurite needs it (apt-get install -y "
                          "nodejs npm)")
    if not AZURITE.exists():
        raise MissingTool(f"Azurite is not installed at {AZURITE}: run `make tools` "
                          "(npm ci --prefix tools/azurite)")
    port = port or free_port()
    command = [node, str(AZURITE.resolve()), "--blobHost", "127.0.0.1", "--blobPort", str(port),
               "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck",
               "--loose", "--silent", "--extentMemoryLimit", "64"]
    return Server("azurite", command, port, "successfully listens")


def azurite_connection_string(address: str, key: str = AZURITE_KEY) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
            f"BlobEndpoint=http://{address}/{AZURITE_ACCOUNT};")


def gcs_emulator(port: int | None = None) -> Server:
    """gcp-storage-emulator (a PyPI test dependency), in memory."""
    binary = Path(sys.executable).parent / "gcp-storage-emulator"
    if not binary.exists():
        raise MissingTool("gcp-storage-emulator is not installed: pip install -e '.[test]' "
                          "(make venv)")
    port = port or free_port()
    command = [str(binary), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory",
               "--quiet"]
    return Server("gcp-storage-emulator", command, port, None)


def clear_firestore(address: str, project: str) -> None:
    request = urllib.request.Request(
        f"http://{address}/emulator/v1/projects/{project}/databases/(default)/documents",
        method="DELETE")
    with urllib.request.urlopen(request, timeout=30):  # a loaded machine can be slow
        pass


@contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    started: list[Server] = []
    try:
        for server in servers:
            started.append(server.start())
        yield servers
    finally:
        for server in started:
            server.stop()
