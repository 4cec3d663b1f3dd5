"""Each scope judged by `check`'s own judges, plus what only the whole registry shows. Pure.

The rules are not restated here: start-up kinds go to routing.entries' `judge_scope` (the
engines' model, the first document in id order, their refused backends, the strictness
codes), request-time kinds to the same `judge_scope` and routing.serving's `to_findings`,
and the route the engines would take for each kind to routing.backends' `judge_route`.
This module decides only where each kind is looked up (the profile says) and adds the
registry-wide findings: agreeing duplicates and their id conventions, routes no lookup
reads, orphan kinds, near misses and invalid documents no lookup uses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from preflight.audit.facts import CONFIG_FINGERPRINT, DocFact, Facts, Key, NearMiss, Unplaced
from preflight.audit.model import (
    Cell,
    Item,
    KindColumn,
    ScopeResult,
    Tally,
    shown_backend,
    worst,
)
from preflight.contract.lookups import Located, lookups_at, role_of
from preflight.contract.profile import Profile
from preflight.contract.route_model import RouteDoc
from preflight.core import strictness
from preflight.core.findings import Effect, Finding
from preflight.core.scope import Scope
from preflight.judge.route_backends import judge_route
from preflight.judge.routes import MISSING, ScopeFindings, judge_scope, near_misses
from preflight.judge.serving import MISSING_FIX, to_findings

WARN, FAIL = "warn", "fail"
STRICT_FIXES = {
    "duplicates_disagree": "delete all but one of the duplicate routes",
    "backend_empty": "set backend_type to a durable backend",
    "backend_trims_to_refused": "set backend_type to a durable backend, without surrounding "
                                "spaces",
    "backend_refused_by_option": "switch the route to a backend the profile allows in this env",
}
REFUSED_FIX = ("switch the route to a durable backend_type, without surrounding spaces "
               "(firestore, redis, s3, bigquery)")
DASHED, HASHED, OTHER = "{kind}-{tenant}-{env}", "{kind}#{tenant}#{env}", "other id"

# docs/ENGINES.md §2: the engines' route listing builds the model of every document it reads.
LISTING_FAILS = ("; while it exists, the engines' `GET /routing/routes` fails for every "
                 "caller that lists all routes, this kind or this tenant")


def kind_columns(profile: Profile) -> tuple[KindColumn, ...]:
    """The grid's columns: start-up kinds, request-time kinds, then fixed-scope kinds."""
    startup = profile.startup_scope.label
    columns = [KindColumn(kind, "startup", startup) for kind in profile.kinds_at("startup")]
    columns += [KindColumn(kind, "serving", None) for kind in profile.kinds_at("serving")]
    columns += [KindColumn(kind, "fixed", scope.label)
                for scope, kinds in profile.fixed_scopes().items() for kind in kinds]
    return tuple(columns)


def convention(doc_id: str, kind: str, scope: Scope) -> str:
    """Which id convention a document follows, as the engines and their API write ids."""
    parts = (kind, scope.tenant, scope.env) + (() if scope.project is None
                                                 else (scope.project,))
    if doc_id in ("-".join(parts), "-".join(parts[:3])):
        return DASHED
    if doc_id in ("#".join(parts), "#".join(parts[:3])):
        return HASHED
    return OTHER


# Values standing in for the original's: one that passes every form of route_backends.FORMS,
# one that fails every one.
FORMED, MISFORMED = "abcd", "a!"


def stand_in(scope: Scope, kind: str, fact: DocFact) -> RouteDoc:
    """A document the judges judge exactly as the original (see facts.py)."""
    if fact.data is not None:
        return RouteDoc(fact.doc_id, dict(fact.data))
    config: dict[str, Any] = dict.fromkeys(fact.keys, FORMED)
    config.update(dict.fromkeys(fact.misformed, MISFORMED))
    config.update(dict.fromkeys(fact.empty, ""))
    if fact.fingerprint:
        config[CONFIG_FINGERPRINT] = fact.fingerprint
    return RouteDoc(fact.doc_id, {
        "id": fact.doc_id, "resource_kind": kind, "tenant_id": scope.tenant, "env": scope.env,
        "project_id": scope.project, "backend_type": fact.backend, "config": config})


def _finding(code: str, scope: Scope, subject: str, message: str, fix: str,
             **extra: Any) -> Finding:
    return Finding(code, subject, message, fix, Effect.CONTRACT, WARN,
                   extra={"scope": scope.label, **extra})


