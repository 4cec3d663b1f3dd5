"""The one place that owns concurrency, retries and the deadline.

Each check runs in its own daemon thread and each attempt under a watchdog, so a hung
dependency can stall a check but never the run: when the deadline comes (or a signal),
the runner stops waiting, closes what is unfinished as `error`, and returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tenacity

from preflight.config import Config
from preflight.core.redact import describe_exception
from preflight.core.result import CheckResult, Outcome, Status
from preflight.observe.errors import Transient
from preflight.run.check import Check
from preflight.run.context import Context
from preflight.run.retry import Backoff, Cancelled, retrying

WAKE_SLICE = 0.25
UNREACHABLE_FIX = ("no answer before the deadline: check that the dependency is up and reachable "
                   "from this pod (endpoint, DNS, network policy); raise --timeout / "
                   "PREFLIGHT_TIMEOUT if it is only slow")


class AttemptHung(Transient):
    """One attempt outlived its budget without the client's own timeout firing."""

    def __init__(self, budget: float) -> None:
        super().__init__(None, f"no answer within {budget:.1f}s")


@dataclass
class Progress:
    """Live state of one check, for logs, terminals and serve's metrics."""

    name: str
    state: str = "waiting"  # waiting, running, retrying, done
    attempts: int = 0
    last_error: str | None = None
    next_try_at: float | None = None
    started: float | None = None


class _Slot:
    def __init__(self, check: Check) -> None:
        self.check = check
        self.progress = Progress(check.name)
        self.done = threading.Event()
        self.result: CheckResult | None = None


def _attempt_with_watchdog(check: Check, ctx: Context, budget: float) -> Outcome:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["outcome"] = check.attempt(ctx)
        except BaseException as error:  # noqa: BLE001 - handed to the caller below
            box["error"] = error

    worker = threading.Thread(target=target, name=f"attempt:{check.name}", daemon=True)
    worker.start()
    worker.join(budget)
    if worker.is_alive():
        raise AttemptHung(budget)
    if "error" in box:
        raise box["error"]
    outcome: Outcome = box["outcome"]
    return outcome


