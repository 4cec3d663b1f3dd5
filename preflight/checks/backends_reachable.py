"""backends.reachable: every backend the engines will build answers, one probe per endpoint.

Each attempt plans purely (judge/reachable.py: subject -> endpoint or why it cannot be
built, endpoints deduplicated), probes the endpoints without a definitive answer yet, all at
once (observe/probing.py), each under the call timeout, and judges. Definitive answers
(pass or fail) are kept between attempts; only transient ones are probed again on the
runner's retry. In `preflight exec` the engines' interpreter is probed alongside: one child
process imports every subject's client library. --no-probes / PREFLIGHT_PROBES=0 turn it
off.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from preflight.checks.base import RegistryCheck
from preflight.config import Config
from preflight.contract.profile import Library
from preflight.contract.targets import Endpoint, ProbeSubject
from preflight.core.result import Outcome, Status
from preflight.judge import reachable as judge
from preflight.observe.errors import Transient
from preflight.observe.probing import GRACE, NO_ANSWER, probe_all
from preflight.run.context import Context

NEXT_ATTEMPT_MIN = 0.5  # less time than this left: the last attempt reports, with details
FINISH_MARGIN = 0.3  # the last attempt ends this long before the deadline, to report itself
MIN_PROBE = 0.25  # with less time than this, the last attempt reports the previous answers
OFF = "probes are off (--no-probes / PREFLIGHT_PROBES=0)"

SubjectSource = Callable[[Context], Sequence[ProbeSubject]]


def subjects_from_registry(ctx: Context) -> Sequence[ProbeSubject]:
    return judge.probe_subjects(ctx.config, ctx.routes())


class ProbesUnanswered(Transient):
    """Some backends gave no definitive answer yet. The text names them."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class BackendsReachable(RegistryCheck):
    name = "backends.reachable"
    phase = "first_use"

    def __init__(self, subjects: SubjectSource = subjects_from_registry,
                 environ: Mapping[str, str] | None = None) -> None:
        """`subjects` and `environ` are seams for tests; by default the registry's routes
        and the pod's environment (the engines' stand-in variables: RAW_BUCKET, …)."""
        self._subjects = subjects
        self._environ = environ
        self._lock = threading.Lock()
        self._answers: dict[Endpoint, Any] = {}  # definitive observations, kept
        self._recent: dict[Endpoint, tuple[Any, float]] = {}  # the last transient ones

    def skip_reason(self, config: Config) -> str | None:
        return None if config.probes else OFF

    def judge_registry(self, ctx: Context) -> Outcome:
        config = ctx.config
        planned = judge.plan(self._subjects(ctx),
                             os.environ if self._environ is None else self._environ,
                             config.profile, config.engines_python)
        until = ctx.deadline - FINISH_MARGIN
        # A probe's own timeout ends before the attempt stops waiting for it.
        timeout = min(ctx.call_timeout(), until - GRACE - time.monotonic())
        with self._lock:
            pending = [e for e in planned.endpoints if e not in self._answers]
            recent = dict(self._recent)
        if timeout < MIN_PROBE and all(e in recent for e in pending):
            observed = recent  # no time for a useful probe: report the last answers
        else:
            timeout = max(MIN_PROBE, timeout)
            probed = probe_all(pending, timeout, ctx, until=until)
            observed = {endpoint: (seen, timeout) for endpoint, seen in probed.items()}
        items = judge.unbuildable_items(planned)
        lacking = config.profile.engines.requirements_lack if config.profile.engines else ()
        pairs: list[tuple[ProbeSubject, Endpoint, Library | None]] = [
            (subject, endpoint, None) for subject, endpoint in planned.probed]
        if planned.interpreter is not None:
            pairs += [(subject, planned.interpreter, library)
                      for subject, library in planned.libraries]
        for subject, endpoint, library in pairs:
            with self._lock:
                seen, seconds = ((self._answers[endpoint], timeout) if endpoint in self._answers
                                 else observed.get(endpoint, (NO_ANSWER, timeout)))
            result = (judge.judge_one(endpoint, seen, seconds) if library is None
                      else judge.judge_library(subject, library, seen, seconds, lacking))
            with self._lock:
                if result.transient:
                    self._recent[endpoint] = (seen, seconds)
                else:
                    self._answers.setdefault(endpoint, seen)
                    self._recent.pop(endpoint, None)
            items.append(judge.Item(subject, result, library))
        outcome = judge.summarise_probes(
            planned, items, lambda subject: "fail" if config.strict
            else config.profile.first_use_severity(subject.kind))
        # Only a probe that would block is worth waiting for: a warning must not hold every
        # pod's start for the whole deadline while a secondary backend is down.
        if outcome.status is Status.ERROR and ctx.deadline - time.monotonic() >= NEXT_ATTEMPT_MIN:
            raise ProbesUnanswered(judge.waiting_message(items))
        return outcome
