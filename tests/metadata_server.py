"""A stand-in for Google's metadata server (Compute Engine, Cloud Run, GKE) on 127.0.0.1.

google-auth finds it through GCE_METADATA_HOST (every /computeMetadata/v1/ request) and
GCE_METADATA_IP (its detection ping to `/`); `env()` gives both. It follows the documented
API (cloud.google.com/compute/docs/metadata/querying-metadata, .../metadata/predefined-
metadata-keys, cloud.google.com/run/docs/container-contract#metadata-server,
cloud.google.com/compute/docs/instances/verifying-instance-identity):

- a request under /computeMetadata/ without `Metadata-Flavor: Google`, or with an
  `X-Forwarded-For` header, is refused with 403; every answer carries
  `Metadata-Flavor: Google`, the ping to `/` included;
- project/project-id, project/numeric-project-id, instance/id, instance/region,
  instance/zone, instance/service-accounts/ (a listing), .../default/ (`?recursive=true`:
  JSON), .../default/{email,aliases,scopes}, .../default/token (an access token with
  `expires_in`), .../default/identity (`audience` required, else 400; `format=standard`
  or `full`); a folder without `recursive` answers its listing; anything else is 404;
- ID tokens are real RS256 JWTs signed with a test RSA key: iss https://accounts.google.com,
  aud = the audience, azp = sub = the account's numeric unique id, iat, exp = iat + 1 hour;
  `format=full` adds email and email_verified. `certs()` verifies them.

Faults on demand: `fail(status)` (every answer), `hang()` (accept, never answer),
`down()` / `up()` (the port refuses, then listens again), `heal()`; `delay` slows answers.
It counts what it served: `count("identity")`, `requests`. Runs in daemon threads of the
test process and stops itself after `lifetime` seconds if a test forgets it.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ISSUER = "https://accounts.google.com"
PROJECT_ID = "stand-in-project"
PROJECT_NUMBER = "123456789012"
SA_EMAIL = f"engines@{PROJECT_ID}.iam.gserviceaccount.com"
SA_UNIQUE_ID = "104729550108245186931"  # a service account's numeric unique id (21 digits)
KEY_ID = "stand-in-key-1"
TOKEN_LIFETIME = 3600
ROOT = "/computeMetadata/v1/"
FLAVOR = {"Metadata-Flavor": "Google"}
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

# What `count()` calls each path.
KINDS = {
    "instance/service-accounts/default/identity": "identity",
    "instance/service-accounts/default/token": "token",
    "instance/service-accounts/default/email": "email",
    "instance/service-accounts/default/": "account",
    "project/project-id": "project-id",
}


# --------------------------------------------------------------------------- tokens

@cache
def _private_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(claims: dict[str, Any], kid: str = KEY_ID) -> str:
    """An RS256 JWT over `claims`, signed with the stand-in's key (also for other issuers)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    signing_input = (_b64(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + _b64(json.dumps(claims, separators=(",", ":")).encode()))
    signature = _private_key().sign(signing_input.encode(), padding.PKCS1v15(),
                                    hashes.SHA256())
    return signing_input + "." + _b64(signature)


def certs() -> dict[str, str]:
    """{kid: PEM public key}, as google.auth.jwt.decode(token, certs=...) takes them."""
    from cryptography.hazmat.primitives import serialization

    pem = _private_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {KEY_ID: pem.decode()}


def id_token_claims(audience: str, full: bool, now: int | None = None) -> dict[str, Any]:
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {"aud": audience, "azp": SA_UNIQUE_ID, "exp": issued + TOKEN_LIFETIME,
                              "iat": issued, "iss": ISSUER, "sub": SA_UNIQUE_ID}
    if full:
        claims |= {"email": SA_EMAIL, "email_verified": True}
    return claims


# --------------------------------------------------------------------------- the server

