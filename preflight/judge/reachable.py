"""backends.reachable, judged: what the engines will build, and what each probe's answer means.

The subjects are what the engines will build (`probe_subjects`, pure): the route they take at
every lookup of a kind whose profile entry declares its backends — start-up, serving and
fixed scopes alike — when that route is valid and buildable (routing.backends has nothing
to say of it), each with its kind's spec of the backend; and the variables whose value the
profile's `probe` maps to a backend, each with what that backend reads. A backend the
profile marks `unusable` is not probed: routing.backends reports the route. The profile's
`probes` section and each kind's `probe` turn probes off per backend or kind.

`plan` maps each subject to an endpoint, or to why the engines could not build it, and in
`preflight exec` adds the engines' interpreter with every subject's client library;
`judge_one` applies the one transient policy (observe/errors.py) before a backend's judge;
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
from preflight.contract.profile import Library, Profile, VariableRule
from preflight.contract.route_model import RouteDoc
from preflight.contract.targets import (
    Endpoint,
    ProbeSubject,
    Unbuildable,
    VariableRead,
    target_of,
)
from preflight.contract.variables import read as read_variable
from preflight.core.result import Outcome, Status
from preflight.core.scope import Scope
from preflight.judge.backends import answer, failed, passed, transient
from preflight.judge.route_backends import judge_route
from preflight.observe.errors import Refused, Transient, http_status, is_transient
from preflight.observe.interpreter import ImportsObservation, InterpreterEndpoint
from preflight.observe.probing import NO_ANSWER

MAX_LISTED = 4
UNANSWERED_FIX = ("check that each backend named is up and reachable from this pod; raise "
                  "--timeout if it is only slow")
LIBRARIES_UNSEEN = ("not checked: whether the engines' Python imports each backend's client "
                    "library is known only to `preflight exec` beside the engines, from COMMAND "
                    "or PREFLIGHT_ENGINES_PYTHON")


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
        if route_model.reason(doc.data) is not None:
            continue  # routing.serving says why
        backend = str(doc.data["backend_type"]).lower()
        spec = (kind.backends or {}).get(backend)
        subject = ProbeSubject(where.kind, f"route `{doc.doc_id}` ({where.scope.label})",
                               backend, doc.data.get("config") or {}, spec)
        if spec is not None and spec.unusable is not None:
            found.append(subject)  # not probed: plan says why
        elif not judge_route(profile, kind, where, doc, config.disallowed_for(where.scope.env),
                             config.engines_env) and switched_on.get(backend, True):
            found.append(subject)  # else routing.backends says why
    for rules in (profile.environment, profile.backend_variables):
        for rule in rules.values():
            value = read_variable(rule, config.engines_env).value
            chosen = (rule.probe or {}).get(value) if value is not None else None
            if chosen is not None and switched_on.get(chosen.backend, True):
                found.append(ProbeSubject(rule.variable, rule.variable, chosen.backend,
                                          reads=variable_reads(chosen.reads, rules)))
    return found


def variable_reads(reads: Mapping[str, Any], rules: Mapping[str, VariableRule],
           ) -> dict[str, VariableRead]:
    return {role: VariableRead(read.variable, rules.get(read.variable), read.default)
            for role, read in reads.items()}


@dataclass
class Plan:
    """What the engines would build for each subject; pure, no I/O."""

    unbuildable: list[tuple[ProbeSubject, Unbuildable]] = field(default_factory=list)
    probed: list[tuple[ProbeSubject, Endpoint]] = field(default_factory=list)
    # No probe for the backend; a backend the engines cannot use at this version; or a
    # variable whose endpoint env.backends already judges unusable (e.g. REDIS_PORT=six),
    # which it reports with the profile's severity.
    not_probed: list[tuple[ProbeSubject, str]] = field(default_factory=list)
    # preflight exec: the engines' interpreter, and which subject needs which library.
    interpreter: InterpreterEndpoint | None = None
    libraries: list[tuple[ProbeSubject, Library]] = field(default_factory=list)

    @property
    def endpoints(self) -> list[Endpoint]:
        """Distinct endpoints, in first-seen order: one probe each."""
        found: list[Endpoint] = list(dict.fromkeys(endpoint for _, endpoint in self.probed))
        return found + ([self.interpreter] if self.interpreter is not None else [])


def plan(subjects: Sequence[ProbeSubject], environ: Mapping[str, str],
         profile: Profile | None = None, engines_python: str | None = None) -> Plan:
    """`engines_python` (preflight exec): check there that each subject's client library,
    as `profile.libraries` names it, imports."""
    planned = Plan()
    for subject in dict.fromkeys(subjects):
        unusable = subject.spec.unusable if subject.spec is not None else None
        if unusable is not None:
            planned.not_probed.append((subject, f"the engines cannot use {subject.backend} at "
                                       f"this version ({unusable.reason}): routing.backends "
                                       "reports the route"))
            continue
        library = profile.libraries.get(subject.backend) if profile is not None else None
        if library is not None and engines_python is not None:
            planned.libraries.append((subject, library))
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
    if planned.libraries and engines_python is not None:
        modules = tuple(dict.fromkeys(library.module for _, library in planned.libraries))
        planned.interpreter = InterpreterEndpoint(python=engines_python, modules=modules,
                                                  where=f"the engines' Python ({engines_python})")
    return planned


def judge_one(endpoint: Endpoint, seen: Any, timeout: float) -> Outcome:
    """The one transient policy, then the backend's judge: a probe that did not answer or
    raised `Transient` is transient; `Refused` is a definitive refusal the probe left
    unclassified; anything else is a bug in preflight's probe (fail closed)."""
    module = importlib.import_module(f"preflight.judge.backends.{endpoint.backend}")
    service = str(getattr(module, "SERVICE", endpoint.backend))
    specific = getattr(module, "unanswered_fix", None)
    unanswered_fix = str(specific(endpoint)) if callable(specific) else UNANSWERED_FIX
    if seen is NO_ANSWER:
        return transient(f"no answer from {service} for {endpoint.where} within {timeout:g}s",
                         unanswered_fix)
    if isinstance(seen, Exception):
        cause = seen.cause if isinstance(seen, (Transient, Refused)) and seen.cause else seen
        name = type(cause).__name__
        if isinstance(seen, Transient) or is_transient(seen):
            # A gRPC call (Firestore) got no HTTP answer, whatever code it maps to.
            status = None if getattr(cause, "grpc_status_code", None) else http_status(cause)
            return transient(f"{service} answered {status} for {endpoint.where} (try again)"
                             if status else
                             f"no answer from {service} for {endpoint.where} ({name})",
                             unanswered_fix)
        if isinstance(seen, Refused):
            return failed(f"{service} refused the probe of {endpoint.where} ({name})",
                          f"check the {service} the route or variables name, and this pod's "
                          "credentials for it")
        return failed(f"preflight could not probe {endpoint.where} ({name})",
                      "this is a bug in preflight's probe for " + endpoint.backend)
    found: Outcome = module.judge(endpoint, seen)
    return found


