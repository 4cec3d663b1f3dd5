"""What the engines build for a route or a backend-selecting variable: the probe's target.

Each backend has a module here with `target(subject, environ) -> Endpoint | Unbuildable`:
exactly what the engines would build (the same config keys, environment stand-ins and
defaults). A missing or unusable key is an `Unbuildable` naming the key, never a probe.

Endpoints are hashable and compare by what identifies the thing probed (so seventeen
Firestore routes in one project are one probe); their secret-free `where` phrase ("the
`host`/`port` of its config") does not take part in that identity. Nothing here renders a
config value: hosts, passwords, keys and connection strings stay inside the endpoint,
whose repr is its `where`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Normalised backend type -> the module that knows what the engines build for it.
BACKENDS = ("redis", "s3", "firestore", "dynamodb", "gcs", "azure_blob", "cosmos", "bigquery")


@dataclass(frozen=True)
class ProbeSubject:
    """One thing the engines will build: a usable route, or a backend-selecting variable."""

    kind: str  # resource kind ("chat_bus"), or the variable's name ("CHAT_BUS_BACKEND")
    origin: str  # secret-free: "route `chat_bus-t_system-dev` (t_system/dev)"
    backend: str  # normalised backend type, a key of BACKENDS
    # SECRET: never rendered, logged or put in a metric.
    config: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.kind} ({self.origin})"

    @property
    def from_variable(self) -> bool:
        """A backend-selecting variable's subject names the variable as kind and origin."""
        return self.kind == self.origin


@dataclass(frozen=True, repr=False)
class Endpoint:
    """What one probe reaches. Subclasses add the identifying fields, all hidden from repr."""

    backend: ClassVar[str]
    # How the subject's config and environment name it, e.g. "the `host`/`port` of its
    # config" or "REDIS_HOST/REDIS_PORT": never a value. Not part of the identity.
    where: str = field(compare=False, kw_only=True)

    def __repr__(self) -> str:
        return f"<{self.backend} endpoint: {self.where}>"


@dataclass(frozen=True)
class Unbuildable:
    """The engines would fail before any call (a key missing or unusable): nothing to probe."""

    message: str
    fix: str


# ------------------------------------------------------------ reading config values

def text(config: Mapping[str, Any], key: str) -> str | Unbuildable | None:
    """A config string the engines read with `config.get(key)` and treat as unset if falsy."""
    value = config.get(key)
    if not value:
        return None
    if not isinstance(value, str):
        return Unbuildable(f"`{key}` in its config is not a string",
                           f"set `{key}` in the route's config to a string")
    return value


def env_text(environ: Mapping[str, str], name: str) -> str | None:
    """A variable as the engines read it: `os.getenv(name)`, an empty value as unset."""
    return environ.get(name) or None


def key_or_variable(config: Mapping[str, Any], key: str, environ: Mapping[str, str],
                    variable: str) -> tuple[str, str] | Unbuildable | None:
    """`config[key]`, else the variable: (value, where it came from), or None for neither."""
    value = text(config, key)
    if isinstance(value, Unbuildable):
        return value
    if value is not None:
        return value, f"`{key}` of its config"
    from_env = env_text(environ, variable)
    return None if from_env is None else (from_env, variable)


# ------------------------------------------------------------ REST backends


Target = Callable[["ProbeSubject", Mapping[str, str]], "Endpoint | Unbuildable"]


def target_of(backend: str) -> Target | None:
    """The backend's `target`, its module imported on first use; None without a probe."""
    if backend not in BACKENDS:
        return None
    found: Target = importlib.import_module(f"{__name__}.{backend}").target
    return found