class Judge:
    """Judges scopes for one profile, the refused backends per env, and the engines' env."""

    def __init__(self, profile: Profile, refused_in: Callable[[str], frozenset[str]],
                 environ: Mapping[str, str | None]) -> None:
        self.profile = profile
        self.refused_in = refused_in
        self.environ = environ
        self.startup_kinds = frozenset(profile.kinds_at("startup"))
        self.engines_refused = frozenset(profile.refused_all)
        self.order = {column.name: index for index, column in
                      enumerate(kind_columns(profile))}

    # ------------------------------------------------------------------ a scope
    def scope(self, key: Key, by_kind: Mapping[str, Sequence[DocFact]],
              near: Sequence[NearMiss] = ()) -> ScopeResult:
        scope = Scope(*key)
        # The stream arrives in id order already; sorting keeps "first" exact regardless.
        by_kind = {kind: sorted(facts, key=lambda fact: fact.doc_id) if len(facts) > 1
                   else facts for kind, facts in by_kind.items()}
        looked = lookups_at(self.profile, scope)
        role = role_of(self.profile, scope)
        items: list[Item] = []
        judged_first: set[str] = set()  # documents a judge already called invalid

        startup = [kind for kind, at in looked.items() if at == "startup"]
        if startup:
            docs = self._docs(scope, startup, by_kind)
            found = judge_scope(startup, docs, self.refused_in(scope.env), self.startup_kinds,
                                self.engines_refused)
            items += [Item(FAIL, f) for f in self._startup(scope, found, by_kind)]
            items += self._duplicates(scope, found, by_kind)
            judged_first |= {by_kind[k][0].doc_id for k in startup if by_kind.get(k)}
        request = [kind for kind, at in looked.items() if at != "startup"]
        if request:
            docs = self._docs(scope, request, by_kind)
            found = judge_scope(request, docs, frozenset(), frozenset(), frozenset())
            items += [Item(FAIL, f) for f in self._with_documents(
                to_findings(self.profile, scope, found, docs), scope, by_kind)]
            items += self._duplicates(scope, found, by_kind)
            judged_first |= {by_kind[k][0].doc_id for k in request if by_kind.get(k)}
        for kind, at in looked.items():
            facts = by_kind.get(kind)
            spec = self.profile.kinds[kind]
            if not facts or facts[0].invalid or (at == "startup" and spec.backends is None):
                continue
            items += [Item(FAIL, f) for f in judge_route(
                self.profile, spec, Located(kind, scope, at), stand_in(scope, kind, facts[0]),
                self.refused_in(scope.env), self.environ)]
        items += self._unread(scope, role, looked, by_kind)
        items += self._invalid(scope, by_kind, judged_first)
        items += self._near(scope, near)
        items.sort(key=lambda item: (-len(item.status), self.order.get(item.kind or "", 999),
                                     item.kind or "", item.finding.code))
        return ScopeResult(scope.tenant, scope.env, scope.project, role,
                           worst([item.status for item in items]),
                           sum(len(facts) for facts in by_kind.values()),
                           self._cells(looked, by_kind, items), tuple(items))

    def _docs(self, scope: Scope, kinds: Sequence[str],
              by_kind: Mapping[str, Sequence[DocFact]]) -> list[RouteDoc]:
        return [stand_in(scope, kind, fact) for kind in kinds for fact in by_kind.get(kind, ())]

    def _startup(self, scope: Scope, found: ScopeFindings,
                 by_kind: Mapping[str, Sequence[DocFact]]) -> list[Finding]:
        """routing.entries' problems, one finding each (its summary groups them in a line)."""
        findings = []
        for problem in found.problems_found:
            kind = problem.kind
            extra: dict[str, Any] = {"kind": kind, "scope": scope.label}
            reason = None
            if problem.code is not None:
                code, message, effect = problem.code, problem.text, Effect.CONTRACT
                fix = STRICT_FIXES.get(code, "see the strictness rule " + code)
                reason = strictness.reason_of(code)
            elif problem.text == MISSING:
                code, message, fix, effect = ("route_missing", "no route: the engines' "
                                              "start-up lookup finds none", MISSING_FIX,
                                              Effect.STARTUP)
            elif kind in found.refused:
                code, message, fix, effect = ("backend_refused", problem.text, REFUSED_FIX,
                                              Effect.STARTUP)
                extra["document"] = found.refused_in[kind]
            else:
                code, message, fix, effect = ("route_invalid", problem.text + LISTING_FAILS,
                                              "fix or delete the document", Effect.STARTUP)
            findings.append(Finding(code, f"{kind} at {scope.label}", message, fix, effect,
                                    self.profile.severity_of(kind), reason, extra))
        return self._with_documents(findings, scope, by_kind)

    def _with_documents(self, findings: list[Finding], scope: Scope,
                        by_kind: Mapping[str, Sequence[DocFact]]) -> list[Finding]:
        """Disagreeing duplicates name every document and the id conventions they follow."""
        out = []
        for finding in findings:
            kind = (finding.extra or {}).get("kind")
            facts = by_kind.get(kind, ()) if isinstance(kind, str) else ()
            if finding.code == "duplicates_disagree" and isinstance(kind, str) and facts:
                ids = [fact.doc_id for fact in facts]
                out.append(finding._replace(extra={
                    **(finding.extra or {}), "documents": ids,
                    "conventions": sorted({convention(i, kind, scope) for i in ids})}))
            else:
                out.append(finding)
        return out

    def _duplicates(self, scope: Scope, found: ScopeFindings,
                    by_kind: Mapping[str, Sequence[DocFact]]) -> list[Item]:
        items = []
        for kind, ids in found.duplicates.items():
            if kind in found.conflicting:
                continue  # the judge's duplicates_disagree says it
            conventions = sorted({convention(i, kind, scope) for i in ids})
            across = (f" across id conventions ({', '.join(conventions)})"
                      if len(conventions) > 1 else "")
            items.append(Item(WARN, _finding(
                "duplicates_agree", scope, f"{kind} at {scope.label}",
                f"{len(ids)} documents answer the lookup{across}; they agree, and the engines "
                f"take {ids[0]!r} (first in id order)",
                "delete all but one: renaming or deleting a document would switch the route "
                "silently", kind=kind, documents=list(ids), conventions=conventions)))
        return items

    def _unread(self, scope: Scope, role: str, looked: Mapping[str, str],
                by_kind: Mapping[str, Sequence[DocFact]]) -> list[Item]:
        profile = self.profile
        items = []
        if role == "unread" and by_kind:
            if scope.env not in profile.envs:
                why = (f"the engines never run in env {scope.env!r} (they serve "
                       f"{', '.join(profile.envs)})")
            else:
                why = (f"the engines look up no route at a scope without a project other than "
                       f"{profile.startup_scope.label}: start-up reads "
                       f"{profile.startup_scope.label} whatever ENV says, and requests always "
                       "carry a project")
            items.append(Item(WARN, _finding(
                "scope_unread", scope, scope.label,
                f"{sum(len(f) for f in by_kind.values())} route(s) here are never read: {why}",
                "move them to the scope they are meant for (a project for request-time kinds, "
                f"{profile.startup_scope.label} for start-up kinds), or delete them")))
        for kind, facts in by_kind.items():
            if kind in looked:
                continue
            ids = [fact.doc_id for fact in facts]
            normal = kind.strip().lower()
            if kind not in profile.kinds and normal in profile.kinds:
                if role == "unread":
                    continue
                for fact in facts:
                    hints = near_misses(scope, [normal], [RouteDoc(fact.doc_id, {
                        "resource_kind": kind, "tenant_id": scope.tenant, "env": scope.env,
                        "project_id": scope.project})])
                    items.append(Item(WARN, _finding(
                        "near_miss", scope, f"{normal} at {scope.label}",
                        hints[0] if hints else f"resource_kind {kind!r} is not one the "
                        f"engines look up; {normal!r} is", f"set resource_kind to {normal!r}",
                        kind=kind, document=fact.doc_id)))
            elif kind not in profile.kinds:
                items.append(Item(WARN, _finding(
                    "orphan_kind", scope, f"{kind} at {scope.label}",
                    f"no profile kind is named {kind!r}: the engines never look it up "
                    f"({len(ids)} document(s))", "delete the route(s), or add the kind to "
                    "the profile if the engines do use it", kind=kind, documents=ids)))
            elif role != "unread":
                spec = profile.kinds[kind]
                where = ("at " + (profile.startup_scope.label if spec.at == "startup" else
                                  spec.scope.label if spec.scope is not None else "?")
                         if spec.at != "serving" else "only at scopes with a project")
                items.append(Item(WARN, _finding(
                    "route_unread", scope, f"{kind} at {scope.label}",
                    f"no lookup reads {kind} here: the engines look it up {where}",
                    "move the route to where it is looked up, or delete it", kind=kind,
                    documents=ids)))
        return items

    def _invalid(self, scope: Scope, by_kind: Mapping[str, Sequence[DocFact]],
                 judged: set[str]) -> list[Item]:
        return [Item(WARN, _finding(
            "document_invalid", scope, f"document {fact.doc_id!r}",
            f"fails the engines' route model: {fact.invalid}{LISTING_FAILS}",
            "fix or delete the document",
            kind=kind, document=fact.doc_id))
            for kind, facts in by_kind.items() for fact in facts
            if fact.invalid is not None and fact.doc_id not in judged]

    def _near(self, scope: Scope, near: Sequence[NearMiss]) -> list[Item]:
        items = []
        for miss in near:
            kind = miss.data["resource_kind"]
            hints = near_misses(scope, list(self.profile.kinds), [RouteDoc(miss.doc_id,
                                                                            dict(miss.data))])
            if hints:
                message = hints[0]
            elif miss.why == "no_project_id":
                message = (f"document {miss.doc_id!r} routes {kind!r} but has no project_id "
                           "field: no lookup matches it (project_id == null matches only a "
                           "present null)")
            else:
                message = (f"document {miss.doc_id!r} routes {kind!r} with an empty "
                           "project_id: no lookup matches it (the engines look up null for no "
                           "project, and a request's project is never empty)")
            items.append(Item(WARN, _finding(
                "near_miss", scope, f"{kind} at {scope.label}", message,
                "set project_id to the project, or to null for a scope without one",
                kind=kind, document=miss.doc_id)))
        return items

    def _cells(self, looked: Mapping[str, str], by_kind: Mapping[str, Sequence[DocFact]],
               items: Sequence[Item]) -> tuple[Cell, ...]:
        statuses: dict[str, list[str]] = defaultdict(list)
        for item in items:
            if item.kind is not None and item.finding.code != "near_miss":
                statuses[item.kind].append(item.status)
        kinds = sorted(set(looked) | set(by_kind),
                       key=lambda kind: (self.order.get(kind, len(self.order)), kind))
        cells = []
        for kind in kinds:
            facts = by_kind.get(kind, ())
            at = looked.get(kind)
            status = worst(statuses[kind]) if at else "unread"
            cells.append(Cell(kind, status, tuple(f.doc_id for f in facts),
                              shown_backend(facts[0].backend) if facts else None, at))
        return tuple(cells)