def judge_library(subject: ProbeSubject, library: Library, seen: Any, timeout: float,
                  lacking: Sequence[str] = ()) -> Outcome:
    """Whether the engines' interpreter imports the subject's client library (exec only).
    `lacking`: the distributions the engines' requirements are known not to bring."""
    interpreter = "the engines' Python"
    if seen is NO_ANSWER or isinstance(seen, Transient):
        return transient(f"{interpreter} did not say whether it imports {library.module} "
                         f"within {timeout:g}s", "raise --attempt-timeout: importing the "
                         "client libraries takes longer on this machine")
    if not isinstance(seen, ImportsObservation):
        return failed(f"preflight could not ask {interpreter} to import {library.module} "
                      f"({type(seen).__name__})", "this is a bug in preflight's import check")
    if seen.not_started is not None:
        return failed(f"{interpreter} could not be run ({seen.not_started})",
                      "point PREFLIGHT_ENGINES_PYTHON at the engines' interpreter")
    error = seen.failed.get(library.module)
    if error is None:
        return passed(f"{interpreter} imports {library.module}")
    note = (" (the engines' requirements do not bring it)" if library.distribution in lacking
            else "")
    return failed(f"{interpreter} cannot import {library.module} ({error}): the engines fail "
                  f"to build every {subject.backend} client",
                  f"install {library.distribution} in the engines' image{note}")


@dataclass(frozen=True)
class Item:
    subject: ProbeSubject
    result: Outcome
    library: Library | None = None  # exec: whether the engines' Python imports it

    @property
    def text(self) -> str:
        return f"{self.subject.label}: {self.result.message}"

    def to_dict(self) -> dict[str, Any]:
        found = {"kind": self.subject.kind, "origin": self.subject.origin,
                 "backend": self.subject.backend, "status": answer(self.result),
                 "message": self.result.message, "fix": self.result.remediation}
        return found | ({"library": self.library.module} if self.library else {})


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
    subjects = len({item.subject for item in items})
    details: dict[str, Any] = {
        "probes": len(planned.endpoints), "subjects": subjects,
        "results": [item.to_dict() | {"severity": severity(item.subject)} for item in items],
        "not_probed": [{"kind": s.kind, "origin": s.origin, "backend": s.backend,
                        "reason": reason} for s, reason in planned.not_probed],
    }
    if planned.interpreter is None:
        details["libraries"] = LIBRARIES_UNSEEN
    if not items:
        return Outcome(Status.SKIPPED, "no route or variable names a backend with a probe",
                       details=details)
    if not failing and not waiting:
        return Outcome(Status.PASS, f"{len(planned.endpoints)} probe(s) answered for "
                       f"{subjects} route(s) and variable(s)", details=details)
    parts = []
    if failing:
        parts.append(f"{len(failing)} of {subjects} backend(s) will fail the engines' "
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
