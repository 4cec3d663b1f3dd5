"""`preflight probe`: ask the local `preflight serve` and print the one-line reason.

A kubelet records an exec probe's output in the pod's events, so `kubectl describe pod`
shows why the native sidecar has not started ("fail: routing.entries: … missing 1 (kpi)"),
where an HTTP probe shows only "statuscode: 503". The probe runs every few seconds for
minutes, so it imports only the standard library, and one timer bounds the whole run
(name resolution included): a hung server is reported, never waited for.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class ProbeTimeout(Exception):
    """The run's own bound expired."""


def target(host: str) -> str:
    """serve listens on a wildcard address; the probe asks it on loopback."""
    return WILDCARDS.get(host, host)


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """One real-time timer over everything inside, DNS and slow answers included."""

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise ProbeTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def ask(connection: http.client.HTTPConnection, path: str, limit: int) -> Answer:
    connection.request("GET", path, headers={"Accept": "*/*", "User-Agent": "preflight-probe"})
    response = connection.getresponse()
    body = response.read(limit + 1)
    if len(body) > limit:  # keep the connection unusable rather than half-read
        connection.close()
    return Answer(response.status, body)


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


def run(kind: str, host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> tuple[int, str]:
    """(exit code, line). Exit 0 only on HTTP 200 from the probe's endpoint."""
    address = f"[{target(host)}]:{port}" if ":" in target(host) else f"{target(host)}:{port}"
    where = f"preflight serve at {address}"
    connection = http.client.HTTPConnection(target(host), port, timeout=timeout)
    try:
        with bounded(timeout):
            answer = ask(connection, ENDPOINTS[kind], BODY_LIMIT)
            verdict = None
            if answer.status != 200 and kind != "liveness":
                try:
                    verdict = ask(connection, "/verdict", VERDICT_LIMIT)
                except (OSError, http.client.HTTPException):
                    verdict = None  # the probe's own answer still says enough
    except ProbeTimeout:
        return UNREACHABLE, fit(f"no answer from {where} within {timeout:g} s")
    except ConnectionRefusedError:
        return UNREACHABLE, fit(f"{where} is not listening (connection refused): "
                                "is the sidecar running?")
    except (OSError, http.client.HTTPException) as error:
        detail = (error.strerror if isinstance(error, OSError) and error.strerror
                  else type(error).__name__)
        if isinstance(error, socket.timeout):
            detail = "timed out"
        return UNREACHABLE, fit(f"no usable answer from {where}: {detail}")
    finally:
        connection.close()
    code = PASSING if answer.status == 200 else FAILING
    return code, fit(reason(kind, answer, verdict))
