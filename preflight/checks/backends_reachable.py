"""backends.reachable: every backend the engines will build answers, one probe per endpoint.

The subjects are what the engines will build (`probe_subjects`, pure): the route they take at
every lookup of a kind whose profile entry declares its backends — start-up, serving and
fixed scopes alike — when that route is valid and buildable (routing.backends has nothing
to say of it), and the variables that select a backend with a probe (CHAT_BUS_BACKEND=redis,
NEXUS_BACKEND=bigquery). Variables that select Firestore are not probed again: that is the
engines' project, which firestore.access reads. The profile's `probes` section and each
kind's `probe` turn probes off per backend or kind; --no-probes / PREFLIGHT_PROBES=0 all.

Each attempt plans purely (`plan`: subject -> endpoint or finding, endpoints deduplicated),
probes the endpoints without a definitive answer yet, all at once in a bounded pool of
daemon threads, each under the call timeout, and judges. Definitive answers (pass or
fail) are kept between attempts; only transient ones are probed again on the runner's
retry. Nothing here renders a config value: findings name the kind, the route and the
config key or variable, and errors are described by their class, never their text.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from preflight.checks.base import Check, Context
from preflight.checks.firestore_access import (
    firestore_client,
    judge_no_project,
    judge_refusal,
    principal_of,
)
from preflight.checks.routing_backends import judge_route
from preflight.config import Config
from preflight.contract.route_model import reason as invalid_reason
from preflight.contract.targets import (
    BACKENDS,
    Answer,
    Endpoint,
    Finding,
    ProbeResult,
    ProbeSubject,
    Shared,
    backend,
)
from preflight.judge.variables import read as read_variable
from preflight.observe.errors import Refused, Transient, is_transient
from preflight.observe.registry import first_matches, lookups, registry_read
from preflight.report.verdict import Outcome, Status

SUBJECTS_KEY = "backends.subjects"
ENVIRON_KEY = "backends.environ"
MAX_PARALLEL = 32
GRACE = 0.5  # seconds a probe may outlive the call timeout before it counts as hung
NEXT_ATTEMPT_MIN = 0.5  # less time than this left: the last attempt reports, with details
FINISH_MARGIN = 0.3  # the last attempt ends this long before the deadline, to report itself
MIN_PROBE = 0.25  # with less time than this, the last attempt reports the previous answers
MAX_LISTED = 4
OFF = "probes are off (--no-probes / PREFLIGHT_PROBES=0)"
UNANSWERED_FIX = ("check that each backend named is up and reachable from this pod; raise "
                  "--timeout if it is only slow")

SubjectSource = Callable[[Context], Sequence[ProbeSubject]]
T = TypeVar("T")


# Variable values that name a backend by another word.
BACKEND_ALIASES = {"bq": "bigquery"}


def probe_subjects(config: Config, docs: Mapping[Any, Any]) -> list[ProbeSubject]:
    """What the engines will build, from the registry as read and the environment. Pure."""
    profile = config.profile
    switched_on = profile.probe_backends
    found: list[ProbeSubject] = []
    located = [where for where in lookups(config)
               if (kind := profile.kinds.get(where.kind)) is not None
               and kind.backends is not None and kind.probe]
    for where, doc in first_matches(located, docs).items():
        kind = profile.kinds[where.kind]
        if invalid_reason(doc.data) is not None or judge_route(
                profile, kind, where, doc, config.disallowed_for(where.scope.env),
                config.engines_env):
            continue  # routing.serving / routing.backends say why
        backend = str(doc.data["backend_type"]).lower()
        if switched_on.get(backend, True):
            found.append(ProbeSubject(where.kind, f"route `{doc.doc_id}` ({where.scope.label})",
                                      backend, doc.data.get("config") or {}))
    for rules in (profile.environment, profile.backend_variables):
        for rule in rules.values():
            value = read_variable(rule, config.engines_env).value
            if value is None or rule.accept is None or value not in rule.accept:
                continue
            backend = BACKEND_ALIASES.get(value, value)
            if backend != "firestore" and backend in BACKENDS and switched_on.get(backend, True):
                found.append(ProbeSubject(rule.variable, rule.variable, backend))
    return found


def subjects_from_context(ctx: Context) -> Sequence[ProbeSubject]:
    """A test's own subjects (SUBJECTS_KEY), else what the registry and environment say."""
    given: Sequence[ProbeSubject] | None = ctx.get(SUBJECTS_KEY)
    if given is not None:
        return given
    docs = registry_read(ctx).by_scope(firestore_client(ctx), ctx)
    return probe_subjects(ctx.config, docs)


