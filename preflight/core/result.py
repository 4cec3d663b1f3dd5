"""The result model every layer shares: a check's outcome, its result, and exit codes.

An Outcome is what judging concluded (pure data); a CheckResult adds what running the
check cost. The verdict (preflight.core.verdict) is built from these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any, Protocol


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


# What each exit code tells the caller, for `preflight --help` and the tables of README.md
# and docs/OPTIONS.md (scripts/reference.py writes them).
EXIT_CODES: tuple[tuple[tuple[ExitCode, ...], str, str], ...] = (
    ((ExitCode.PASS,), "pass", "the engines may start (warnings allowed)"),
    ((ExitCode.FAIL,), "failed",
     "at least one definitive failure (or a check crashed: preflight fails closed)"),
    ((ExitCode.USAGE,), "usage", "preflight's own configuration or usage is wrong"),
    ((ExitCode.NOT_READY,), "not ready",
     "every failure is transient (unreachable, timed out): retrying later may pass"),
    ((ExitCode.SIGINT, ExitCode.SIGTERM), "interrupted", "by SIGINT / SIGTERM"),
)


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
