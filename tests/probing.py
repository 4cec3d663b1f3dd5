"""Running backends.reachable through the real runner, in-process, against real servers.

Until the profile wiring registers the check and feeds it the registry's routes, this is how
the check runs whole: `run_check(subjects, environ)` builds the real Config from the real CLI
options, hands the subjects to the check's constructor (its seam), and lets `Runner` own
the attempts, retries, watchdog and deadline, exactly as in `preflight check`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.app.cli import check as check_command
from preflight.app.options import raw_values
from preflight.checks import NAMES
from preflight.checks.backends_reachable import BackendsReachable
from preflight.config import Config, build
from preflight.contract.profile import KindSpec, Profile, load
from preflight.contract.targets import ProbeSubject
from preflight.core.result import CheckResult
from preflight.judge.reachable import variable_reads
from preflight.run.runner import Runner


class EventLog:
    """Stands in for the structlog logger the runner is given: records every event."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def _record(self, level: str, message: str, **fields: Any) -> None:
        self.events.append({"level": level, "message": message, **fields})

    def debug(self, message: str, **fields: Any) -> None:
        self._record("debug", message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self._record("info", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._record("warning", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self._record("error", message, **fields)


def config(*, timeout: float = 6.0, attempt_timeout: float = 1.0, probes: bool = True,
           args: Iterable[str] = ()) -> Config:
    context = check_command.make_context(
        "check", ["--project", "probe-tests", "--bucket", "unused-bucket", *args])
    built = build(raw_values(context, context.params), {}, NAMES)
    return dataclasses.replace(built, timeout=timeout, attempt_timeout=attempt_timeout,
                               probes=probes and built.probes)


def usable_everywhere(profile: Profile | None = None) -> Profile:
    """The (built-in) profile with no backend marked unusable: for probing a backend the
    engines cannot use at this version as though a later version could (GCS, Azure Blob)."""
    chosen = profile or load()
    kinds = {name: kind._replace(backends=None if kind.backends is None else {
                 backend: spec._replace(unusable=None) for backend, spec in kind.backends.items()})
             for name, kind in chosen.kinds.items()}
    return chosen._replace(kinds=kinds)


def route(kind: str, backend: str, config: Mapping[str, Any] | None = None, *,
          name: str | None = None, scope: str = "t_system/dev",
          profile: Profile | None = None) -> ProbeSubject:
    """A route's subject as probe_subjects makes it: with its kind's spec of the backend
    in the (built-in) profile, if it declares one."""
    doc = name or f"{kind}-{scope.replace('/', '-')}"
    return route_subject(profile or load(), kind, f"route `{doc}` ({scope})", backend,
                         config or {})


def route_subject(profile: Profile, kind: str, origin: str, backend: str,
                  config: Mapping[str, Any]) -> ProbeSubject:
    spec = (profile.kinds.get(kind) or KindSpec(kind, "startup")).backends or {}
    return ProbeSubject(kind, origin, backend, dict(config), spec.get(backend))


def variable(name: str, backend: str, profile: Profile | None = None) -> ProbeSubject:
    """A variable's subject as probe_subjects makes it: with what the (built-in) profile's
    `probe` says the backend reads."""
    chosen = profile or load()
    for rules in (chosen.environment, chosen.backend_variables):
        for choice in ((rules[name].probe or {}).values() if name in rules else ()):
            if choice.backend == backend:
                return ProbeSubject(name, name, backend, reads=variable_reads(choice.reads, rules))
    return ProbeSubject(name, name, backend, {})


@dataclass
class Run:
    result: CheckResult
    log: EventLog
    wall: float
    checks: list[BackendsReachable] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.result.status.value

    @property
    def details(self) -> Mapping[str, Any]:
        return self.result.outcome.details

    @property
    def items(self) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self.details.get("results", [])
        return results

    def item(self, name: str) -> dict[str, Any]:
        """The one result whose route is `name`, or whose kind or variable is `name`."""
        found = [item for item in self.items if f"route `{name}`" in item["origin"]
                 or item["origin"] == name]
        found = found or [item for item in self.items if item["kind"] == name]
        assert len(found) == 1, f"{name!r}: {found}\n{self.describe()}"
        return found[0]

    def everything(self) -> str:
        """The result as every output would render it, and every log event."""
        return json.dumps({"check": self.result.to_dict(), "log": self.log.events},
                          default=str)

    def describe(self) -> str:
        return json.dumps(self.result.to_dict(), indent=1, default=str)[:6000]


def run_check(subjects: Iterable[ProbeSubject], environ: Mapping[str, str] | None = None, *,
              timeout: float = 6.0, attempt_timeout: float = 1.0, probes: bool = True,
              check: BackendsReachable | None = None, log: EventLog | None = None,
              strict: bool = True) -> Run:
    """`strict` (the default here): the probes' findings block, as under --strict, so the
    check's status is each answer's own — fail, or transient error; built in they warn
    (tests/test_first_use.py)."""
    chosen = list(subjects)
    probe = check or BackendsReachable(lambda _ctx: chosen, dict(environ or {}))
    log = log or EventLog()
    started = time.monotonic()
    checked = config(timeout=timeout, attempt_timeout=attempt_timeout, probes=probes,
                     args=["--strict"] if strict else [])
    runner = Runner(checked, [probe], deadline=started + timeout, cancel=threading.Event(),
                    log=log)
    [result] = runner.run()
    return Run(result, log, time.monotonic() - started, [probe])
