"""`preflight probe`: ask the local `preflight serve` and print the one-line reason.

A kubelet records an exec probe's output in the pod's events, so `kubectl describe pod`
shows why the native sidecar has not started ("fail: routing.entries: … missing 1 (kpi)"),
where an HTTP probe shows only "statuscode: 503". The probe runs every few seconds for
minutes as a fresh process, so this module imports only `socket`, `signal` and (for the
verdict) `json`: an HTTP/1.0 GET to our own server needs no http.client (which brings ssl
and the email package), and one real-time timer bounds the whole run, name resolution
included: a hung server is reported, never waited for.
"""

from __future__ import annotations

import signal
import socket

TYPE_CHECKING = False  # not typing's: importing typing costs more than this module
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

ENDPOINTS = {"startup": "/startupz", "readiness": "/readyz", "liveness": "/livez"}
DEFAULT_TIMEOUT = 1.0
LINE_LIMIT = 1000  # bytes of the printed line: an event message, not a report
BODY_LIMIT = 64 * 1024  # a probe answer is one short line
VERDICT_LIMIT = 4 * 1024 * 1024
WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104

PASSING = 0
FAILING = 1  # serve answered: not started / not ready / checks stopped
UNREACHABLE = 3  # serve did not answer (down, not listening yet, hung, not HTTP)

# Worst first, as in the verdict's own summaries; a warning fails a --strict run.
FAILED_STATUSES = ("fail", "error", "warn")


class Answer:
    """An HTTP status and body (a plain class: dataclasses would import inspect and ast)."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:60]!r})"


class ProbeTimeout(Exception):
    """The run's own bound expired."""


class NotHTTP(Exception):
    """What answered is not an HTTP server."""


def target(host: str) -> str:
    """serve listens on a wildcard address; the probe asks it on loopback."""
    return WILDCARDS.get(host, host)


def expire(_signum: int, _frame: FrameType | None) -> None:
    raise ProbeTimeout


def ask(host: str, port: int, path: str, limit: int, timeout: float) -> Answer:
    """One HTTP/1.0 GET on a connection of its own; the body up to `limit` bytes."""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        connection.sendall(f"GET {path} HTTP/1.0\r\nHost: {authority}\r\n"
                           "User-Agent: preflight-probe\r\nAccept: */*\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)
            if not chunk or len(received) > 65536:
                raise NotHTTP("no complete HTTP header")
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not (
                status_line[1].isdigit() and len(status_line[1]) == 3):
            raise NotHTTP(f"not an HTTP status line: {lines[0][:40]!r}")
        length = next((int(v) for k, _, v in (line.partition(":") for line in lines[1:])
                       if k.strip().lower() == "content-length" and v.strip().isdigit()), None)
        wanted = limit if length is None else min(length, limit)
        while len(body) < wanted:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return Answer(int(status_line[1]), body[:limit])


def first_line(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text.splitlines()[0].strip() if text else ""


def failing_checks(verdict: Any) -> list[str]:
    """'name: message' for each check that makes the verdict fail, failures first."""
    if not isinstance(verdict, dict) or not isinstance(verdict.get("checks"), list):
        return []
    failing = FAILED_STATUSES if verdict.get("strict") is True else FAILED_STATUSES[:2]
    found: list[tuple[int, str]] = []
    for check in verdict["checks"]:
        if (not isinstance(check, dict) or check.get("status") not in failing
                or (check["status"] == "warn" and check.get("ignored") is True)):
            continue
        name = str(check.get("name", "?"))
        message = " ".join(str(check.get("message", "")).split())
        found.append((failing.index(check["status"]), f"{name}: {message}" if message else name))
    return [text for _, text in sorted(found, key=lambda item: item[0])]


def reason(kind: str, answer: Answer, verdict: Answer | None) -> str:
    """The one line to print, from what serve answered. Pure: tested without a server."""
    line = first_line(answer.body)
    if answer.status == 200:
        return line or ("ok" if kind == "liveness" else "pass")
    if kind == "liveness":
        return f"not live (HTTP {answer.status}): {line or 'no reason given'}"
    details: list[str] = []
    word = line.split(":", 1)[0].strip() or "fail"
    if verdict is not None:
        import json  # only when serve did not answer 200: the common pass costs nothing

        try:
            document = json.loads(verdict.body)
        except ValueError:
            document = None
        details = failing_checks(document)
        if isinstance(document, dict) and document:
            word = "fail" if verdict.status == 200 else "checking"
    if details:
        return f"{word}: " + "; ".join(details)
    if word == "checking":
        return "checking: no check has failed yet, the first round is still running"
    return line or f"not passing (HTTP {answer.status})"


def fit(text: str, limit: int = LINE_LIMIT) -> str:
    """One line of at most `limit` UTF-8 bytes; '…' marks a cut."""
    text = " ".join(text.split())
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit - 3].decode(errors="ignore") + "…"


def run(kind: str, address: tuple[str, int], verdict_at: tuple[str, int],
        timeout: float = DEFAULT_TIMEOUT) -> tuple[int, str]:
    """(exit code, line). Exit 0 only on HTTP 200 from the probe's endpoint; when it is not
    200, the failing checks' messages come from serve's /verdict listener."""
    host, port = address
    asked = target(host)
    where = f"preflight serve at [{asked}]:{port}" if ":" in asked else (
        f"preflight serve at {asked}:{port}")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        answer = ask(asked, port, ENDPOINTS[kind], BODY_LIMIT, timeout)
        verdict = None
        if answer.status != 200 and kind != "liveness":
            try:
                verdict = ask(target(verdict_at[0]), verdict_at[1], "/verdict",
                              VERDICT_LIMIT, timeout)
            except (OSError, NotHTTP):
                verdict = None  # the probe's own answer still says enough
    except ProbeTimeout:
        return UNREACHABLE, fit(f"no answer from {where} within {timeout:g} s")
    except ConnectionRefusedError:
        return UNREACHABLE, fit(f"{where} is not listening (connection refused): "
                                "is the sidecar running?")
    except TimeoutError:
        return UNREACHABLE, fit(f"no answer from {where} within {timeout:g} s")
    except NotHTTP as error:
        return UNREACHABLE, fit(f"no usable answer from {where}: {error}")
    except OSError as error:
        return UNREACHABLE, fit(f"no usable answer from {where}: "
                                f"{error.strerror or type(error).__name__}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    code = PASSING if answer.status == 200 else FAILING
    return code, fit(reason(kind, answer, verdict))
