"""PING with redis-py, built as the engines build their client: one bounded try, no retries.

`redis.Redis(host, port, db, password, decode_responses=True)` as the engines' chat bus
(docs/ENGINES.md §5.8), plus a route's `username` and `ssl`, the call timeout on connect
and on every read, and redis-py's retries off. Its handshake is the engines' client's:
HELLO (with AUTH when there is a password), then CLIENT SETINFO (and CLIENT
MAINT_NOTIFICATIONS, redis-py 8) whose refusals it ignores, SELECT for a non-zero db, and
PING: each a connection command (Redis's `@connection` ACL category), none a write
(tests/test_backends_servers.py watches with MONITOR and checks each command's flags).
Server error texts are classified here and dropped: they never leave this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from preflight.contract.targets.redis import RedisEndpoint
from preflight.observe.clients import Clients
from preflight.observe.errors import classify


@dataclass(frozen=True)
class RedisObservation:
    """The server's definitive answer; an error reply classified, never its text."""

    # pong; tls_untrusted, tls_failed; needs_password, wrong_password,
    # no_password_on_server, no_such_db, denied, error_reply
    outcome: str
    reply: str | None = None  # an error reply's first word, e.g. NOPERM


_WORD = re.compile(r"[A-Z]{1,24}")


def _authentication(endpoint: RedisEndpoint, text: str) -> RedisObservation:
    if endpoint.password is None:
        return RedisObservation("needs_password")
    if "without any password configured" in text or "no password is set" in text:
        return RedisObservation("no_password_on_server")
    return RedisObservation("wrong_password")


def _reply(error: Exception) -> RedisObservation:
    word = str(getattr(error, "status_code", None) or str(error).split(" ", 1)[0])
    if "db index" in str(error).lower():
        return RedisObservation("no_such_db", word if _WORD.fullmatch(word) else None)
    if word == "DENIED":
        return RedisObservation("denied", word)
    return RedisObservation("error_reply", word if _WORD.fullmatch(word) else None)


def _tls(error: BaseException) -> RedisObservation | None:
    """A TLS handshake the server answered and the client refused: definitive."""
    import ssl

    cause = error.__cause__ or error.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return RedisObservation("tls_untrusted")
    if isinstance(cause, ssl.SSLError):
        return RedisObservation("tls_failed")
    return None


def observe(endpoint: RedisEndpoint, timeout: float, clients: Clients) -> RedisObservation:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    given: dict[str, Any] = {"host": endpoint.host, "port": endpoint.port,
                             "username": endpoint.username, "password": endpoint.password}
    client = redis.Redis(
        db=endpoint.db, ssl=endpoint.tls, decode_responses=True, socket_timeout=timeout,
        socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
        **{name: value for name, value in given.items() if value is not None})
    try:
        client.ping()
        return RedisObservation("pong")
    except redis.AuthenticationError as error:
        return _authentication(endpoint, str(error))
    except redis.ResponseError as error:
        return _reply(error)
    except redis.ConnectionError as error:
        seen = _tls(error)
        if seen is None:
            raise classify(error) from error
        return seen
    except Exception as error:
        raise classify(error) from error
    finally:
        client.close()
