"""routing.entries: every scope has a valid, allowed route for every required kind.

Routes are found exactly as the engines find them: by field equality on resource_kind,
tenant_id, env and project_id (a null project matches only a present null field), never by
document id. The documents come from the round's shared registry read (preflight.registry);
judging them is the pure function `judge_scope`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from preflight.checks.base import Check, Context
from preflight.checks.firestore_access import NO_PROJECT, firestore_client
from preflight.config import Config, Scope
from preflight.probes.firestore import RouteDoc
from preflight.registry import registry_read
from preflight.verdict import Outcome, Status

REQUIRED_STRINGS = ("id", "resource_kind", "tenant_id", "env", "backend_type")
OPTIONAL_STRINGS = ("project_id", "surface_id", "tier", "health_status", "cost_notes",
                    "previous_backend_type", "switch_rationale")
TIMESTAMPS = ("created_at", "updated_at")
OPTIONAL_TIMESTAMPS = ("last_switch_time",)
MAX_HINTS = 20


def firestore_type(value: object) -> str:
    names = {type(None): "null", bool: "boolean", int: "integer", float: "double", str: "string",
             bytes: "bytes", dict: "map", list: "array"}
    for python_type, name in names.items():
        if type(value) is python_type:
            return name
    if isinstance(value, datetime):
        return "timestamp"
    return type(value).__name__.lower()


def validate_route(data: Mapping[str, Any]) -> str | None:
    """Why the engines' route model would reject this document, or None if it accepts it."""
    for name in REQUIRED_STRINGS:
        if name not in data:
            return f"missing required field '{name}'"
        if not isinstance(data[name], str):
            return f"field '{name}' must be a string, not {firestore_type(data[name])}"
    if not data["backend_type"].strip():
        return "field 'backend_type' is empty"
    for name in OPTIONAL_STRINGS:
        if name in data and data[name] is not None and not isinstance(data[name], str):
            return f"field '{name}' must be a string or null, not {firestore_type(data[name])}"
    if "config" in data and not isinstance(data["config"], dict):
        return f"field 'config' must be a map, not {firestore_type(data['config'])}"
    if "required" in data and not isinstance(data["required"], bool):
        return f"field 'required' must be a boolean, not {firestore_type(data['required'])}"
    for name in TIMESTAMPS:
        if name in data and not isinstance(data[name], datetime):
            return f"field '{name}' must be a timestamp, not {firestore_type(data[name])}"
    for name in OPTIONAL_TIMESTAMPS:
        if name in data and data[name] is not None and not isinstance(data[name], datetime):
            return (f"field '{name}' must be a timestamp or null, "
                    f"not {firestore_type(data[name])}")
    return None


def normalised_backend(data: Mapping[str, Any]) -> str | None:
    backend = data.get("backend_type")
    return backend.strip().lower() if isinstance(backend, str) else None


