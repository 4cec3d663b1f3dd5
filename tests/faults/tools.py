"""Small, bounded fault injectors for the fault matrix, all on 127.0.0.1 free ports.

Every tool runs in daemon threads of the test process, is a context manager, and stops
itself after `lifetime` seconds even if a test forgets it: nothing outlives the session.

- `BlackHole`: accepts connections and never answers (nor closes them).
- `DelayProxy`: a TCP proxy to a real server that holds every chunk the server sends for
  `delay` seconds, so each response arrives after the attempt timeout.
- `FakeHTTP`: an HTTP/1.1 server scripted per path; used as the Google token endpoint
  (`token_uri` in a service-account key file), as the GCE metadata server
  (`GCE_METADATA_HOST` / `GCE_METADATA_IP`), and as a wrong-protocol server where gRPC is
  expected.
- `service_account_key`: a real RSA service-account key file whose token_uri is ours.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests import servers

DEFAULT_LIFETIME = 180.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released; nobody else takes it fast)."""
    return free_port()


class _Tool:
    """Start/stop, context manager, and a self-destruct timer."""

    def __init__(self, lifetime: float = DEFAULT_LIFETIME) -> None:
        self.stopped = threading.Event()
        self.lifetime = lifetime
        self._timer: threading.Timer | None = None

    def _arm(self) -> None:
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()

    def stop(self) -> None:
        self.stopped.set()
        if self._timer is not None:
            self._timer.cancel()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class BlackHole(_Tool):
    """A listener that accepts every connection and never sends a byte."""

    def __init__(self, lifetime: float = DEFAULT_LIFETIME) -> None:
        super().__init__(lifetime)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._loop, name="blackhole", daemon=True).start()
        self._arm()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self.accepted += 1
            self._held.append(conn)  # read nothing, answer nothing, close nothing
        for conn in self._held:
            with suppress(OSError):
                conn.close()
        with suppress(OSError):
            self.listener.close()


class DelayProxy(_Tool):
    """Forwards TCP to `upstream`; every chunk coming back is held for `delay` seconds.

    `down()` resets every connection and stops listening (the port refuses, as for a server
    that is restarting); `up()` listens on the same port again.
    """

    def __init__(self, upstream: str, delay: float, lifetime: float = DEFAULT_LIFETIME) -> None:
        super().__init__(lifetime)
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.delay = delay
        self.port = free_port()
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._gate = threading.Lock()
        self._listening: threading.Event | None = None
        self.up()
        self._arm()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.05)
        listening = threading.Event()
        listening.set()
        self._listening = listening
        threading.Thread(target=self._loop, args=(listener, listening), name="delayproxy",
                         daemon=True).start()

    def down(self) -> None:
        if self._listening is not None:
            self._listening.clear()
            self._listening = None
        with self._gate:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()
        time.sleep(0.1)  # the accept loop notices within 50 ms and closes the listener

    def stop(self) -> None:
        super().stop()
        self.down()

    def _loop(self, listener: socket.socket, listening: threading.Event) -> None:
        while listening.is_set() and not self.stopped.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self.connections += 1
            try:
                server = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                client.close()
                continue
            with self._gate:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, 0.0), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.delay),
                             daemon=True).start()
        with suppress(OSError):
            listener.close()

    def _pump(self, source: socket.socket, sink: socket.socket, delay: float) -> None:
        with suppress(OSError):
            source.settimeout(None)
        while not self.stopped.is_set():
            try:
                ready, _, _ = select.select([source], [], [], 0.1)
                if not ready:
                    continue
                chunk = source.recv(65536)
            except (OSError, ValueError):
                break
            if not chunk:
                break
            if delay and self.stopped.wait(delay):
                break
            try:
                sink.sendall(chunk)
            except OSError:
                break
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass
class Reply:
    """What FakeHTTP answers on one path: a status, a JSON/text body, headers, or a hang."""

    status: int = 200
    body: Any = ""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


Script = Callable[[str, str], Reply]  # (method, path) -> Reply


class FakeHTTP(_Tool):
    """A threaded HTTP/1.1 server whose answers a test scripts; records every request."""

    def __init__(self, script: Script, lifetime: float = DEFAULT_LIFETIME, port: int = 0) -> None:
        super().__init__(lifetime)
        self.script = script
        self.requests: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []  # each request's headers, in order
        self.current = threading.local()  # .headers: the request being answered, for scripts
        tool = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                tool.requests.append((self.command, self.path))
                tool.headers.append(dict(self.headers.items()))
                tool.current.headers = dict(self.headers.items())
                reply = tool.script(self.command, self.path)
                if reply.hang:
                    tool.stopped.wait()
                    self.close_connection = True
                    return
                body = reply.body
                if not isinstance(body, (str, bytes)):
                    body = json.dumps(body)
                    reply.headers.setdefault("Content-Type", "application/json")
                reply.headers.setdefault("Content-Type", "text/plain")
                data = body.encode() if isinstance(body, str) else body
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _answer

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients hanging up on a hung answer is the point, not an error

        self.server = Server(("127.0.0.1", port), Handler)
        self.port: int = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="fakehttp", daemon=True).start()
        self._arm()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        super().stop()
        threading.Thread(target=self._shutdown, daemon=True).start()

    def _shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- scripts -------------------------------------------------------------------------------

