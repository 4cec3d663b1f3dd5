"""routing.serving: the routes the engines look up when they serve requests.

Request-time lookups use the caller's tenant/env/project — the serving scopes this
deployment is told about (--serve-scope) — with an exact project and no fall-back to a
project-less route; a few kinds are looked up at a fixed scope (event_stream at
t_system/dev). None of the start-up kinds is looked up by these names, so a start-up pass
says nothing about them. Built in, these findings warn: the engines start, and the requests
that need the route fail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from preflight.checks.base import Check, Context
from preflight.checks.firestore_access import (
    firestore_client,
    judge_no_project,
    judge_refusal,
    principal_of,
)
from preflight.checks.routing_entries import MAX_HINTS, ScopeFindings, judge_scope, near_misses
from preflight.config import Config, Scope
from preflight.contract.profile import Profile
from preflight.core.findings import Effect, Finding, summarise
from preflight.observe.errors import Refused
from preflight.observe.firestore import RouteDoc
from preflight.observe.registry import registry_read
from preflight.report.verdict import Outcome, Status

MISSING_FIX = ("write the route (resource_kind, tenant_id, env, project_id exactly as the "
               "engines look it up, and a backend_type the kind accepts)")


def request_time_scopes(config: Config) -> dict[Scope, tuple[str, ...]]:
    """Each scope the engines will look request-time kinds up at, with those kinds."""
    profile = config.profile
    scopes = {scope: profile.kinds_at("serving") for scope in config.serving_scopes}
    for scope, kinds in profile.fixed_scopes().items():
        scopes[scope] = tuple(dict.fromkeys((*scopes.get(scope, ()), *kinds)))
    return scopes


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


class RoutingServing(Check):
    name = "routing.serving"
    needs = ("firestore.access",)
    phase = "first_use"

    def skip_reason(self, config: Config) -> str | None:
        if not request_time_scopes(config):
            return "the profile has no request-time kinds and no --serve-scope was given"
        return None

    def unconfigured(self, config: Config) -> Outcome | None:
        return judge_no_project(config)

    def attempt_budget(self, config: Config) -> float:
        return config.timeout

    def attempt(self, ctx: Context) -> Outcome:
        config = ctx.config
        client = firestore_client(ctx)
        read = registry_read(ctx)
        scopes = request_time_scopes(config)
        try:
            outcome = judge(config.profile, scopes, read.by_scope(client, ctx),
                            len(config.serving_scopes))
            # Near misses cost reads: only for a failing verdict, as routing.entries does.
            missing = [scope for scope in scopes if outcome.status is Status.FAIL
                       and outcome.details["scopes"][scope.label]["missing"]][:MAX_HINTS]
            hints = [hint for scope in missing for hint in near_misses(
                scope, outcome.details["scopes"][scope.label]["missing"],
                read.nearby(client, ctx, scope).docs)]
        except Refused as refusal:
            return judge_refusal(refusal, config, principal_of(ctx))
        if hints:
            outcome = Outcome(outcome.status, outcome.message, outcome.remediation,
                              {**outcome.details, "hints": hints[:MAX_HINTS]})
        return outcome
