"""Routes at a scope, judged as the engines' start-up judges them (their model, the first
match in document-id order, their refused backends); every stricter block carries its code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from preflight.contract import route_model
from preflight.contract.profile import DEFAULT_PROFILE, Profile
from preflight.contract.profile import load as load_profile
from preflight.contract.route_model import RouteDoc
from preflight.core import strictness
from preflight.core.result import Outcome, Status
from preflight.core.scope import Scope

MAX_HINTS = 20


SHOWN_BACKEND = 40


ENGINES = "engines"  # a refusal by the engines' own rule, as opposed to a strictness code


MISSING = "missing"  # the text of a missing kind's problem: such kinds are listed as one


@cache
def built_in_profile() -> Profile:
    return load_profile(DEFAULT_PROFILE)


def _shown(backend: str) -> str:
    return repr(backend if len(backend) <= SHOWN_BACKEND else backend[:SHOWN_BACKEND - 1] + "…")


def validate_route(data: Mapping[str, Any]) -> str | None:
    """Why the engines' route model would reject this document, or None if it accepts it."""
    return route_model.reason(data)


@dataclass(frozen=True)
class Problem:
    """One finding for one kind: an engines crash (code None) or a stricter rule (its code)."""

    kind: str
    text: str
    code: str | None = None
    listed: bool = True  # in details.stricter_than_engines (else summed up by another entry)


@dataclass
class ScopeFindings:
    missing: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # kind -> the engines' pick's backend
    refused_in: dict[str, str] = field(default_factory=dict)  # kind -> that document's id
    invalid: dict[str, str] = field(default_factory=dict)  # every matched invalid document
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    conflicting: list[str] = field(default_factory=list)
    routed: int = 0
    hints: list[str] = field(default_factory=list)
    problems_found: list[Problem] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.missing or self.refused or self.invalid or self.conflicting:
            return Status.FAIL
        return Status.WARN if self.duplicates else Status.PASS


    def stricter(self) -> list[dict[str, str]]:
        return [strictness.finding(p.code, p.text) for p in self.problems_found
                if p.code is not None and p.listed]

    def to_dict(self) -> dict[str, Any]:
        return {"missing": self.missing, "refused": self.refused, "invalid": self.invalid,
                "duplicates": self.duplicates, "routed": self.routed}

    def problems(self) -> str:
        crash = [p for p in self.problems_found if p.code is None]
        contract = [p for p in self.problems_found if p.code is not None]
        parts = []
        if crash:
            parts.append(f"{strictness.ENGINES_CRASH}: " + "; ".join(_grouped(crash)))
        if contract:
            parts.append(f"{strictness.STRICTER}: " + "; ".join(_grouped(contract)))
        if not parts and self.duplicates:
            parts.append("duplicate routes (they agree) for " + ", ".join(self.duplicates))
        return "; ".join(parts)


def _grouped(problems: Sequence[Problem]) -> list[str]:
    """Missing kinds as one phrase, every other problem as its own."""
    missing = [p.kind for p in problems if p.text == MISSING]
    texts = [f"missing {len(missing)} ({', '.join(missing)})"] if missing else []
    return texts + [p.text for p in problems if p.text != MISSING]


