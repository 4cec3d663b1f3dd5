"""Request-time routes: what the engines' lookups at the serving and fixed scopes find."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from preflight.contract.profile import Profile
from preflight.contract.route_model import RouteDoc
from preflight.core.findings import Effect, Finding, summarise
from preflight.core.result import Outcome
from preflight.core.scope import Scope
from preflight.judge.routes import ScopeFindings, judge_scope

MISSING_FIX = ("write the route (resource_kind, tenant_id, env, project_id exactly as the "
               "engines look it up, and a backend_type the kind accepts)")


def to_findings(profile: Profile, scope: Scope, found: ScopeFindings,
                docs: Sequence[RouteDoc]) -> list[Finding]:
    """A scope's route problems, each one a request that will fail (or a stricter rule)."""
    findings = []

    def add(kind: str, code: str, message: str, fix: str, effect: Effect = Effect.FIRST_USE,
            ) -> None:
        findings.append(Finding(code, f"{kind} at {scope.label}", message, fix, effect,
                                profile.severity_of(kind), extra={"kind": kind,
                                                                  "scope": scope.label}))

    for kind in found.missing:
        add(kind, "route_missing", "no route: the engines' lookup finds none", MISSING_FIX)
    first: dict[str, str] = {}  # kind -> the document the engines' lookup returns
    for doc in sorted(docs, key=lambda d: d.doc_id):
        first.setdefault(str(doc.data.get("resource_kind")), doc.doc_id)
    for kind, doc_id in first.items():
        if doc_id in found.invalid:
            add(kind, "route_invalid", f"document {doc_id!r} fails the engines' route model: "
                f"{found.invalid[doc_id]}", "fix or delete the document")
    for kind in found.conflicting:
        add(kind, "duplicates_disagree", "duplicate routes disagree: the engines would take "
            f"{found.duplicates[kind][0]!r}", "delete all but one of the duplicate routes",
            Effect.CONTRACT)
    return findings


def judge(profile: Profile, scopes: Mapping[Scope, Sequence[str]],
          docs: Mapping[Scope, Sequence[RouteDoc]], serving: int) -> Outcome:
    findings: list[Finding] = []
    details = {}
    for scope, kinds in scopes.items():
        scope_docs = docs.get(scope, ())
        found = judge_scope(kinds, scope_docs, frozenset(), frozenset(), frozenset())
        details[scope.label] = found.to_dict()
        findings += to_findings(profile, scope, found, scope_docs)
    total = sum(len(kinds) for kinds in scopes.values())
    note = "" if serving else "; no serving scopes given (--serve-scope), so tenants' " \
        "request-time routes were not checked"
    return summarise(findings, what="request-time route(s) the engines cannot use",
                     passed=f"{total} request-time route(s) found in {len(scopes)} "
                     f"scope(s){note}", details={"scopes": details})
