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

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, env_text, text

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


def _port(value: Any, where: str) -> int | Unbuildable:
    """As int() reads it (the engines' `int(os.getenv("REDIS_PORT", 6379))`)."""
    try:
        port = int(value)
    except (TypeError, ValueError):
        return Unbuildable(f"{where} is not a port number",
                           f"set {where} to the Redis port (1-65535)")
    if isinstance(value, bool) or not 0 < port < 65536:
        return Unbuildable(f"{where} is not a port number from 1 to 65535",
                           f"set {where} to the Redis port (1-65535)")
    return port


def _flag(value: Any, key: str) -> bool | Unbuildable:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    if value is None:
        return False
    return Unbuildable(f"`{key}` in its config is not true or false",
                       f"set `{key}` in the route's config to true or false")


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> RedisEndpoint | Unbuildable:
    if subject.kind == ENV_KIND:
        return _from_environment(environ)
    config = subject.config
    host = text(config, "host")
    if isinstance(host, Unbuildable):
        return host
    if host is None:
        return Unbuildable("no `host` in its config",
                           "set `host` (and `port`) in the route's config to the Redis server")
    raw_port = config.get("port")
    port = _port(DEFAULT_PORT if raw_port is None else raw_port, "`port` in its config")
    if isinstance(port, Unbuildable):
        return port
    db_value = config.get("db") if config.get("db") is not None else 0
    if isinstance(db_value, bool) or not str(db_value).strip().isdigit():
        return Unbuildable("`db` in its config is not a database number",
                           "set `db` in the route's config to a number from 0 (the default)")
    password = text(config, "password")
    username = text(config, "username")
    for value in (password, username):
        if isinstance(value, Unbuildable):
            return value
    assert not isinstance(password, Unbuildable)
    assert not isinstance(username, Unbuildable)
    tls: bool | Unbuildable = False
    for key in ("ssl", "tls"):
        if key in config:
            tls = _flag(config[key], key)
            if isinstance(tls, Unbuildable) or tls:
                break
    if isinstance(tls, Unbuildable):
        return tls
    return RedisEndpoint(host=host, port=port, db=int(str(db_value).strip()), username=username,
                         password=password, tls=tls, where="the `host`/`port` of its config")


def _from_environment(environ: Mapping[str, str]) -> RedisEndpoint | Unbuildable:
    host = environ.get("REDIS_HOST", "localhost")
    if not host.strip():
        return Unbuildable("REDIS_HOST is set but empty",
                           "set REDIS_HOST to the Redis host, or unset it for localhost")
    port = _port(environ.get("REDIS_PORT", DEFAULT_PORT), "REDIS_PORT")
    if isinstance(port, Unbuildable):
        return port
    where = "REDIS_HOST/REDIS_PORT"
    if env_text(environ, "REDIS_HOST") is None and env_text(environ, "REDIS_PORT") is None:
        where = "localhost:6379 (REDIS_HOST/REDIS_PORT are unset)"
    return RedisEndpoint(host=host, port=port, where=where, from_env=True)