def judge_scope(kinds: Sequence[str], docs: Iterable[RouteDoc], disallowed: frozenset[str],
                startup_kinds: Collection[str] | None = None,
                engines_refused: frozenset[str] | None = None) -> ScopeFindings:
    """Judge the documents the engines' lookups for one scope could return. Pure.

    The engines take the first match in document-id order (`limit(1)` on an equality query)
    and crash at start-up if it does not build their model or if its `backend_type`,
    lower-cased and untrimmed, is refused. Everything else preflight blocks here is a
    stricter rule and carries its code. `startup_kinds` are the kinds the engines check in
    this scope at start-up: a finding for any other kind can only be a stricter rule.
    `engines_refused` is the engines' own refused list (the profile's `refused_backends.all`);
    `disallowed` adds the operator's. Left out, both are the built-in profile's.
    """
    if startup_kinds is None or engines_refused is None:
        engines = built_in_profile()
        startup_kinds = engines.kinds_at("startup") if startup_kinds is None else startup_kinds
        engines_refused = (frozenset(engines.refused_all) if engines_refused is None
                           else engines_refused)
    wanted = set(kinds)
    by_kind: dict[str, list[RouteDoc]] = defaultdict(list)
    for doc in docs:
        kind = doc.data.get("resource_kind")
        if isinstance(kind, str) and kind in wanted:
            by_kind[kind].append(doc)
    findings = ScopeFindings()
    unchecked: list[str] = []
    for kind in kinds:
        checked = kind in startup_kinds
        found = _judge_kind(kind, sorted(by_kind.get(kind, ()), key=lambda d: d.doc_id),
                            disallowed, engines_refused, findings)
        if not checked and any(p.code is None for p in found):
            unchecked.append(kind)
        findings.problems_found += [p if checked or p.code else
                                    Problem(p.kind, p.text, "not_checked_at_startup", False)
                                    for p in found]
        findings.routed += not found
    if unchecked:
        findings.problems_found.append(Problem(
            unchecked[0], f"the engines do not check {', '.join(unchecked)} here at start-up; "
            "--scope and --kinds require it", "not_checked_at_startup"))
    return findings


def _judge_kind(kind: str, matches: Sequence[RouteDoc], disallowed: frozenset[str],
                engines_refused: frozenset[str], findings: ScopeFindings) -> list[Problem]:
    if not matches:
        findings.missing.append(kind)
        return [Problem(kind, MISSING)]
    routes: list[route_model.Route | None] = []
    for doc in matches:
        try:
            routes.append(route_model.parse(doc.data))
        except route_model.InvalidRoute as invalid:
            findings.invalid[doc.doc_id] = invalid.reason
            routes.append(None)
    problems: list[Problem] = []
    first_id, first = matches[0].doc_id, routes[0]
    if first is None:
        problems.append(Problem(kind, f"invalid {first_id}: {findings.invalid[first_id]}"))
    else:
        refusal = _refusal(first.backend_type, disallowed, engines_refused)
        if refusal is not None:
            findings.refused[kind] = first.backend_type
            findings.refused_in[kind] = first_id
            problems.append(_refused(kind, first.backend_type, first_id, refusal))
    if len(matches) > 1:
        findings.duplicates[kind] = [doc.doc_id for doc in matches]
        if not _agree(routes):
            findings.conflicting.append(kind)
            problems.append(Problem(kind, f"duplicates disagree for {kind}: the engines would "
                                    f"take {first_id}", "duplicates_disagree"))
    return problems


def _refusal(backend: str, disallowed: frozenset[str], engines_refused: frozenset[str],
             ) -> str | None:
    """ENGINES when the engines refuse it; a strictness code when only preflight does."""
    lowered, trimmed = backend.lower(), backend.strip().lower()
    if lowered in engines_refused:
        return ENGINES
    if not trimmed:
        return "backend_empty"
    if trimmed in engines_refused:
        return "backend_trims_to_refused"
    if lowered in disallowed or trimmed in disallowed:
        return "backend_refused_by_option"
    return None


def _refused(kind: str, backend: str, doc_id: str, refusal: str) -> Problem:
    shown, where = _shown(backend), f"(document {doc_id!r})"
    if refusal == "backend_empty":
        text = (f"the engines would start, but no resolver accepts the empty backend_type of "
                f"{kind} {where} at first use")
    elif refusal == "backend_trims_to_refused":
        text = (f"the engines would start, but no resolver accepts backend_type {shown} of "
                f"{kind} {where} at first use")
    elif refusal == "backend_refused_by_option":
        text = (f"the engines accept backend_type {shown} of {kind} {where}; "
                "--disallow/--disallow-in refuses it")
    else:
        text = f"refused backend {kind}={shown} {where}"
    return Problem(kind, text, None if refusal == ENGINES else refusal)