METADATA_FLAVOR = {"Metadata-Flavor": "Google"}
SA_EMAIL = "preflight-faults@dummy-project.iam.gserviceaccount.com"


def token_endpoint(mode: str) -> Script:
    """Google's OAuth token endpoint: `invalid_grant`, `500`, `hang` or `ok`."""

    def script(_method: str, _path: str) -> Reply:
        if mode == "invalid_grant":
            return Reply(400, {"error": "invalid_grant",
                               "error_description": "Invalid JWT Signature."})
        if mode == "500":
            return Reply(500, {"error": "internal_failure"})
        if mode == "hang":
            return Reply(hang=True)
        return Reply(200, {"access_token": "ya29.fault-test-token", "expires_in": 3600,
                           "token_type": "Bearer"})

    return script


def metadata_server(mode: str, failures: int = 0) -> Script:
    """GCE metadata server. Modes: `ok`; `token-500` / `token-hang` (the ping and the account
    answer, the token does not); `all-500` / `all-hang` (nothing answers well). With
    `failures`, `token-500` answers the token request 500 that many times, then 200."""
    token_requests = [0]

    def script(_method: str, path: str) -> Reply:
        if mode == "all-hang":
            return Reply(hang=True)
        if mode == "all-500":  # copies of the headers below: FakeHTTP adds to them
            return Reply(500, "internal error", dict(METADATA_FLAVOR))
        if path.rstrip("/") in ("", "/computeMetadata/v1"):
            return Reply(200, "computeMetadata/", dict(METADATA_FLAVOR))
        if "/project/project-id" in path:
            return Reply(200, "dummy-project", dict(METADATA_FLAVOR))
        if "/service-accounts/default/token" in path:
            token_requests[0] += 1
            if mode == "token-500" and (not failures or token_requests[0] <= failures):
                return Reply(500, "internal error", dict(METADATA_FLAVOR))
            if mode == "token-hang":
                return Reply(hang=True)
            return Reply(200, {"access_token": "ya29.fault-test-token", "expires_in": 3600,
                               "token_type": "Bearer"}, dict(METADATA_FLAVOR))
        if "/service-accounts/default" in path:
            if "/email" in path:
                return Reply(200, SA_EMAIL, dict(METADATA_FLAVOR))
            return Reply(200, {"email": SA_EMAIL, "aliases": ["default"],
                               "scopes": ["https://www.googleapis.com/auth/cloud-platform"]},
                         dict(METADATA_FLAVOR))
        return Reply(404, "not found", dict(METADATA_FLAVOR))

    return script


def plain_http() -> Script:
    """Any HTTP/1.1 server: the wrong protocol where gRPC is expected."""
    return lambda _method, _path: Reply(200, "<html>not grpc</html>",
                                        {"Content-Type": "text/html"})


# ---- key files -----------------------------------------------------------------------------


def rsa_private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


_KEY_CACHE: list[str] = []


def cached_private_key() -> str:
    if not _KEY_CACHE:
        _KEY_CACHE.append(rsa_private_key_pem())
    return _KEY_CACHE[0]


def service_account_key(path: Path, token_uri: str, *, private_key: str | None = None,
                        private_key_id: str = "0123456789abcdef",
                        project: str = "dummy-project") -> Path:
    document = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": private_key_id,
        "private_key": private_key or cached_private_key(),
        "client_email": f"preflight-faults@{project}.iam.gserviceaccount.com",
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(document))
    return path


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# ---- as a separate process (so a test can SIGSTOP it, or restart it) ----------------------

READY = "fake server ready"


def main(argv: list[str]) -> None:
    """`python -m tests.faults.tools token|metadata MODE PORT`: serve until killed (or 600 s)."""
    kind, mode, port = argv[0], argv[1], int(argv[2])
    script = token_endpoint(mode) if kind == "token" else metadata_server(mode)
    tool = FakeHTTP(script, lifetime=600.0, port=port)
    print(READY, flush=True)
    tool.stopped.wait()


def fake_server_process(kind: str, mode: str, port: int | None = None) -> servers.Server:
    """A FakeHTTP in its own process group (tests.servers.Server: pause/resume/stop)."""
    import sys

    from tests import servers

    port = port or free_port()
    command = [sys.executable, "-m", "tests.faults.tools", kind, mode, str(port)]
    return servers.Server(f"fake {kind} server", command, port, READY)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
