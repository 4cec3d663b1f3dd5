"""The one audit result model every output renders from: JSON, text, JUnit and HTML."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from preflight import __version__
from preflight.core.findings import Effect, Finding
from preflight.core.result import ExitCode
from preflight.core.verdict import rfc3339

SCHEMA_ID = "preflight.audit/v1"
RANK = {"fail": 3, "warn": 2, "pass": 1, "unread": 0}  # a cell's or scope's worst wins
SHOWN_BACKEND = 64


def worst(statuses: Sequence[str], default: str = "pass") -> str:
    return max(statuses, key=RANK.__getitem__, default=default)


def shown_backend(backend: Any) -> str | None:
    """A backend_type as the report shows it: a string, cut short; never another value."""
    if isinstance(backend, bytes):
        backend = backend.decode("utf-8", "replace")
    if not isinstance(backend, str):
        return None
    return backend if len(backend) <= SHOWN_BACKEND else backend[:SHOWN_BACKEND - 1] + "…"


def label(tenant: str, env: str, project: str | None) -> str:
    return "/".join((tenant, env) if project is None else (tenant, env, project))


class Item(NamedTuple):
    """A finding and what it means for its scope in the audit (fail or warn)."""

    status: str
    finding: Finding

    @property
    def kind(self) -> str | None:
        kind = (self.finding.extra or {}).get("kind")
        return kind if isinstance(kind, str) else None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, **self.finding.to_dict()}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Item:
        """The item `to_dict` wrote (a part's): what is not a Finding field is its extra."""
        extra = dict(document)
        status, code, subject, message, fix, effect, outcome = (extra.pop(name) for name in (
            "status", "code", "subject", "message", "fix", "effect", "outcome"))
        del extra["consequence"]  # derived from the effect
        reason = extra.pop("reason", None)
        return cls(status, Finding(code, subject, message, fix, Effect(effect), outcome,
                                   reason, extra or None))


class Cell(NamedTuple):
    """One kind at one scope: what the engines' lookup returns and how it was judged."""

    kind: str
    status: str  # fail, warn, pass; unread: routed here, but no lookup reads it here
    documents: tuple[str, ...]  # every document at this scope with this kind, in id order
    backend: str | None  # the first one's backend_type: the engines' pick
    at: str | None  # "startup", "serving", "fixed": how the engines look it up here

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "looked_up": self.at, "documents": list(self.documents),
                "backend_type": self.backend}


class ScopeResult(NamedTuple):
    tenant: str
    env: str
    project: str | None
    role: str  # startup, serving, fixed, unread
    status: str  # fail, warn, pass
    documents: int
    cells: tuple[Cell, ...]
    findings: tuple[Item, ...]

    @property
    def label(self) -> str:
        return label(self.tenant, self.env, self.project)

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.tenant, self.env, self.project)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> ScopeResult:
        cells = tuple(Cell(kind, route["status"], tuple(route["documents"]),
                           route["backend_type"], route["looked_up"])
                      for kind, route in document["routes"].items())
        return cls(document["tenant"], document["env"], document["project"], document["role"],
                   document["status"], document["documents"], cells,
                   tuple(Item.from_dict(item) for item in document["findings"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.label, "tenant": self.tenant, "env": self.env,
            "project": self.project, "role": self.role, "status": self.status,
            "documents": self.documents,
            "missing": [c.kind for c in self.cells if c.at and not c.documents],
            "routes": {cell.kind: cell.to_dict() for cell in self.cells},
            "findings": [item.to_dict() for item in self.findings],
        }


class KindColumn(NamedTuple):
    name: str
    at: str  # startup, serving, fixed
    scope: str | None  # the fixed scope, or the start-up scope for start-up kinds


class ReadError(NamedTuple):
    """Why the registry could not be read (then no scope is judged)."""

    check: str
    message: str
    remediation: str | None
    transient: bool


class Change(NamedTuple):
    """One difference from the baseline report."""

    change: str  # see drift.CHANGES
    scope: str
    kind: str | None = None
    documents: tuple[str, ...] = ()
    before: str | None = None
    after: str | None = None
    codes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"change": self.change, "scope": self.scope, "kind": self.kind,
                "documents": list(self.documents), "before": self.before,
                "after": self.after, "codes": list(self.codes)}


class Drift(NamedTuple):
    baseline: Mapping[str, Any] | None  # file, started_at, status, documents, scopes
    changes: tuple[Change, ...]
    note: str | None = None  # why there is no comparison

    def summary(self) -> dict[str, int]:
        return dict(Counter(change.change for change in self.changes))

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": None if self.baseline is None else dict(self.baseline),
                "note": self.note, "summary": self.summary(),
                "changes": [change.to_dict() for change in self.changes]}