def _agree(routes: Sequence[route_model.Route | None]) -> bool:
    first = routes[0]
    if first is None:
        return False
    backend = first.backend_type.strip().lower()
    return all(route is not None and route.backend_type.strip().lower() == backend
               and route.config == first.config for route in routes[1:])


def near_misses(scope: Scope, missing: Sequence[str], docs: Iterable[RouteDoc]) -> list[str]:
    """Documents that look meant for a missing kind but that the engines' lookup won't find."""
    hints = []
    wanted = set(missing)
    for doc in docs:
        data = doc.data
        kind = data.get("resource_kind")
        if data.get("tenant_id") != scope.tenant or data.get("env") != scope.env:
            continue
        if isinstance(kind, str) and kind in wanted and scope.project is None \
                and "project_id" not in data:
            hints.append(f"document {doc.doc_id!r} routes {kind} but has no project_id field; "
                         "the engines query project_id == null, which matches only a present "
                         "null: add project_id: null")
        elif isinstance(kind, str) and kind not in wanted and kind.strip().lower() in wanted \
                and data.get("project_id") == scope.project:
            hints.append(f"document {doc.doc_id!r} has resource_kind {kind!r}; the engines "
                         f"match {kind.strip().lower()!r} exactly")
    return hints


def summarise_scopes(kinds: Sequence[str], findings: Mapping[Scope, ScopeFindings], queries: int,
              extra: Mapping[str, Any] | None = None) -> Outcome:
    bad = [scope for scope, found in findings.items() if found.status is Status.FAIL]
    warned = [scope for scope, found in findings.items() if found.status is Status.WARN]
    hints = [hint for found in findings.values() for hint in found.hints][:MAX_HINTS]
    details: dict[str, Any] = {
        "scopes": {scope.label: found.to_dict() for scope, found in findings.items()},
        "queries": queries,
    }
    if hints:
        details["hints"] = hints
    details.update(extra or {})
    stricter = [{**entry, "message": f"{scope.label}: {entry['message']}"}
                for scope, found in findings.items() for entry in found.stricter()]
    if stricter:
        details["stricter_than_engines"] = stricter
    if bad:
        shown = "; ".join(f"{scope.label}: {findings[scope].problems()}" for scope in bad[:3])
        more = f" (and {len(bad) - 3} more scopes)" if len(bad) > 3 else ""
        fixes = []
        if any(findings[s].missing for s in bad):
            fixes.append("write one route document per missing kind with fields id, "
                         "resource_kind, tenant_id, env, project_id (null for a scope without "
                         "a project) and backend_type")
        if any(findings[s].refused for s in bad):
            fixes.append("switch refused routes to a durable backend_type, without surrounding "
                         "spaces (firestore, redis, s3, bigquery)")
        if any(findings[s].invalid for s in bad):
            fixes.append("fix or delete the invalid documents named above")
        if any(findings[s].conflicting for s in bad):
            fixes.append("delete all but one of the disagreeing duplicate routes")
        if hints:
            fixes.append(hints[0])
        return Outcome(Status.FAIL, f"{len(bad)} of {len(findings)} scope(s) blocked: "
                       f"{shown}{more}", remediation="; ".join(fixes), details=details)
    if warned:
        shown = "; ".join(f"{scope.label}: {findings[scope].problems()}" for scope in warned[:3])
        return Outcome(Status.WARN, f"all {len(kinds)} kinds routed, with duplicates: {shown}",
                       remediation="delete the redundant route documents; the engines take "
                       "the first in document-id order", details=details)
    return Outcome(Status.PASS, f"all {len(kinds)} kinds routed in {len(findings)} scope(s)",
                   details=details)