@dataclass
class ScopeFindings:
    missing: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    refused_in: dict[str, str] = field(default_factory=dict)  # kind -> the document's id
    invalid: dict[str, str] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    conflicting: list[str] = field(default_factory=list)
    routed: int = 0
    hints: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.missing or self.refused or self.invalid or self.conflicting:
            return Status.FAIL
        return Status.WARN if self.duplicates else Status.PASS

    def to_dict(self) -> dict[str, Any]:
        return {"missing": self.missing, "refused": self.refused, "invalid": self.invalid,
                "duplicates": self.duplicates, "routed": self.routed}

    def problems(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing {len(self.missing)} ({', '.join(self.missing)})")
        if self.refused:
            parts.append("refused backend " + ", ".join(
                f"{kind}={backend.strip()!r} (document {self.refused_in[kind]!r})"
                for kind, backend in self.refused.items()))
        if self.invalid:
            parts.append("invalid " + "; ".join(
                f"{doc_id}: {reason}" for doc_id, reason in self.invalid.items()))
        if self.conflicting:
            parts.append("conflicting duplicates for " + ", ".join(self.conflicting))
        elif self.duplicates:
            parts.append("duplicate routes (they agree) for " + ", ".join(self.duplicates))
        return "; ".join(parts)


def judge_scope(kinds: Sequence[str], docs: Iterable[RouteDoc],
                disallowed: frozenset[str]) -> ScopeFindings:
    """Judge the documents the engines' lookups for one scope could return. Pure."""
    wanted = set(kinds)
    by_kind: dict[str, list[RouteDoc]] = defaultdict(list)
    for doc in docs:
        kind = doc.data.get("resource_kind")
        if isinstance(kind, str) and kind in wanted:
            by_kind[kind].append(doc)
    findings = ScopeFindings()
    for kind in kinds:
        matches = sorted(by_kind.get(kind, ()), key=lambda d: d.doc_id)
        if not matches:
            findings.missing.append(kind)
            continue
        usable = True
        for doc in matches:
            reason = validate_route(doc.data)
            if reason:
                findings.invalid[doc.doc_id] = reason
                usable = False
            backend = doc.data.get("backend_type")
            if isinstance(backend, str) and normalised_backend(doc.data) in disallowed:
                if kind not in findings.refused:
                    findings.refused[kind] = backend
                    findings.refused_in[kind] = doc.doc_id
                usable = False
        if len(matches) > 1:
            findings.duplicates[kind] = [doc.doc_id for doc in matches]
            first = matches[0].data
            if any(normalised_backend(d.data) != normalised_backend(first)
                   or d.data.get("config") != first.get("config") for d in matches[1:]):
                findings.conflicting.append(kind)
                usable = False
        findings.routed += usable
    return findings


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


def summarise(config: Config, findings: Mapping[Scope, ScopeFindings], queries: int) -> Outcome:
    bad = [scope for scope, found in findings.items() if found.status is Status.FAIL]
    warned = [scope for scope, found in findings.items() if found.status is Status.WARN]
    hints = [hint for found in findings.values() for hint in found.hints][:MAX_HINTS]
    details: dict[str, Any] = {
        "scopes": {scope.label: found.to_dict() for scope, found in findings.items()},
        "queries": queries,
    }
    if hints:
        details["hints"] = hints
    kinds = len(config.kinds)
    if bad:
        shown = "; ".join(f"{scope.label}: {findings[scope].problems()}" for scope in bad[:3])
        more = f" (and {len(bad) - 3} more scopes)" if len(bad) > 3 else ""
        fixes = []
        if any(findings[s].missing for s in bad):
            fixes.append("write one route document per missing kind with fields id, "
                         "resource_kind, tenant_id, env, project_id (null for a scope without "
                         "a project) and backend_type")
        if any(findings[s].refused for s in bad):
            fixes.append("switch refused routes to a durable backend_type (firestore, redis, "
                         "s3, bigquery)")
        if any(findings[s].invalid for s in bad):
            fixes.append("fix or delete the invalid documents named above")
        if any(findings[s].conflicting for s in bad):
            fixes.append("delete all but one of the conflicting duplicate routes")
        if hints:
            fixes.append(hints[0])
        return Outcome(Status.FAIL, f"{len(bad)} of {len(findings)} scope(s) cannot start: "
                       f"{shown}{more}", remediation="; ".join(fixes), details=details)
    if warned:
        shown = "; ".join(f"{scope.label}: {findings[scope].problems()}" for scope in warned[:3])
        return Outcome(Status.WARN, f"all {kinds} kinds routed, with duplicates: {shown}",
                       remediation="delete the redundant route documents; the engines take "
                       "whichever comes first", details=details)
    return Outcome(Status.PASS, f"all {kinds} kinds routed in {len(findings)} scope(s)",
                   details=details)


class RoutingEntries(Check):
    name = "routing.entries"
    needs = ("firestore.access",)

    def skip_reason(self, config: Config) -> str | None:
        return None if config.project else NO_PROJECT

    def attempt_budget(self, config: Config) -> float:
        """Pages are many bounded calls; only the deadline bounds an attempt of them all."""
        return config.timeout

    def attempt(self, ctx: Context) -> Outcome:
        config = ctx.config
        client = firestore_client(ctx)
        read = registry_read(ctx)
        docs = read.by_scope(client, ctx)
        findings = {scope: judge_scope(config.kinds, docs.get(scope, ()),
                                       config.disallowed_for(scope.env))
                    for scope in config.scopes}
        queries = read.calls
        for scope in [s for s in config.scopes if findings[s].missing][:MAX_HINTS]:
            found = findings[scope]
            nearby = read.nearby(client, ctx, scope)
            found.hints = near_misses(scope, found.missing, nearby.docs)
            queries += nearby.calls
        return summarise(config, findings, queries)
