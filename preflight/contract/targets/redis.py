"""redis: connect, AUTH when there is a password, SELECT when db is not 0, PING.

A route's config gives `host` (required), `port` (6379), `password`, `username`, `db` (0)
and `ssl` / `tls` (off). `CHAT_BUS_BACKEND=redis` is what the engines' chat bus builds:
`REDIS_HOST` (default localhost) and `int(REDIS_PORT)` (default 6379), db 0, no password,
no TLS (engines/chat/service/transport_layer.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.contract.targets import (
    Endpoint,
    Finding,
    ProbeResult,
    ProbeSubject,
    Shared,
    env_text,
    failed,
    passed,
    text,
    transient,
)

ENV_KIND = "CHAT_BUS_BACKEND"
DEFAULT_PORT = 6379
TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off", "")


@dataclass(frozen=True, repr=False)
class RedisEndpoint(Endpoint):
    backend = "redis"
    host: str = field(repr=False)
    port: int = field(repr=False)
    db: int = 0
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    from_env: bool = field(default=False, compare=False)


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


def _port(value: Any, where: str) -> int | Finding:
    """As int() reads it (the engines' `int(os.getenv("REDIS_PORT", 6379))`)."""
    try:
        port = int(value)
    except (TypeError, ValueError):
        return Finding(f"{where} is not a port number",
                       f"set {where} to the Redis port (1-65535)")
    if isinstance(value, bool) or not 0 < port < 65536:
        return Finding(f"{where} is not a port number from 1 to 65535",
                       f"set {where} to the Redis port (1-65535)")
    return port


def _flag(value: Any, key: str) -> bool | Finding:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    if value is None:
        return False
    return Finding(f"`{key}` in its config is not true or false",
                   f"set `{key}` in the route's config to true or false")


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> RedisEndpoint | Finding:
    if subject.kind == ENV_KIND:
        return _from_environment(environ)
    config = subject.config
    host = text(config, "host")
    if isinstance(host, Finding):
        return host
    if host is None:
        return Finding("no `host` in its config",
                       "set `host` (and `port`) in the route's config to the Redis server")
    raw_port = config.get("port")
    port = _port(DEFAULT_PORT if raw_port is None else raw_port, "`port` in its config")
    if isinstance(port, Finding):
        return port
    db_value = config.get("db") if config.get("db") is not None else 0
    if isinstance(db_value, bool) or not str(db_value).strip().isdigit():
        return Finding("`db` in its config is not a database number",
                       "set `db` in the route's config to a number from 0 (the default)")
    password = text(config, "password")
    username = text(config, "username")
    for value in (password, username):
        if isinstance(value, Finding):
            return value
    assert not isinstance(password, Finding)
    assert not isinstance(username, Finding)
    tls: bool | Finding = False
    for key in ("ssl", "tls"):
        if key in config:
            tls = _flag(config[key], key)
            if isinstance(tls, Finding) or tls:
                break
    if isinstance(tls, Finding):
        return tls
    return RedisEndpoint(host=host, port=port, db=int(str(db_value).strip()), username=username,
                         password=password, tls=tls, where="the `host`/`port` of its config")


def _from_environment(environ: Mapping[str, str]) -> RedisEndpoint | Finding:
    host = environ.get("REDIS_HOST", "localhost")
    if not host.strip():
        return Finding("REDIS_HOST is set but empty",
                       "set REDIS_HOST to the Redis host, or unset it for localhost")
    port = _port(environ.get("REDIS_PORT", DEFAULT_PORT), "REDIS_PORT")
    if isinstance(port, Finding):
        return port
    where = "REDIS_HOST/REDIS_PORT"
    if env_text(environ, "REDIS_HOST") is None and env_text(environ, "REDIS_PORT") is None:
        where = "localhost:6379 (REDIS_HOST/REDIS_PORT are unset)"
    return RedisEndpoint(host=host, port=port, where=where, from_env=True)


def observe(endpoint: RedisEndpoint, timeout: float, shared: Shared) -> RedisObservation:
    from preflight.observe import redis

    return redis.ping(endpoint, timeout)


def _password_source(endpoint: RedisEndpoint) -> str:
    return ("the engines' chat bus, which connects without one (CHAT_BUS_BACKEND=redis)"
            if endpoint.from_env else "its config")


def judge(endpoint: RedisEndpoint, seen: RedisObservation) -> ProbeResult:
    where = endpoint.where
    extras = [part for part, on in ((f"db {endpoint.db}", endpoint.db != 0),
                                    ("TLS", endpoint.tls),
                                    ("AUTH", endpoint.password is not None)) if on]
    suffix = f" ({', '.join(extras)})" if extras else ""
    outcome, reply = seen.outcome, seen.reply
    if outcome == "pong":
        return passed(f"redis answered PING at {where}{suffix}")
    if outcome == "refused":
        return transient(f"redis refused the connection at {where}",
                         "start Redis, or fix the host/port the route or variables name")
    if outcome == "timeout":
        return transient(f"redis did not answer within {seen.seconds:g}s at {where} "
                         f"(while {_doing(seen.stage)})",
                         "check that Redis is up and reachable from this pod"
                         + ("; a server that does not speak TLS on that port never answers "
                            "the handshake: check `ssl`" if seen.stage == "tls" else ""))
    if outcome == "unresolved":
        return transient(f"the host of {where} does not resolve",
                         "fix the Redis host name, or the pod's DNS")
    if outcome in ("closed", "unreachable"):
        return transient(f"redis at {where} closed the connection while {_doing(seen.stage)}",
                         "check Redis's maxclients and logs, and the network path")
    if outcome == "tls_untrusted":
        return failed(f"the TLS certificate of redis at {where} is not trusted",
                      "give Redis a certificate from a CA the pod trusts, with its host name")
    if outcome == "tls_failed":
        return failed(f"the TLS handshake with redis at {where} failed",
                      "turn TLS off in the config (`ssl`) or on in Redis (tls-port)")
    if outcome == "not_ready":
        return transient(f"redis at {where} is not ready ({reply})")
    if outcome == "needs_password":
        return failed(f"redis at {where} requires a password, and none comes from "
                      f"{_password_source(endpoint)}",
                      "the engines' chat bus cannot authenticate: point REDIS_HOST at a Redis "
                      "it may use without a password" if endpoint.from_env else
                      "give the route's config the Redis `password`")
    if outcome == "wrong_password":
        return failed(f"redis at {where} rejected the `password` of its config",
                      "fix `password` (and `username`) in the route's config")
    if outcome == "no_password_on_server":
        return failed(f"redis at {where} has no password set, but its config gives one",
                      "remove `password` from the route's config, or set one in Redis "
                      "(requirepass)")
    if outcome == "no_such_db":
        return failed(f"redis at {where} has no database `db` of its config",
                      "set `db` in the route's config below Redis's `databases` setting")
    if outcome == "denied":
        return failed(f"redis at {where} refused the client (protected mode)",
                      "give Redis a password, or let it accept clients from this pod")
    return failed(f"redis at {where} answered {reply or 'an error'} while {_doing(seen.stage)}",
                  "check Redis's logs and the route's config")


def _doing(stage: str) -> str:
    return {"connect": "connecting", "tls": "negotiating TLS", "auth": "authenticating",
            "select": "selecting the database", "ping": "waiting for PONG"}.get(stage, stage)
