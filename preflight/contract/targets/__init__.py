"""What the engines build for a route or a backend-selecting variable: the probe's target.

Each backend has a module here with `target(subject, environ) -> Endpoint | Unbuildable`:
what the engines would build, read from the profile only. A route's subject carries its
kind's `BackendSpec` (config keys, defaults, stand-in variables, key groups, probe facts);
a variable's subject the variables its backend reads (its rule's `probe`), each read by its
own rule when the profile has one. A missing or unusable value is an `Unbuildable` naming
the key or variable, never a probe.

Endpoints are hashable and compare by what identifies the thing probed (so seventeen
Firestore routes in one project are one probe); their secret-free `where` phrase ("the
`host`/`port` of its config") does not take part in that identity. Nothing here renders a
config value: hosts, passwords, keys and connection strings stay inside the endpoint,
whose repr is its `where`. Values the profile supplies (defaults) are not secret and may
be named.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from preflight.contract.profile import BackendSpec, ConfigKey, VariableRule
from preflight.contract.variables import Reading
from preflight.contract.variables import read as read_rule

# Normalised backend type -> the module that knows what the engines build for it.
BACKENDS = ("redis", "s3", "firestore", "dynamodb", "gcs", "azure_blob", "cosmos", "bigquery")
DEFAULT = "the engines' default"
CONFIG = " of its config"


@dataclass(frozen=True)
class VariableRead:
    """A variable the probed backend reads: by its rule if the profile has one (empty,
    case and default as the rule says), else as the engines' `getenv(variable) or default`."""

    variable: str
    rule: VariableRule | None = None
    default: str | None = None

    def reading(self, environ: Mapping[str, str]) -> Reading:
        if self.rule is not None:
            return read_rule(self.rule, environ)
        raw = environ.get(self.variable) or None
        return Reading(self.variable, raw, raw or self.default)


@dataclass(frozen=True)
class ProbeSubject:
    """One thing the engines will build: a usable route, or a backend-selecting variable."""

    kind: str  # resource kind ("chat_bus"), or the variable's name ("CHAT_BUS_BACKEND")
    origin: str  # secret-free: "route `chat_bus-t_system-dev` (t_system/dev)"
    backend: str  # normalised backend type, a key of BACKENDS
    # SECRET: never rendered, logged or put in a metric.
    config: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # A route's: its kind's spec of this backend (None: the kind declares none).
    spec: BackendSpec | None = field(default=None, compare=False, repr=False)
    # A variable's: what the backend it selects reads, by role ("host", "dataset", ...).
    reads: Mapping[str, VariableRead] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.kind} ({self.origin})"

    @property
    def from_variable(self) -> bool:
        """A backend-selecting variable's subject names the variable as kind and origin."""
        return self.kind == self.origin

    @property
    def contract(self) -> BackendSpec:
        return self.spec or BackendSpec(self.backend)


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


# ------------------------------------------------------------ reading a route's config

@dataclass(frozen=True)
class Value:
    """A value the engines will use, and where it came from (never the value itself)."""

    value: Any = field(repr=False)
    source: str  # "`bucket` of its config", "RAW_BUCKET", or DEFAULT
    from_profile: bool = False  # a default or if_empty of the profile: not secret
    keep_empty: bool = False  # an empty string the engines pass on (their client decides)

    @property
    def from_config(self) -> bool:
        return self.source.endswith(CONFIG)

    def named(self, noun: str) -> str:
        """'the bucket in RAW_BUCKET', or 'table tabular_store (the engines' default)'."""
        if self.from_profile:
            return f"{noun} {self.value} ({self.source})"
        return f"the {noun} in {self.source}"


def given(value: Any) -> bool:
    """A config value the engines use: their `or` / `not` pass over a falsy one ("", None,
    0, False, {}) as if it were absent."""
    return bool(value)


