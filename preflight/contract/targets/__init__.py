"""Deep probes: what the engines would build for a route or variable, and whether it answers.

Each backend has a module here with two pure functions and one thin I/O function:

- `target(subject, environ) -> Endpoint | Finding` derives exactly what the engines would
  build (the same config keys, environment stand-ins and defaults). A missing or unusable
  key is a `Finding` naming the key, never a probe.
- `observe(endpoint, timeout, shared) -> Observation` makes the one read-only call, through
  `preflight.observe.<backend>` (thin I/O that imports its client only when called);
- `judge(endpoint, observation) -> ProbeResult`: pass, fail with a fix, or transient.

Endpoints are hashable and compare by what identifies the thing probed (so seventeen
Firestore routes in one project are one probe); their secret-free `where` phrase ("the
`host`/`port` of its config") does not take part in that identity. Nothing in this
package renders a config value: hosts, passwords, keys and connection strings stay inside
the endpoint, whose repr is its `where`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import ModuleType
from typing import Any, ClassVar, Protocol, TypeVar

T = TypeVar("T")

# Normalised backend type -> the module with its target and judge.
BACKENDS: Mapping[str, str] = {
    "redis": "preflight.contract.targets.redis",
    "s3": "preflight.contract.targets.s3",
    "firestore": "preflight.contract.targets.firestore",
    "dynamodb": "preflight.contract.targets.dynamodb",
    "gcs": "preflight.contract.targets.gcs",
    "azure_blob": "preflight.contract.targets.azure_blob",
    "cosmos": "preflight.contract.targets.cosmos",
    "bigquery": "preflight.contract.targets.bigquery",
}


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


class Shared(Protocol):
    """Clients built once per run and shared between probes (Context.shared), and the call
    timeout they are built with: the configured attempt timeout, as for every check."""

    client_timeout: float

    def __call__(self, key: str, factory: Callable[[], T]) -> T: ...

    def aws_session(self) -> Any: ...


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
class Finding:
    """The engines would fail before any call: nothing to probe."""

    message: str
    fix: str


class Answer(StrEnum):
    PASS = "pass"  # noqa: S105 - an answer, not a password
    FAIL = "fail"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class ProbeResult:
    answer: Answer
    message: str  # secret-free: says what the engines' client met, and where
    fix: str | None = None


def passed(message: str) -> ProbeResult:
    return ProbeResult(Answer.PASS, message)


def failed(message: str, fix: str) -> ProbeResult:
    return ProbeResult(Answer.FAIL, message, fix)


def transient(message: str, fix: str | None = None) -> ProbeResult:
    return ProbeResult(Answer.TRANSIENT, message, fix)


class Backend(Protocol):
    def target(self, subject: ProbeSubject, environ: Mapping[str, str]) -> Endpoint | Finding:
        ...

    def observe(self, endpoint: Any, timeout: float, shared: Shared) -> Any: ...

    def judge(self, endpoint: Any, observation: Any) -> ProbeResult: ...


def backend(name: str) -> Backend | None:
    """The backend's module, imported on first use; None when it has no probe."""
    module_name = BACKENDS.get(name)
    if module_name is None:
        return None
    module: ModuleType = importlib.import_module(module_name)
    return module


# ------------------------------------------------------------ reading config values

def text(config: Mapping[str, Any], key: str) -> str | Finding | None:
    """A config string the engines read with `config.get(key)` and treat as unset if falsy."""
    value = config.get(key)
    if not value:
        return None
    if not isinstance(value, str):
        return Finding(f"`{key}` in its config is not a string",
                       f"set `{key}` in the route's config to a string")
    return value


def env_text(environ: Mapping[str, str], name: str) -> str | None:
    """A variable as the engines read it: `os.getenv(name)`, an empty value as unset."""
    return environ.get(name) or None


def key_or_variable(config: Mapping[str, Any], key: str, environ: Mapping[str, str],
                    variable: str) -> tuple[str, str] | Finding | None:
    """`config[key]`, else the variable: (value, where it came from), or None for neither."""
    value = text(config, key)
    if isinstance(value, Finding):
        return value
    if value is not None:
        return value, f"`{key}` of its config"
    from_env = env_text(environ, variable)
    return None if from_env is None else (from_env, variable)


# ------------------------------------------------------------ REST backends

@dataclass(frozen=True)
class HttpObservation:
    """One REST call's answer: the status and the API's error reason token, never a body."""

    status: int  # 0: no HTTP answer at all
    reason: str | None = None  # e.g. notFound, accessDenied, Unauthorized
    transport_error: str | None = None  # the class of the error when there was no answer
    no_credentials: bool = False  # Application Default Credentials could not be found
    credentials_refused: bool = False  # the token endpoint refused them


RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def http_trouble(service: str, where: str, seen: HttpObservation) -> ProbeResult | None:
    """What every REST probe says alike: no answer, no credentials, retryable statuses."""
    if seen.no_credentials:
        return failed(f"no Google credentials to reach {where}",
                      "provide Application Default Credentials (Workload Identity on GKE, "
                      "the service account on Cloud Run, or GOOGLE_APPLICATION_CREDENTIALS)")
    if seen.credentials_refused:
        return failed(f"the token endpoint refused the credentials for {where}",
                      "issue new credentials for the workload's service account")
    if seen.status == 0:
        return transient(f"no answer from {service} for {where} ({seen.transport_error})",
                         "check that the endpoint is up and reachable from this pod")
    if seen.status in RETRY_STATUSES:
        return transient(f"{service} answered {seen.status} for {where}")
    if seen.status == 401:
        return failed(f"{service} rejected the credentials for {where} (401)",
                      "check the workload's credentials or key")
    return None
