"""Findings: one broken rule each, saying what the engines would do about it.

Every block must let the reader tell "the engines would crash" from "the contract forbids
this". A finding carries its effect; a failing finding whose effect is not a start-up
crash is a rule stricter than the engines, listed in `details.stricter_than_engines`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from preflight.core.result import Outcome, Status


class Effect(StrEnum):
    STARTUP = "startup"
    FIRST_USE = "first_use"
    SILENT = "silent"
    CONTRACT = "contract"


TAG = {
    Effect.STARTUP: "the engines will not start",
    Effect.FIRST_USE: "the engines start, requests fail",
    Effect.SILENT: "the engines fall back silently",
    Effect.CONTRACT: "the contract forbids it",
}
CONSEQUENCE = {
    Effect.STARTUP: "the engines will not start",
    Effect.FIRST_USE: "the engines will start, and these requests will fail",
    Effect.SILENT: "the engines will start and serve, but fall back silently",
    Effect.CONTRACT: "the engines would work, but the real-infra contract forbids it",
}


class Finding(NamedTuple):
    code: str
    subject: str  # what is wrong: a variable, or "kind at scope"
    message: str  # the problem, in one phrase, never a config value
    fix: str
    effect: Effect
    severity: str  # "fail" or "warn"
    reason: str | None = None  # why the contract asks for more than the engines do
    extra: Mapping[str, Any] | None = None  # check-specific fields for details

    @property
    def blocks(self) -> bool:
        return self.severity == "fail"

    @property
    def stricter(self) -> bool:
        return self.blocks and self.effect is not Effect.STARTUP

    def sentence(self) -> str:
        return f"{self.subject}: {self.message}"

    def tagged(self) -> str:
        tag = "stricter than the engines" if self.stricter else TAG[self.effect]
        return f"{self.sentence()} [{tag}]"

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "code": self.code, "subject": self.subject, "message": self.message,
            "fix": self.fix, "effect": self.effect.value,
            "consequence": CONSEQUENCE[self.effect], "outcome": self.severity,
        }
        if self.reason:
            document["reason"] = self.reason
        document.update(self.extra or {})
        return document


def stricter_than_engines(findings: Iterable[Finding]) -> list[dict[str, str]]:
    """Blocks the engines themselves would not make: a code and a sentence each."""
    listed: dict[tuple[str, str], dict[str, str]] = {}
    for finding in findings:
        if finding.stricter:
            why = finding.reason or CONSEQUENCE[finding.effect]
            message = f"{finding.sentence()}; {why}"
            listed.setdefault((finding.code, message), {"code": finding.code,
                                                        "message": message})
    return list(listed.values())


def summarise(findings: Sequence[Finding], *, what: str, passed: str,
              details: Mapping[str, Any] | None = None, key: str = "findings",
              shown: int = 3) -> Outcome:
    """The check's outcome: fail on any blocking finding, warn on the rest, else pass."""
    blocking = [f for f in findings if f.blocks]
    status = Status.FAIL if blocking else Status.WARN if findings else Status.PASS
    document = dict(details or {})
    document[key] = [finding.to_dict() for finding in findings]
    stricter = stricter_than_engines(findings)
    if stricter:
        document["stricter_than_engines"] = stricter
    if status is Status.PASS:
        return Outcome(Status.PASS, passed, details=document)
    worst = sorted(blocking or findings, key=lambda f: list(Effect).index(f.effect))
    listed = "; ".join(f.tagged() for f in worst[:shown])
    more = f" (and {len(worst) - shown} more)" if len(worst) > shown else ""
    return Outcome(status, f"{len(worst)} {what}: {listed}{more}",
                   remediation="; ".join(dict.fromkeys(f.fix for f in worst)),
                   details=document)
