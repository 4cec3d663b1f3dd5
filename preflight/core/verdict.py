"""The one verdict model every output renders from: file, termination log, stdout, HTTP."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from preflight import __version__
from preflight.core.result import SEVERITY, CheckResult, ExitCode, Scrub, Status

SCHEMA_ID = "preflight.verdict/v1"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Target:
    """What was checked, as the verdict states it: names only, never a secret."""

    project: str | None
    database: str
    bucket: str | None
    collection: str
    scopes: tuple[str, ...]
    required_kinds: tuple[str, ...]
    serving_scopes: tuple[str, ...]
    profile: str
    emulator: bool
    strict: bool = False  # warnings fail the run

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "database": self.database, "bucket": self.bucket,
                "collection": self.collection, "scopes": list(self.scopes),
                "required_kinds": list(self.required_kinds),
                "serving_scopes": list(self.serving_scopes), "profile": self.profile,
                "emulator": self.emulator}


@dataclass(frozen=True)
class Verdict:
    target: Target
    checks: tuple[CheckResult, ...]
    started_at: datetime
    finished_at: datetime
    interrupted_by: int | None = None  # signal number

    def scrubbed(self, scrub: Scrub) -> Verdict:
        """The copy every output renders from: no known secret in any message or detail."""
        return replace(self, checks=tuple(check.scrubbed(scrub) for check in self.checks))

    def _strict_warning(self, check: CheckResult) -> bool:
        return self.target.strict and check.status is Status.WARN and not check.ignored

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
        return {
            "schema": SCHEMA_ID,
            "status": "fail" if self.failed else "pass",
            "exit_code": int(self.exit_code),
            "interrupted": self.interrupted_by is not None,
            "started_at": rfc3339(self.started_at),
            "finished_at": rfc3339(self.finished_at),
            "duration_ms": self.duration_ms,
            "preflight_version": __version__,
            "strict": self.target.strict,
            "target": self.target.to_dict(),
            "checks": [check.to_dict() for check in self.checks],
            "summary": self.summary(),
        }
