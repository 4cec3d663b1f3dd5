"""redis: the client redis-py builds, as the engines' chat bus or a route's config builds it.

A variable's subject (CHAT_BUS_BACKEND=redis) reads the host and port variables the
profile's `probe` names, by their rules (defaults included), and `int()`s the port as the
engines do (docs/ENGINES.md §5.7, §5.8); the bus connects with db 0, no password, no TLS.
A route's config is read as redis-py's keyword arguments: `host`, `port`, `db`,
`username`, `password`, `ssl` / `tls`, each with the kind's profile default when it
declares one, else redis-py's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.contract.targets import (
    CONFIG,
    Endpoint,
    ProbeSubject,
    Unbuildable,
    Value,
    resolve,
    text,
)
from preflight.contract.variables import port

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off", "")


@dataclass(frozen=True, repr=False)
class RedisEndpoint(Endpoint):
    backend = "redis"
    host: str | None = field(repr=False)  # None: redis-py's default
    port: int | None = field(repr=False)  # None: redis-py's default
    db: int = 0
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    from_env: bool = field(default=False, compare=False)


def _port(value: Any, where: str) -> int | Unbuildable:
    """As the engines' `int(os.getenv(...))` reads it, within a port's range."""
    number = port(value)
    if number is None:
        return Unbuildable(f"{where} is not a port number from 1 to 65535",
                           f"set {where} to the Redis port (1-65535)")
    return number


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
    if subject.from_variable:
        return _from_variables(subject, environ)
    resolved = resolve(subject.contract, subject.config, environ)
    if isinstance(resolved, Unbuildable):
        return resolved
    values = {key: Value(value, f"`{key}`{CONFIG}") for key, value in subject.config.items()
              if value is not None} | resolved
    if "host" not in values:
        return Unbuildable("no `host` in its config",
                           "set `host` (and `port`) in the route's config to the Redis server")
    strings: dict[str, str | None] = {}
    for key in ("host", "username", "password"):
        found = text(values[key], key) if key in values else None
        if isinstance(found, Unbuildable):
            return found
        strings[key] = found
    port = _port(values["port"].value, "`port` in its config") if "port" in values else None
    if isinstance(port, Unbuildable):
        return port
    db_value = values["db"].value if "db" in values else 0
    if isinstance(db_value, bool) or not str(db_value).strip().isdigit():
        return Unbuildable("`db` in its config is not a database number",
                           "set `db` in the route's config to a number from 0 (the default)")
    tls: bool | Unbuildable = False
    for key in ("ssl", "tls"):
        if key in subject.config:
            tls = _flag(subject.config[key], key)
            if isinstance(tls, Unbuildable) or tls:
                break
    if isinstance(tls, Unbuildable):
        return tls
    return RedisEndpoint(host=strings["host"], port=port, db=int(str(db_value).strip()),
                         username=strings["username"], password=strings["password"], tls=tls,
                         where="the `host`/`port` of its config")


def _from_variables(subject: ProbeSubject, environ: Mapping[str, str],
                    ) -> RedisEndpoint | Unbuildable:
    host_read, port_read = subject.reads.get("host"), subject.reads.get("port")
    host = host_read.reading(environ) if host_read else None
    port_reading = port_read.reading(environ) if port_read else None
    port: int | Unbuildable | None = None
    if port_reading is not None and port_reading.value is not None:
        port = _port(port_reading.value, port_reading.variable)
    if isinstance(port, Unbuildable):
        return port
    names = "/".join(read.variable for read in (host_read, port_read) if read is not None)
    where = names or "redis-py's defaults"
    if not any(reading is not None and reading.raw is not None
               for reading in (host, port_reading)):
        address = f"{host.value if host else 'the default host'}:{port or 'the default port'}"
        where = f"{address} ({names} are unset)" if names else address
    return RedisEndpoint(host=host.value if host else None, port=port, where=where,
                         from_env=True)