def scope_order(key: Key) -> tuple[str, str, bool, str]:
    """The report's order: tenant, env, the scope without a project first, then projects."""
    return (key[0], key[1], key[2] is not None, key[2] or "")


class TenantStream:
    """Documents in the tenant index's order in; each scope's result out once it is complete.

    A tenant's documents arrive together (the index orders by tenant_id, then by document
    id), so when the next tenant begins, every scope of the last one is complete: it is
    judged, handed to `emit` in label order, and its facts are let go. The profile's own
    scopes (start-up, fixed) are judged even when empty, by the shard whose range holds
    their tenant. Documents whose tenant_id is not a string come before or after every
    string and belong to no scope.
    """

    def __init__(self, judge: Judge, emit: Callable[[ScopeResult], None]) -> None:
        self.judge = judge
        self.emit = emit
        self.facts = Facts(judge.profile)
        self.tally = Tally()
        self.current: str | None = None
        self._pending: list[Key] = []

    def begin(self, start: str | None, end: str | None) -> None:
        """The range of tenant ids this stream is given: [start, end), None for no bound."""
        profile = self.judge.profile
        keys = {(scope.tenant, scope.env, scope.project)
                for scope in (profile.startup_scope, *profile.fixed_scopes())}
        self._pending = sorted((key for key in keys if (start is None or key[0] >= start)
                                and (end is None or key[0] < end)), key=scope_order)

    def add(self, doc_id: str, data: dict[str, Any]) -> None:
        tenant = data.get("tenant_id")
        if type(tenant) is str and tenant != self.current:
            self._judge_until(tenant)
            self.current = tenant
        self.facts.add(doc_id, data)

    def finish(self) -> None:
        self._judge_until(None)

    def _judge_until(self, tenant: str | None) -> None:
        """Every scope held, and the profile's scopes whose tenant comes before `tenant`."""
        scopes = self.facts.take()
        while self._pending and (tenant is None or self._pending[0][0] < tenant):
            scopes.setdefault(self._pending.pop(0), ({}, []))
        for key in sorted(scopes, key=scope_order):
            by_kind, near = scopes.pop(key)
            result = self.judge.scope(key, by_kind, near)
            self.tally.add(result)
            self.emit(result)


def registry_findings(unplaced: Iterable[Unplaced]) -> list[Item]:
    """Documents no lookup can match: they belong to no scope."""
    return [Item(WARN, Finding(
        "document_unplaced", f"document {doc.doc_id!r}",
        f"no lookup can match it: {doc.reason}",
        "give it string resource_kind, tenant_id and env fields (and project_id null or a "
        "string), or delete it", Effect.CONTRACT, WARN, extra={"document": doc.doc_id}))
        for doc in unplaced]
