"""The one verdict model every output renders from: file, termination log, stdout, HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from preflight import __version__
from preflight.config import Config

SCHEMA_ID = "preflight.report.verdict/v1"


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


# Most important first: the order summaries and termination messages list checks in.
SEVERITY = (Status.FAIL, Status.ERROR, Status.WARN, Status.SKIPPED, Status.PASS)


class Scrub(Protocol):
    def __call__(self, text: str) -> str: ...

    def tree(self, value: Any) -> Any: ...


class ExitCode(IntEnum):
    PASS = 0
    FAIL = 1
    USAGE = 2
    NOT_READY = 3
    SIGINT = 130
    SIGTERM = 143


@dataclass(frozen=True)
class Outcome:
    """What judging an observation concluded. Pure data: no I/O produced it."""

    status: Status
    message: str
    remediation: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    transient: bool = False  # for ERROR: would a later attempt plausibly pass?


@dataclass(frozen=True)
class CheckResult:
    name: str
    outcome: Outcome
    attempts: int
    duration_ms: int
    ignored: bool = False  # a fail or error the operator chose to accept (--ignore)
    phase: str = "startup"  # or "first_use": what a failure means for the engines

    @property
    def status(self) -> Status:
        return self.outcome.status

    def scrubbed(self, scrub: Scrub) -> CheckResult:
        outcome = self.outcome
        return replace(self, outcome=replace(
            outcome, message=scrub(outcome.message),
            remediation=None if outcome.remediation is None else scrub(outcome.remediation),
            details=scrub.tree(dict(outcome.details))))

    def softened(self) -> CheckResult:
        """--ignore: a failure is shown as a warning, marked, never hidden."""
        if self.status not in (Status.FAIL, Status.ERROR):
            return self
        outcome = replace(self.outcome, status=Status.WARN,
                          message=f"ignored {self.status.value}: {self.outcome.message}",
                          details={**self.outcome.details, "ignored_status": self.status.value})
        return replace(self, outcome=outcome, ignored=True)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name,
            "phase": self.phase,
            "status": self.outcome.status.value,
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "message": self.outcome.message,
            "remediation": self.outcome.remediation,
            "details": dict(self.outcome.details),
        }
        if self.outcome.status is Status.ERROR:
            result["transient"] = self.outcome.transient
        if self.ignored:
            result["ignored"] = True
        return result


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Verdict:
    config: Config
    checks: tuple[CheckResult, ...]
    started_at: datetime
    finished_at: datetime
    interrupted_by: int | None = None  # signal number

    def scrubbed(self, scrub: Scrub) -> Verdict:
        """The copy every output renders from: no known secret in any message or detail."""
        return replace(self, checks=tuple(check.scrubbed(scrub) for check in self.checks))

    def _strict_warning(self, check: CheckResult) -> bool:
        return self.config.strict and check.status is Status.WARN and not check.ignored

    @property
    def failed(self) -> bool:
        return self.interrupted_by is not None or any(
            c.status in (Status.FAIL, Status.ERROR) or self._strict_warning(c)
            for c in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted_by is not None:
            return ExitCode(128 + self.interrupted_by)
        if any(c.status is Status.FAIL or (c.status is Status.ERROR and not c.outcome.transient)
               or self._strict_warning(c) for c in self.checks):
            return ExitCode.FAIL
        if any(c.status is Status.ERROR for c in self.checks):
            return ExitCode.NOT_READY
        return ExitCode.PASS

    def summary(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for check in self.checks:
            counts[check.status.value] += 1
        return counts

    def by_severity(self) -> list[CheckResult]:
        return sorted(self.checks, key=lambda c: SEVERITY.index(c.status))

    @property
    def duration_ms(self) -> int:
        return round((self.finished_at - self.started_at).total_seconds() * 1000)

    def to_dict(self) -> dict[str, Any]:
        config = self.config
        return {
            "schema": SCHEMA_ID,
            "status": "fail" if self.failed else "pass",
            "exit_code": int(self.exit_code),
            "interrupted": self.interrupted_by is not None,
            "started_at": rfc3339(self.started_at),
            "finished_at": rfc3339(self.finished_at),
            "duration_ms": self.duration_ms,
            "preflight_version": __version__,
            "strict": config.strict,
            "target": {
                "project": config.project,
                "database": config.database,
                "bucket": config.bucket,
                "collection": config.collection,
                "scopes": [scope.label for scope in config.scopes],
                "required_kinds": list(config.kinds),
                "serving_scopes": [scope.label for scope in config.serving_scopes],
                "profile": config.profile.name,
                "emulator": config.emulator_host is not None,
            },
            "checks": [check.to_dict() for check in self.checks],
            "summary": self.summary(),
        }
