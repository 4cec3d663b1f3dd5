"""backends.reachable, judged: what the engines will build, and what each probe's answer means.

The subjects are what the engines will build (`probe_subjects`, pure): the route they take at
every lookup of a kind whose profile entry declares its backends — start-up, serving and
fixed scopes alike — when that route is valid and buildable (routing.backends has nothing
to say of it), and the variables that select a backend with a probe (CHAT_BUS_BACKEND=redis,
NEXUS_BACKEND=bigquery). Variables that select Firestore are not probed again: that is the
engines' project, which firestore.access reads. The profile's `probes` section and each
kind's `probe` turn probes off per backend or kind.

`plan` maps each subject to an endpoint, or to why the engines could not build it;
`judge_one` is each backend's judge, or what an unanswered or crashed probe means;
`summarise_probes` makes the check's outcome. Nothing here renders a config value.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.config import Config
from preflight.contract import route_model
from preflight.contract.lookups import first_matches
from preflight.contract.route_model import RouteDoc
from preflight.contract.targets import BACKENDS, Endpoint, ProbeSubject, Unbuildable, target_of
from preflight.contract.variables import read as read_variable
from preflight.core.result import Outcome, Status
from preflight.core.scope import Scope
from preflight.judge.backends import answer, failed, transient
from preflight.judge.route_backends import judge_route
from preflight.observe.errors import Transient, is_transient
from preflight.observe.probing import NO_ANSWER

MAX_LISTED = 4
UNANSWERED_FIX = ("check that each backend named is up and reachable from this pod; raise "
                  "--timeout if it is only slow")
# Variable values that name a backend by another word.
BACKEND_ALIASES = {"bq": "bigquery"}


def probe_subjects(config: Config, docs: Mapping[Scope, Sequence[RouteDoc]],
                   ) -> list[ProbeSubject]:
    """What the engines will build, from the registry as read and the environment. Pure."""
    profile = config.profile
    switched_on = profile.probe_backends
    found: list[ProbeSubject] = []
    located = [where for where in config.lookups()
               if (kind := profile.kinds.get(where.kind)) is not None
               and kind.backends is not None and kind.probe]
    for where, doc in first_matches(located, docs).items():
        kind = profile.kinds[where.kind]
        if route_model.reason(doc.data) is not None or judge_route(
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


@dataclass
class Plan:
    """What the engines would build for each subject; pure, no I/O."""

    unbuildable: list[tuple[ProbeSubject, Unbuildable]] = field(default_factory=list)
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
        target = target_of(subject.backend)
        if target is None:
            planned.not_probed.append((subject, f"no probe for {subject.backend}"))
            continue
        found = target(subject, environ)
        if isinstance(found, Unbuildable) and subject.from_variable:
            planned.not_probed.append((subject, f"{found.message} (see env.backends)"))
        elif isinstance(found, Unbuildable):
            planned.unbuildable.append((subject, found))
        else:
            planned.probed.append((subject, found))
    return planned


Judge = Callable[[Any, Any], Outcome]


def judge_of(backend: str) -> Judge:
    found: Judge = importlib.import_module(f"preflight.judge.backends.{backend}").judge
    return found


def judge_one(endpoint: Endpoint, seen: Any, timeout: float) -> Outcome:
    """The backend's judge, or what an unanswered or crashed probe means."""
    if seen is NO_ANSWER:
        return transient(f"no answer from {endpoint.backend} for {endpoint.where} within "
                         f"{timeout:g}s", UNANSWERED_FIX)
    if isinstance(seen, Exception):
        cause = seen.cause if isinstance(seen, Transient) and seen.cause is not None else seen
        name = type(cause).__name__
        if isinstance(seen, Transient) or is_transient(seen):
            return transient(f"no answer from {endpoint.backend} for {endpoint.where} "
                             f"({name})", UNANSWERED_FIX)
        return failed(f"preflight could not probe {endpoint.where} ({name})",
                      "this is a bug in preflight's probe for " + endpoint.backend)
    return judge_of(endpoint.backend)(endpoint, seen)


@dataclass(frozen=True)
class Item:
    subject: ProbeSubject
    result: Outcome

    @property
    def text(self) -> str:
        return f"{self.subject.label}: {self.result.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.subject.kind, "origin": self.subject.origin,
                "backend": self.subject.backend, "status": answer(self.result),
                "message": self.result.message, "fix": self.result.remediation}


def unbuildable_items(planned: Plan) -> list[Item]:
    return [Item(subject, failed(reason.message, reason.fix))
            for subject, reason in planned.unbuildable]


def _listed(items: Sequence[Item]) -> str:
    shown = "; ".join(item.text for item in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def _fixes(items: Sequence[Item]) -> str | None:
    fixes = list(dict.fromkeys(item.result.remediation for item in items
                               if item.result.remediation))
    return "; ".join(fixes[:MAX_LISTED]) or None


def unanswered(items: Sequence[Item]) -> list[Item]:
    return [item for item in items if item.result.transient]


def summarise_probes(planned: Plan, items: Sequence[Item],
                     severity: Callable[[ProbeSubject], str]) -> Outcome:
    """The check's outcome once no more attempt will come.

    A probe's finding is a first-use finding (the engines start; the requests that need the
    backend fail), so it follows the first-use severity: built in, it warns — a secondary
    backend's outage must not keep every new pod from starting — and under --strict or a
    profile that says `fail`, it blocks (a fail; an unanswered probe: not ready, exit 3).
    """
    failing = [item for item in items if item.result.status is Status.FAIL]
    waiting = unanswered(items)
    details: dict[str, Any] = {
        "probes": len(planned.endpoints), "subjects": len(items),
        "results": [item.to_dict() | {"severity": severity(item.subject)} for item in items],
        "not_probed": [{"kind": s.kind, "origin": s.origin, "backend": s.backend,
                        "reason": reason} for s, reason in planned.not_probed],
    }
    if not items:
        return Outcome(Status.SKIPPED, "no route or variable names a backend with a probe",
                       details=details)
    if not failing and not waiting:
        return Outcome(Status.PASS, f"{len(planned.endpoints)} probe(s) answered for "
                       f"{len(items)} route(s) and variable(s)", details=details)
    parts = []
    if failing:
        parts.append(f"{len(failing)} of {len(items)} backend(s) will fail the engines' "
                     f"requests: {_listed(failing)}")
    if waiting:
        parts.append(waiting_message(items))
    message = "; ".join(parts)
    fixes = _fixes([*failing, *waiting]) or UNANSWERED_FIX
    if any(severity(item.subject) == "fail" for item in failing):
        return Outcome(Status.FAIL, message, remediation=fixes, details=details)
    if any(severity(item.subject) == "fail" for item in waiting):
        return Outcome(Status.ERROR, f"deadline: {message}", remediation=fixes,
                       details=details, transient=True)
    return Outcome(Status.WARN, f"{message} [the engines start, requests fail]",
                   remediation=fixes, details=details)


def waiting_message(items: Sequence[Item]) -> str:
    waiting = unanswered(items)
    return f"{len(waiting)} of {len(items)} backend(s) did not answer: {_listed(waiting)}"