def environ_from_context(ctx: Context) -> Mapping[str, str]:
    """The pod's environment, for the engines' stand-in variables (RAW_BUCKET, REDIS_HOST…)."""
    environ: Mapping[str, str] | None = ctx.get(ENVIRON_KEY)
    return os.environ if environ is None else environ


# ---------------------------------------------------------------------------- planning

@dataclass
class Plan:
    """What the engines would build for each subject; pure, no I/O."""

    findings: list[tuple[ProbeSubject, Finding]] = field(default_factory=list)
    probed: list[tuple[ProbeSubject, Endpoint]] = field(default_factory=list)
    # No probe for the backend; or a variable whose endpoint env.backends already judges
    # unusable (e.g. REDIS_PORT=six), which it reports with the profile's severity.
    not_probed: list[tuple[ProbeSubject, str]] = field(default_factory=list)

    @property
    def endpoints(self) -> list[Endpoint]:
        """Distinct endpoints, in first-seen order: one probe each."""
        return list(dict.fromkeys(endpoint for _, endpoint in self.probed))


def plan(subjects: Sequence[ProbeSubject], environ: Mapping[str, str]) -> Plan:
    planned = Plan()
    for subject in dict.fromkeys(subjects):
        module = backend(subject.backend)
        if module is None:
            planned.not_probed.append((subject, f"no probe for {subject.backend}"))
            continue
        found = module.target(subject, environ)
        if isinstance(found, Finding) and subject.from_variable:
            planned.not_probed.append((subject, f"{found.message} (see env.backends)"))
        elif isinstance(found, Finding):
            planned.findings.append((subject, found))
        else:
            planned.probed.append((subject, found))
    return planned


# ---------------------------------------------------------------------------- probing

class _NoAnswer:
    """A probe still running when the attempt stopped waiting for it."""


NO_ANSWER = _NoAnswer()


class RunClients:
    """The run's shared clients (Context.shared), built with the configured attempt timeout."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.client_timeout = ctx.config.attempt_timeout

    def __call__(self, key: str, factory: Callable[[], T]) -> T:
        return self._ctx.shared(key, factory)

    def aws_session(self) -> Any:
        """The botocore session aws.credentials vouched for: S3 and DynamoDB use it too."""
        from preflight.checks.aws_credentials import aws_session

        return aws_session(self._ctx)


def probe_all(endpoints: Sequence[Endpoint], timeout: float, shared: Shared,
              parallel: int = MAX_PARALLEL, until: float = math.inf) -> dict[Endpoint, Any]:
    """Observes every endpoint at once (at most `parallel` in flight), waiting at most
    `timeout` + GRACE, and never past `until` (monotonic): what has not answered by then
    is NO_ANSWER, probed again on the next attempt. Values: an observation, the exception a
    probe raised, or NO_ANSWER. Probes run in daemon threads: a hung one never holds the
    process, and the attempt stays inside the runner's budget."""
    results: dict[Endpoint, Any] = {}
    lock = threading.Lock()
    finished = threading.Condition(lock)
    stop = threading.Event()
    slots = threading.BoundedSemaphore(max(1, parallel))

    def run(endpoint: Endpoint) -> None:
        with slots:
            if stop.is_set():
                return
            try:
                module = backend(endpoint.backend)
                assert module is not None
                value: Any = module.observe(endpoint, timeout, shared)
            except Exception as error:  # noqa: BLE001 - judged below, by class only
                value = error
            with finished:
                results[endpoint] = value
                finished.notify_all()

    for endpoint in endpoints:
        threading.Thread(target=run, args=(endpoint,), name=f"probe:{endpoint.backend}",
                         daemon=True).start()
    deadline = min(until, time.monotonic() + timeout + GRACE)
    with finished:
        while len(results) < len(endpoints):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            finished.wait(remaining)
        stop.set()
        return {endpoint: results.get(endpoint, NO_ANSWER) for endpoint in endpoints}


def judge_one(endpoint: Endpoint, seen: Any, timeout: float) -> ProbeResult:
    """The backend's judge, or what an unanswered or crashed probe means."""
    if seen is NO_ANSWER:
        return ProbeResult(Answer.TRANSIENT, f"no answer from {endpoint.backend} for "
                           f"{endpoint.where} within {timeout:g}s", UNANSWERED_FIX)
    if isinstance(seen, Exception):
        cause = seen.cause if isinstance(seen, Transient) and seen.cause is not None else seen
        name = type(cause).__name__
        if isinstance(seen, Transient) or is_transient(seen):
            return ProbeResult(Answer.TRANSIENT, f"no answer from {endpoint.backend} for "
                               f"{endpoint.where} ({name})", UNANSWERED_FIX)
        return ProbeResult(Answer.FAIL, f"preflight could not probe {endpoint.where} ({name})",
                           "this is a bug in preflight's probe for " + endpoint.backend)
    module = backend(endpoint.backend)
    assert module is not None
    return module.judge(endpoint, seen)