@dataclass(frozen=True)
class Seen:
    """One request as the stand-in saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    kind: str


class MetadataServer:
    """Start with `MetadataServer().start()`, or as a context manager."""

    def __init__(self, lifetime: float = 300.0) -> None:
        self.port = _free_port()
        self.delay = 0.0
        self.requests: list[Seen] = []
        self.issued: list[str] = []  # every ID token handed out, newest last
        self._failure: int | None = None
        self._hang = threading.Event()  # set: accept and never answer
        self._released = threading.Event()  # wakes hung handlers on heal/stop
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    # ---- lifecycle

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def env(self) -> dict[str, str]:
        """What points google-auth here: the metadata host and the ping's address."""
        return {"GCE_METADATA_HOST": self.address, "GCE_METADATA_IP": self.address}

    def start(self) -> MetadataServer:
        self.up()
        if not self._timer.is_alive():
            self._timer.start()
        return self

    def up(self) -> None:
        """Listen (again) on the same port."""
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self.port), _handler(self))
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         name="metadata-stand-in", daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections are refused, as for a server that is not there."""
        server, self._server = self._server, None
        self._released.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        self._released = threading.Event()

    def stop(self) -> None:
        self._timer.cancel()
        self.heal()
        self.down()

    def __enter__(self) -> MetadataServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ---- faults

    def fail(self, status: int) -> None:
        """Answer every request with `status` (e.g. 503), Metadata-Flavor included."""
        self._failure = status

    def hang(self) -> None:
        """Accept every request and never answer it."""
        self._hang.set()

    def heal(self) -> None:
        self._failure = None
        self._hang.clear()
        self.delay = 0.0
        self._released.set()
        self._released = threading.Event()

    # ---- what it saw

    def count(self, kind: str, status: int | None = 200) -> int:
        """Requests of one kind (see KINDS; "ping" for `/`), answered with `status`."""
        with self._lock:
            return sum(1 for seen in self.requests
                       if seen.kind == kind and (status is None or seen.status == status))

    # ---- answering

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, str, str]:
        """(status, content type, body) for one request, as the real server answers it."""
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if path == "/":
            return 200, "application/text", "computeMetadata/\n"
        if not path.startswith("/computeMetadata/"):
            return 404, "text/html", "Not Found"
        if "x-forwarded-for" in headers:
            return 403, "text/html", "Request contains X-Forwarded-For header"
        if headers.get("metadata-flavor") != "Google":
            return 403, "text/html", ("Missing required header: Metadata-Flavor "
                                      "(expected: Google)")
        if method != "GET" and not path.endswith("/identity"):
            return 405, "text/html", "Method Not Allowed"
        key = path[len(ROOT):] if path.startswith(ROOT) else None
        if key is None:
            return (200, "application/text", "v1/\n") if path == "/computeMetadata/" \
                else (404, "text/html", "Not Found")
        return self._key(key, query)

    def _key(self, key: str, query: dict[str, list[str]]) -> tuple[int, str, str]:
        account = "instance/service-accounts/default/"
        values = {
            "project/project-id": PROJECT_ID,
            "project/numeric-project-id": PROJECT_NUMBER,
            "instance/id": "4520031799277581759",
            "instance/region": f"projects/{PROJECT_NUMBER}/regions/us-central1",
            "instance/zone": f"projects/{PROJECT_NUMBER}/zones/us-central1-1",
            account + "email": SA_EMAIL,
            account + "aliases": "default",
            account + "scopes": "\n".join(SCOPES),
        }
        if key in values:
            return 200, "application/text", values[key]
        if key in ("instance/service-accounts/", "instance/service-accounts"):
            return 200, "application/text", f"default/\n{SA_EMAIL}/\n"
        if key in (account, account.rstrip("/")):
            if query.get("recursive", [""])[0].lower() == "true":
                return 200, "application/json", json.dumps(
                    {"aliases": ["default"], "email": SA_EMAIL, "scopes": list(SCOPES)})
            return 200, "application/text", "aliases\nemail\nidentity\nscopes\ntoken\n"
        if key == account + "token":
            return 200, "application/json", json.dumps({
                "access_token": "ya29.stand-in-" + secrets.token_urlsafe(24),
                "expires_in": TOKEN_LIFETIME - 1, "token_type": "Bearer"})
        if key == account + "identity":
            audience = query.get("audience", [""])[0]
            if not audience:
                return 400, "text/html", "non-empty audience parameter required"
            token_format = query.get("format", ["standard"])[0]
            if token_format not in ("standard", "full"):
                return 400, "text/html", f"invalid format: {token_format}"
            token = mint(id_token_claims(audience, token_format == "full"))
            with self._lock:
                self.issued.append(token)
            return 200, "text/html; charset=utf-8", token
        return 404, "text/html", "Not Found"

    def kind(self, path: str) -> str:
        if path == "/":
            return "ping"
        key = path[len(ROOT):] if path.startswith(ROOT) else path
        return KINDS.get(key, KINDS.get(key + "/", key))

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client giving up on a hung answer is the point of the fault, not an error


def _handler(stand_in: MetadataServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "Metadata Server for VM"
        sys_version = ""

        def log_message(self, *_args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            parts = urlsplit(self.path)
            released = stand_in._released
            if stand_in._hang.is_set():
                stand_in.record(Seen(self.command, parts.path, parse_qs(parts.query), headers,
                                     0, stand_in.kind(parts.path)))
                released.wait(300)
                self.close_connection = True
                return
            if stand_in.delay:
                released.wait(stand_in.delay)
            if stand_in._failure is not None:
                status, content_type, body = (stand_in._failure, "text/html",
                                              f"error {stand_in._failure}")
            else:
                status, content_type, body = stand_in.answer(self.command, self.path, headers)
            stand_in.record(Seen(self.command, parts.path, parse_qs(parts.query), headers,
                                 status, stand_in.kind(parts.path)))
            data = body.encode()
            self.send_response(status)
            self.send_header("Metadata-Flavor", "Google")
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_HEAD = do_PUT = _serve

    return Handler


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
