"""Rounds of the runner: once (`check`), until pass (`--wait`, `exec`), or forever (`serve`).

Every mode goes through here, so there is one code path from checks to verdict. A round
re-runs only the checks that did not pass; passing results are kept. Between rounds the
session waits with the same capped, jittered backoff the runner uses between attempts.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from preflight.config import Config
from preflight.core.result import CheckResult, Outcome, Scrub, Status
from preflight.core.verdict import Verdict
from preflight.run.check import Check
from preflight.run.context import Context
from preflight.run.retry import Backoff
from preflight.run.runner import Runner

KEPT = (Status.PASS, Status.WARN)


def collect_garbage_from_now_on() -> None:
    """Start-up is over: collect garbage again, leaving the start-up's objects out of it.

    `preflight.app.cli.main` switches collection off for the start-up (the cloud clients import
    ~800 modules); every mode that lives on — `--wait` rounds, `exec --wait`, `serve` —
    calls this once its first round is done, so later rounds do not pile up cycles.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _failed_for_certain(result: CheckResult) -> bool:
    """A definitive failure: a dependency's answer judged, not trouble reaching it."""
    return result.status is Status.FAIL or (result.status is Status.ERROR
                                            and not result.outcome.transient)


def wall_clock_of(monotonic_moment: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=time.monotonic() - monotonic_moment)


class Session:
    def __init__(
        self,
        config: Config,
        checks: Callable[[], Sequence[Check]],
        log: Any,
        cancel: threading.Event,
        *,
        started: float,
        deadline: float = math.inf,
        round_budget: float | None = None,
        backoff: Backoff | None = None,
        interrupted: Callable[[], int | None] = lambda: None,
        on_change: Callable[[], None] | None = None,
        scrub: Scrub | None = None,
    ) -> None:
        """`deadline` bounds everything; `round_budget` bounds one round when there is none."""
        self.config = config
        self.checks = checks  # fresh instances of every check, for one round
        self.log = log
        self.cancel = cancel
        self.started = started
        self.deadline = deadline
        self.round_budget = round_budget or config.timeout
        self.backoff = backoff or Backoff()
        self.interrupted = interrupted
        self.on_change = on_change
        self.scrub = scrub
        self.log_every_round = True  # --wait reports each round; serve only verdict changes
        self.ctx = Context(config, deadline)
        self.rounds = 0
        self.latest: Verdict | None = None
        self.runner: Runner | None = None
        self._kept: dict[str, CheckResult] = {}
        self._failed: dict[str, CheckResult] = {}  # each check's last definitive failure

    def _verdict(self, results: list[CheckResult], started: float) -> Verdict:
        shown = tuple(r.softened() if r.name in self.config.ignore else r for r in results)
        verdict = Verdict(self.config.target(), shown, wall_clock_of(started), datetime.now(UTC),
                          interrupted_by=self.interrupted())
        return verdict if self.scrub is None else verdict.scrubbed(self.scrub)

    def _deselected(self, checks: Sequence[Check]) -> dict[str, CheckResult]:
        """--only / --skip: the checks left out appear as skipped, with the reason."""
        chosen = self.config.selected
        return {check.name: CheckResult(check.name, Outcome(
                    Status.SKIPPED, f"not selected ({self.config.deselected_by})"), 0, 0,
                    phase=check.phase)
                for check in checks if check.name not in chosen}

    def in_progress(self) -> Verdict:
        """The verdict so far: before the first round starts, every check still waiting."""
        runner = self.runner
        if runner is not None:
            return self._verdict(runner.snapshot(), self.started)
        waiting = Outcome(Status.ERROR, "in progress (waiting, attempt 0)",
                          details={"in_progress": True}, transient=True)
        return self._verdict([CheckResult(check.name, waiting, 0, 0, phase=check.phase)
                              for check in self.checks()], self.started)

    def run_round(self, *, everything: bool = False, started: float | None = None) -> Verdict:
        """One round: every check, or (by default) only those that have not passed yet."""
        self.rounds += 1
        round_started = time.monotonic()
        deadline = min(self.deadline, round_started + self.round_budget)
        checks = self.checks()
        previous = self._deselected(checks) | ({} if everything else self._kept)
        self.runner = Runner(self.config, checks, deadline=deadline, cancel=self.cancel,
                             log=self.log, ctx=self.ctx, backoff=self.backoff,
                             previous=previous, quiet=self.rounds > 1,
                             on_change=self.on_change)
        results = self._with_last_answers(self.runner.run(), self.runner.cut_short)
        self._failed = {r.name: r for r in results if _failed_for_certain(r)}
        self._kept = {r.name: r for r in results if r.status in KEPT}
        verdict = self._verdict(results, self.started if started is None else started)
        self._announce(verdict)
        self.latest = verdict
        return verdict

    def _with_last_answers(self, results: list[CheckResult], cut_short: set[str],
                           ) -> list[CheckResult]:
        """A check the deadline stopped mid-round, with no answer in it, keeps the failure
        the round before found: "kpi has no route" seconds ago says more than "no answer
        before the deadline", and exits 1, not 3 (retrying would not help). Never a pass:
        no answer now is no pass now (serve's rechecks)."""
        return [self._failed[r.name] if r.name in cut_short and r.name in self._failed
                else r for r in results]

    def _announce(self, verdict: Verdict) -> None:
        failing = [c.name for c in verdict.checks if c.status not in KEPT
                   and c.status is not Status.SKIPPED]
        changed = self.latest is None or self.latest.failed != verdict.failed
        report = self.log.info if changed or self.log_every_round else self.log.debug
        report("round finished", round=self.rounds, status="fail" if verdict.failed else "pass",
               failing=failing)

    def pause(self) -> bool:
        """Waits before the next round; False when the deadline or a signal comes first."""
        collect_garbage_from_now_on()
        seconds = self.backoff.delay(self.rounds)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return False
        report = self.log.info if self.log_every_round else self.log.debug
        report("waiting before the next round", round=self.rounds + 1,
               retry_in_s=round(min(seconds, remaining), 2))
        return not self.cancel.wait(min(seconds, remaining)) and time.monotonic() < self.deadline

    def until_pass(self) -> Verdict:
        """Rounds until everything passes, the deadline, or a signal."""
        verdict = self.run_round()
        while verdict.failed and not self.cancel.is_set() and self.pause():
            verdict = self.run_round()
        return self.settled(verdict)

    def settled(self, verdict: Verdict) -> Verdict:
        """The run's outcome: a signal decides it whenever it came before this moment.

        A round's verdict is made when the round ends; a signal in the pause after it (or
        between the verdict and its output) stops the run all the same, so the verdict says
        interrupted, and exits 143 / 130 rather than with the round's code.
        """
        signalled = self.interrupted()
        if signalled is None or verdict.interrupted_by is not None:
            return verdict
        return replace(verdict, interrupted_by=signalled, finished_at=datetime.now(UTC))