def _key(key: ConfigKey, config: Mapping[str, Any], environ: Mapping[str, str],
         ) -> Value | None:
    """One key as the engines read it: the config's value, else if_empty for an empty one,
    else a stand-in variable, else the default for an absent one."""
    here = f"`{key.name}`{CONFIG}"
    value = config.get(key.name)
    if given(value):
        return Value(value, here)
    if key.name in config and key.if_empty is not None:
        return Value(key.if_empty, f"{DEFAULT} for an empty `{key.name}`", True)
    variable = next((name for name in key.stand_in if environ.get(name)), None)
    if variable is not None:
        return Value(environ[variable], variable)
    if key.name in config and not key.stand_in:
        # empty, used as it is: the client decides (keep_empty), or the target says what follows
        return Value(value, here, keep_empty=key.keep_empty and value == "")
    if key.name not in config and key.default is not None:
        return Value(key.default, DEFAULT, True)
    return None


def _missing(names: tuple[str, ...], stand_in: tuple[str, ...], together: bool = False,
             ) -> Unbuildable:
    keys = "/".join(f"`{name}`" for name in names)
    if not stand_in:
        return Unbuildable(f"no {keys} in its config",
                           f"set {keys} in the route's config")
    variables = "/".join(stand_in)
    if together:
        return Unbuildable(f"not both of {keys} in its config, and {variables} are not both "
                           "set (the engines take them together from one place)",
                           f"set {keys} in the route's config, or every one of {variables}")
    return Unbuildable(f"no {keys} in its config, and {unset(stand_in)}",
                       f"set {keys} in the route's config, or {' or '.join(stand_in)}")


def unset(variables: tuple[str, ...]) -> str:
    """'X is not set', or 'neither X nor Y is set'."""
    if len(variables) == 1:
        return f"{variables[0]} is not set"
    return f"neither {' nor '.join(variables)} is set"


def resolve(spec: BackendSpec, config: Mapping[str, Any], environ: Mapping[str, str],
            ) -> dict[str, Value] | Unbuildable:
    """Every config key of the spec as the engines read it; a needed one missing is the
    first `Unbuildable`. A group's keys come from the config only when all are set there,
    else all from their variables."""
    values: dict[str, Value] = {}
    for group in spec.together:
        if all(given(config.get(name)) for name in group.keys):
            source = "/".join(f"`{name}`" for name in group.keys) + CONFIG
            values |= {name: Value(config[name], source) for name in group.keys}
        elif all(environ.get(variable) for variable in group.stand_in):
            source = "/".join(group.stand_in)
            values |= {name: Value(environ[variable], source)
                       for name, variable in zip(group.keys, group.stand_in, strict=True)}
        else:
            return _missing(group.keys, group.stand_in, together=True)
    for key in spec.config:
        if key.name in values:
            continue
        found = _key(key, config, environ)
        if found is not None:
            values[key.name] = found
        elif key.needed:
            return _missing((key.name,), key.stand_in)
    return values


def text(value: Value, key: str) -> str | Unbuildable:
    """A value the engines use as a string: a config value of another type is a finding."""
    if isinstance(value.value, str) and (value.value or value.keep_empty):
        return value.value
    if value.from_config:
        what = "is empty" if not given(value.value) else "is not a string"
        return Unbuildable(f"`{key}` in its config {what}",
                           f"set `{key}` in the route's config to a name, or remove it")
    return Unbuildable(f"{value.source} is empty", f"set {value.source}")


def texts(values: Mapping[str, Value], *keys: str) -> list[str] | Unbuildable:
    """Each key's string; a key the profile gives this backend no value for is a finding."""
    found: list[str] = []
    for key in keys:
        if key not in values:
            return Unbuildable(f"no `{key}` in its config", f"set `{key}` in the route's config")
        value = text(values[key], key)
        if isinstance(value, Unbuildable):
            return value
        found.append(value)
    return found


Target = Callable[["ProbeSubject", Mapping[str, str]], "Endpoint | Unbuildable"]


def target_of(backend: str) -> Target | None:
    """The backend's `target`, its module imported on first use; None without a probe."""
    if backend not in BACKENDS:
        return None
    found: Target = importlib.import_module(f"{__name__}.{backend}").target
    return found