class Runner:
    def __init__(
        self,
        config: Config,
        checks: Sequence[Check],
        *,
        deadline: float,
        cancel: threading.Event,
        log: Any,
        ctx: Context | None = None,
        backoff: Backoff | None = None,
        previous: Mapping[str, CheckResult] | None = None,
        on_change: Callable[[], None] | None = None,
        quiet: bool = False,
    ) -> None:
        """`previous` results are kept, not re-run; `ctx` may carry clients across rounds."""
        self.config = config
        self.deadline = deadline
        self.cancel = cancel
        self.log = log
        self.backoff = backoff or Backoff()
        self.ctx = ctx or Context(config, deadline)
        self.ctx.deadline = deadline
        self.ctx.begin_round()
        self.order = [check.name for check in checks]
        self.previous = {name: result for name, result in (previous or {}).items()
                         if name in self.order}
        self.slots = {check.name: _Slot(check) for check in checks
                      if check.name not in self.previous}
        self.wake = threading.Event()
        self.on_change = on_change or (lambda: None)
        self.quiet = quiet
        self.cut_short: set[str] = set()  # checks the deadline stopped with no answer yet
        self._lock = threading.Lock()

    def progress(self) -> list[Progress]:
        return [slot.progress for slot in self.slots.values()]

    def finished(self) -> list[CheckResult]:
        done = [slot.result for slot in self.slots.values() if slot.result is not None]
        return [*self.previous.values(), *done]

    def snapshot(self) -> list[CheckResult]:
        """Results so far, unfinished checks shown as in-progress errors: for live views."""
        results = dict(self.previous)
        for name, slot in self.slots.items():
            progress = slot.progress
            results[name] = slot.result or self._result(slot, Outcome(
                Status.ERROR, f"in progress ({progress.state}, attempt {progress.attempts})",
                details={"in_progress": True}, transient=True))
        return [results[name] for name in self.order]

    def run(self) -> list[CheckResult]:
        """Runs every check; returns when all are done, at the deadline, or on cancel."""
        for slot in self.slots.values():
            threading.Thread(target=self._run_slot, args=(slot,), name=slot.check.name,
                             daemon=True).start()
        while not all(slot.done.is_set() for slot in self.slots.values()):
            remaining = self.deadline - time.monotonic()
            if self.cancel.is_set() or remaining <= 0:
                break
            self.wake.wait(min(remaining, WAKE_SLICE))
            self.wake.clear()
        return self._collect()

    def _collect(self) -> list[CheckResult]:
        results: dict[str, CheckResult] = dict(self.previous)
        for name, slot in self.slots.items():
            with self._lock:
                if slot.result is None:
                    slot.result = self._unfinished(slot)
                    slot.progress.state = "done"
            results[name] = slot.result
        return [results[name] for name in self.order]

    def _unfinished(self, slot: _Slot) -> CheckResult:
        progress = slot.progress
        last = f"; last error: {progress.last_error}" if progress.last_error else ""
        if self.cancel.is_set() and time.monotonic() < self.deadline:
            outcome = Outcome(Status.ERROR, f"interrupted before a verdict{last}",
                              details={"attempts_made": progress.attempts}, transient=True)
        else:
            self.cut_short.add(slot.check.name)
            doing = (f"after {progress.attempts} attempt(s)" if progress.attempts
                     else "while waiting for " + ", ".join(slot.check.needs_for(self.config)))
            outcome = Outcome(
                Status.ERROR, f"deadline exceeded {doing}{last}",
                remediation=UNREACHABLE_FIX,
                details={"attempts_made": progress.attempts}, transient=True)
        return self._result(slot, outcome)

    def _result(self, slot: _Slot, outcome: Outcome) -> CheckResult:
        started = slot.progress.started or time.monotonic()
        return CheckResult(slot.check.name, outcome, slot.progress.attempts,
                           round((time.monotonic() - started) * 1000), phase=slot.check.phase)

    def _run_slot(self, slot: _Slot) -> None:
        try:
            outcome = self._run_check(slot)
        except BaseException as error:  # noqa: BLE001 - fail closed: a bug is an error, never a pass
            outcome = Outcome(Status.ERROR, f"preflight could not run this check: "
                              f"{describe_exception(error)}", transient=False)
        if outcome is not None:
            with self._lock:
                if slot.result is None:
                    slot.result = self._result(slot, outcome)
                    slot.progress.state = "done"
                    report = self.log.debug if self.quiet else self.log.info
                    report("check finished", check=slot.check.name,
                           status=outcome.status.value, attempts=slot.progress.attempts,
                           duration_ms=slot.result.duration_ms, detail=outcome.message)
        slot.done.set()
        self.wake.set()
        self.on_change()

    def _dependency_failure(self, slot: _Slot) -> Outcome | None:
        """Waits for what this check needs; one that did not pass blocks it, never neutrally.

        Blocked is `error`: this check's question went unanswered. It is as transient as
        the cause, so the exit code (1 or 3) follows the dependency's failure; a neutral skip
        of a dependency (not applicable, or deselected by the operator) does not block.
        """
        for need in slot.check.needs_for(self.config):
            result = self.previous.get(need)
            dependency = self.slots.get(need)
            if dependency is not None:
                while not dependency.done.wait(WAKE_SLICE):
                    if self.cancel.is_set():
                        raise Cancelled
                result = dependency.result
            if result is None or result.status not in (Status.FAIL, Status.ERROR):
                continue
            transient = result.status is Status.ERROR and result.outcome.transient
            kind = "transient " if transient else ""
            fix = f"fix {need} first" + (f": {result.outcome.remediation}"
                                         if result.outcome.remediation else "")
            return Outcome(Status.ERROR, f"not checked: needs {need}, which reported "
                           f"{kind}{result.status.value}", remediation=fix,
                           details={"blocked_by": need, "blocked_by_status": result.status.value},
                           transient=transient)
        return None

    def _run_check(self, slot: _Slot) -> Outcome | None:
        check, progress = slot.check, slot.progress
        reason = check.skip_reason(self.config)
        if reason:
            return Outcome(Status.SKIPPED, reason)
        unconfigured = check.unconfigured(self.config)
        if unconfigured:
            return unconfigured
        try:
            blocked = self._dependency_failure(slot)
        except Cancelled:
            return None
        progress.started = time.monotonic()
        if blocked:
            return blocked

        def on_retry(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            progress.state = "retrying"
            progress.last_error = describe_exception(error) if error else None
            progress.next_try_at = time.monotonic() + state.upcoming_sleep
            self.log.warning("check attempt failed", check=check.name,
                             attempt=state.attempt_number, error=progress.last_error,
                             retry_in_s=round(state.upcoming_sleep, 2))
            self.on_change()

        budget = check.attempt_budget(self.config)
        try:
            for attempt in retrying(self.backoff, self.deadline, self.cancel, on_retry):
                with attempt:
                    progress.attempts = attempt.retry_state.attempt_number
                    progress.state = "running"
                    remaining = self.deadline - time.monotonic()
                    outcome = _attempt_with_watchdog(check, self.ctx,
                                                     max(0.05, min(budget, remaining + 0.5)))
        except Cancelled:
            return None
        except Exception as error:
            description = describe_exception(error)
            if isinstance(error, Transient):  # only observe/errors.py decides what is transient
                if self.cancel.is_set():
                    return None
                progress.last_error = description
                self.log.warning("check attempt failed", check=check.name,
                                 attempt=progress.attempts, error=description, retry_in_s=None,
                                 giving_up="deadline")
                return Outcome(
                    Status.ERROR, f"deadline exceeded after {progress.attempts} attempt(s): "
                    f"{description}", remediation=UNREACHABLE_FIX,
                    details={"attempts_made": progress.attempts}, transient=True)
            self.log.error("check crashed", check=check.name, error=description)
            self.log.debug("check crash traceback", check=check.name, exc_info=True)
            return Outcome(Status.ERROR, f"unexpected error: {description}",
                           details={"error": type(error).__name__}, transient=False)
        return outcome