@dataclass
class Tally:
    """What the report's head says of its scopes, counted as they are judged: a report can
    then be rendered from scopes it does not hold (a merge streams them from the parts)."""

    scopes: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    tenants: int = 0  # scopes arrive in label order: a tenant is new when it changes
    last_tenant: str | None = None

    def add(self, scope: ScopeResult) -> None:
        self.scopes += 1
        self.statuses[scope.status] += 1
        self.findings.update(item.finding.code for item in scope.findings)
        if scope.tenant != self.last_tenant:
            self.tenants += 1
            self.last_tenant = scope.tenant

    def __iadd__(self, other: Tally) -> Tally:
        """Another range of tenants (a later shard): no tenant is in both."""
        self.scopes += other.scopes
        self.statuses.update(other.statuses)
        self.findings.update(other.findings)
        self.tenants += other.tenants
        self.last_tenant = other.last_tenant or self.last_tenant
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"scopes": self.scopes, "tenants": self.tenants,
                "statuses": {status: self.statuses.get(status, 0)
                             for status in ("fail", "warn", "pass")},
                "findings": dict(sorted(self.findings.items()))}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Tally:
        return cls(document["scopes"], Counter(document["statuses"]),
                   Counter(document["findings"]), document["tenants"])


@dataclass(frozen=True)
class AuditReport:
    started_at: datetime
    finished_at: datetime
    target: Mapping[str, Any]
    kinds: tuple[KindColumn, ...]
    scopes: Sequence[ScopeResult] = ()  # in label order; iterated, never indexed
    registry_findings: tuple[Item, ...] = ()
    documents: int = 0
    pages: int = 0
    resumed: int = 0
    error: ReadError | None = None
    interrupted_by: int | None = None
    drift: Drift | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    tally: Tally | None = None  # counted as judged; else counted here from the scopes

    def _tally(self) -> Tally:
        if self.tally is not None:
            return self.tally
        tally = Tally()
        for scope in self.scopes:
            tally.add(scope)
        tally.tenants = len({scope.tenant for scope in self.scopes})  # in any order
        object.__setattr__(self, "tally", tally)  # frozen, and the scopes never change
        return tally

    @property
    def status(self) -> str:
        if self.error is not None or self.interrupted_by is not None:
            return "error"
        statuses = self._tally().statuses
        return worst([status for status in ("fail", "warn") if statuses.get(status)])

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted_by is not None:
            return ExitCode(128 + self.interrupted_by)
        if self.error is not None:
            return ExitCode.NOT_READY if self.error.transient else ExitCode.FAIL
        return ExitCode.FAIL if self.status == "fail" else ExitCode.PASS

    @property
    def duration_ms(self) -> int:
        return round((self.finished_at - self.started_at).total_seconds() * 1000)

    def scope_counts(self) -> dict[str, int]:
        counts = self._tally().statuses
        return {status: counts.get(status, 0) for status in ("fail", "warn", "pass")}

    def finding_counts(self) -> dict[str, int]:
        counts = Counter(self._tally().findings)
        counts.update(item.finding.code for item in self.registry_findings)
        return dict(sorted(counts.items()))

    def tenants(self) -> int:
        return self._tally().tenants

    def scope_total(self) -> int:
        return self._tally().scopes

    def head(self) -> dict[str, Any]:
        """Everything but the scopes: small, for logs and the start of every output."""
        return {
            "schema": SCHEMA_ID,
            "status": self.status,
            "exit_code": int(self.exit_code),
            "interrupted": self.interrupted_by is not None,
            "started_at": rfc3339(self.started_at),
            "finished_at": rfc3339(self.finished_at),
            "duration_ms": self.duration_ms,
            "preflight_version": __version__,
            "target": dict(self.target),
            "error": None if self.error is None else {
                "check": self.error.check, "message": self.error.message,
                "remediation": self.error.remediation, "transient": self.error.transient},
            "registry": {"documents": self.documents, "pages": self.pages,
                         "resumed": self.resumed, "scopes": self.scope_total(),
                         "tenants": self.tenants(), **self.counts},
            "kinds": [{"name": k.name, "at": k.at, "scope": k.scope} for k in self.kinds],
            "summary": {"scopes": self.scope_counts(), "findings": self.finding_counts(),
                        "registry_findings": len(self.registry_findings)},
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.head(),
                "scopes": [scope.to_dict() for scope in self.scopes],
                "registry_findings": [item.to_dict() for item in self.registry_findings],
                "drift": None if self.drift is None else self.drift.to_dict()}

    def json_chunks(self) -> Iterator[str]:
        """The JSON document piece by piece: a large registry is never one string in memory."""
        def dumps(value: Any) -> str:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

        yield dumps(self.head())[:-1] + ',"scopes":['
        for index, scope in enumerate(self.scopes):
            yield ("," if index else "") + dumps(scope.to_dict())
        yield '],"registry_findings":' + dumps([i.to_dict() for i in self.registry_findings])
        yield ',"drift":' + dumps(None if self.drift is None else self.drift.to_dict()) + "}\n"