# ---------------------------------------------------------------------------- the check

@dataclass(frozen=True)
class Item:
    subject: ProbeSubject
    result: ProbeResult

    @property
    def text(self) -> str:
        return f"{self.subject.label}: {self.result.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.subject.kind, "origin": self.subject.origin,
                "backend": self.subject.backend, "status": self.result.answer.value,
                "message": self.result.message, "fix": self.result.fix}


class ProbesUnanswered(Transient):
    """Some backends gave no definitive answer yet. The text names them."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


def _listed(items: Sequence[Item]) -> str:
    shown = "; ".join(item.text for item in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def _fixes(items: Sequence[Item]) -> str | None:
    fixes = list(dict.fromkeys(item.result.fix for item in items if item.result.fix))
    return "; ".join(fixes[:MAX_LISTED]) or None


class BackendsReachable(Check):
    name = "backends.reachable"
    needs = ("firestore.access",)  # the routes it probes are read from the registry
    phase = "first_use"

    def __init__(self, subjects: SubjectSource = subjects_from_context,
                 environ: Mapping[str, str] | None = None) -> None:
        self._subjects = subjects
        self._environ = environ
        self._lock = threading.Lock()
        self._answers: dict[Endpoint, Any] = {}  # definitive observations, kept
        self._recent: dict[Endpoint, tuple[Any, float]] = {}  # the last transient ones

    def skip_reason(self, config: Config) -> str | None:
        return None if config.probes else OFF

    def unconfigured(self, config: Config) -> Outcome | None:
        return judge_no_project(config)

    def attempt_budget(self, config: Config) -> float:
        """Reading the routes is paged; each probe has its own bound (the call timeout)."""
        return config.timeout

    def attempt(self, ctx: Context) -> Outcome:
        try:
            subjects = self._subjects(ctx)
        except Refused as refusal:
            return judge_refusal(refusal, ctx.config, principal_of(ctx))
        environ = self._environ if self._environ is not None else environ_from_context(ctx)
        planned = plan(subjects, environ)
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
            probed = probe_all(pending, timeout, RunClients(ctx), until=until)
            observed = {endpoint: (seen, timeout) for endpoint, seen in probed.items()}
        items = [Item(subject, ProbeResult(Answer.FAIL, finding.message, finding.fix))
                 for subject, finding in planned.findings]
        for subject, endpoint in planned.probed:
            with self._lock:
                seen, seconds = ((self._answers[endpoint], timeout) if endpoint in self._answers
                                 else observed.get(endpoint, (NO_ANSWER, timeout)))
            result = judge_one(endpoint, seen, seconds)
            with self._lock:
                if result.answer is Answer.TRANSIENT:
                    self._recent[endpoint] = (seen, seconds)
                else:
                    self._answers.setdefault(endpoint, seen)
                    self._recent.pop(endpoint, None)
            items.append(Item(subject, result))
        return self._outcome(ctx, planned, items)

    def _outcome(self, ctx: Context, planned: Plan, items: list[Item]) -> Outcome:
        failing = [item for item in items if item.result.answer is Answer.FAIL]
        waiting = [item for item in items if item.result.answer is Answer.TRANSIENT]
        details: dict[str, Any] = {
            "probes": len(planned.endpoints), "subjects": len(items),
            "results": [item.to_dict() for item in items],
            "not_probed": [{"kind": s.kind, "origin": s.origin, "backend": s.backend,
                            "reason": reason} for s, reason in planned.not_probed],
        }
        if failing:
            pending = f" ({len(waiting)} more not answering yet)" if waiting else ""
            return Outcome(Status.FAIL, f"{len(failing)} of {len(items)} backend(s) will fail "
                           f"the engines{pending}: {_listed(failing)}",
                           remediation=_fixes(failing), details=details)
        if waiting:
            message = f"{len(waiting)} of {len(items)} backend(s) did not answer: " \
                      f"{_listed(waiting)}"
            if ctx.deadline - time.monotonic() >= NEXT_ATTEMPT_MIN:
                raise ProbesUnanswered(message)
            return Outcome(Status.ERROR, f"deadline: {message}",
                           remediation=_fixes(waiting) or UNANSWERED_FIX, details=details,
                           transient=True)
        if not items:
            return Outcome(Status.SKIPPED, "no route or variable names a backend with a probe",
                           details=details)
        return Outcome(Status.PASS, f"{len(planned.endpoints)} probe(s) answered for "
                       f"{len(items)} route(s) and variable(s)", details=details)
