"""PING a Redis server over RESP2, sending nothing but AUTH, SELECT and PING.

Hand-written on purpose (about the size of redis-py's connection set-up): the rule is
"no command beyond PING/AUTH/HELLO" (plus SELECT for a non-zero `db`, which only changes
this connection), and redis-py's handshake also sends CLIENT SETINFO and, depending on
its version, more. Four one-line replies need no client library. Server error texts are
classified here and dropped: they never leave this module.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from dataclasses import dataclass

from preflight.contract.targets.redis import RedisEndpoint
from preflight.observe.probing import Clients


@dataclass(frozen=True)
class RedisObservation:
    """How far the conversation got; an error reply classified, never its text."""

    # pong; refused, timeout, unresolved, closed (transient); tls_untrusted, tls_failed;
    # needs_password, wrong_password, no_password_on_server, no_such_db, denied,
    # not_ready, error_reply (the server answered an error)
    outcome: str
    stage: str = "connect"  # connect, tls, auth, select, ping
    reply: str | None = None  # an error reply's first word, e.g. WRONGPASS, LOADING
    seconds: float = 0.0


MAX_LINE = 4096
NOT_READY = frozenset({"LOADING", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN"})
_WORD = re.compile(r"[A-Z]{1,24}")


class _Closed(Exception):
    pass


def _command(*parts: str | int) -> bytes:
    encoded = [str(part).encode("utf-8") for part in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(
        b"$%d\r\n%s\r\n" % (len(part), part) for part in encoded)


def _read_line(sock: socket.socket) -> bytes:
    buffer = b""
    while not buffer.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise _Closed
        buffer += chunk
        if len(buffer) > MAX_LINE:
            break
    return buffer.rstrip(b"\r\n")


def _classify_error(stage: str, line: bytes) -> RedisObservation:
    text = line[1:].decode("utf-8", "replace")
    first = text.split(" ", 1)[0]
    word = first if _WORD.fullmatch(first) else None
    lowered = text.lower()
    if word in NOT_READY:
        return RedisObservation("not_ready", stage, word)
    if word == "NOAUTH":
        return RedisObservation("needs_password", stage, word)
    if word == "WRONGPASS" or (stage == "auth" and "invalid password" in lowered):
        return RedisObservation("wrong_password", stage, word)
    if stage == "auth" and ("without any password configured" in lowered
                            or "no password is set" in lowered):
        return RedisObservation("no_password_on_server", stage, word)
    if stage == "select" and "db index" in lowered:
        return RedisObservation("no_such_db", stage, word)
    if word == "DENIED":
        return RedisObservation("denied", stage, word)
    return RedisObservation("error_reply", stage, word)


def ping(endpoint: RedisEndpoint, timeout: float) -> RedisObservation:
    """One connection, bounded as a whole by `timeout`; always closed again."""
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except ConnectionRefusedError:
        return RedisObservation("refused")
    except socket.gaierror:
        return RedisObservation("unresolved")
    except TimeoutError:
        return RedisObservation("timeout", seconds=round(timeout, 2))
    except OSError:
        return RedisObservation("closed")
    stage = "tls" if endpoint.tls else "auth"
    try:
        if endpoint.tls:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                sock = ssl.create_default_context().wrap_socket(
                    sock, server_hostname=endpoint.host)
            except ssl.SSLCertVerificationError:
                return RedisObservation("tls_untrusted", stage)
            except ssl.SSLError:
                return RedisObservation("tls_failed", stage)
        conversation: list[tuple[str, bytes, bytes]] = []
        if endpoint.password is not None:
            credentials = ((endpoint.username, endpoint.password) if endpoint.username
                           else (endpoint.password,))
            conversation.append(("auth", _command("AUTH", *credentials), b"+OK"))
        if endpoint.db:
            conversation.append(("select", _command("SELECT", endpoint.db), b"+OK"))
        conversation.append(("ping", _command("PING"), b"+PONG"))
        for stage, command, expected in conversation:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            sock.sendall(command)
            line = _read_line(sock)
            if line.startswith(b"-"):
                return _classify_error(stage, line)
            if line != expected:
                return RedisObservation("error_reply", stage, "UNEXPECTED")
        return RedisObservation("pong", "ping")
    except TimeoutError:
        return RedisObservation("timeout", stage, seconds=round(timeout, 2))
    except (_Closed, OSError):
        return RedisObservation("closed", stage)
    finally:
        sock.close()


def observe(endpoint: RedisEndpoint, timeout: float, clients: Clients) -> RedisObservation:
    return ping(endpoint, timeout)
