"""Drift: what changed per scope since an earlier audit (its JSON report). Pure.

Scopes are matched by tenant, env and project; routes by kind and document id. A failing
finding is known by its code and kind, so a reworded message is not a change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from preflight.audit.model import SCHEMA_ID, Change, Drift, ScopeResult

# In the order a scope's changes are listed.
CHANGES = ("new_failure", "fixed", "scope_added", "scope_removed", "backend_changed",
           "route_added", "route_deleted")

ScopeKey = tuple[str, str, str | None]


class BaselineError(ValueError):
    """The baseline is not an audit report preflight can compare with."""


@cache
def _validator() -> Any:
    import jsonschema

    schema_file = files("preflight").joinpath("audit/schema/audit-v1.json")
    schema = json.loads(schema_file.read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def load_baseline(path: Path) -> dict[str, Any]:
    """The baseline report, checked against the published schema; BaselineError if unusable."""
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise BaselineError(f"cannot read it ({reason})") from None
    except ValueError as error:
        raise BaselineError(f"not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA_ID:
        raise BaselineError(f"not a {SCHEMA_ID} report (preflight audit --format json)")
    problem = next(iter(sorted(_validator().iter_errors(document),
                               key=lambda e: list(map(str, e.absolute_path)))), None)
    if problem is not None:
        where = "/".join(map(str, problem.absolute_path)) or "the top level"
        raise BaselineError(f"not a valid {SCHEMA_ID} report: at {where}: {problem.message}")
    if document["error"] is not None:
        raise BaselineError("that audit could not read the registry: nothing to compare with")
    return document


class _Side:
    """What drift compares of one scope, from either report."""

    def __init__(self, status: str, routes: Mapping[str, tuple[tuple[str, ...], str | None]],
                 failing: Iterable[tuple[str, str]]) -> None:
        self.status = status
        self.routes = routes  # kind -> (documents, backend of the first)
        self.failing = frozenset(failing)  # (code, kind)


def _from_report(scope: Mapping[str, Any]) -> _Side:
    return _Side(scope["status"], {kind: (tuple(route["documents"]), route["backend_type"])
                                   for kind, route in scope["routes"].items()},
                 ((f["code"], f.get("kind") or "") for f in scope["findings"]
                  if f["status"] == "fail"))


def _from_result(scope: ScopeResult) -> _Side:
    return _Side(scope.status, {cell.kind: (cell.documents, cell.backend)
                                for cell in scope.cells},
                 ((item.finding.code, item.kind or "") for item in scope.findings
                  if item.status == "fail"))


def compare(baseline: Mapping[str, Any], scopes: Sequence[ScopeResult],
            file: str | None = None) -> Drift:
    before: dict[ScopeKey, tuple[str, _Side]] = {
        (s["tenant"], s["env"], s["project"]): (s["scope"], _from_report(s))
        for s in baseline["scopes"]}
    after = {scope.key: (scope.label, _from_result(scope)) for scope in scopes}
    changes: list[Change] = []
    for key in sorted(set(before) | set(after),
                      key=lambda k: (k[0], k[1], k[2] is not None, k[2] or "")):
        name = (after.get(key) or before[key])[0]
        changes += _scope_changes(name, before.get(key, (name, None))[1],
                                  after.get(key, (name, None))[1])
    head = {"file": file, "started_at": baseline["started_at"], "status": baseline["status"],
            "documents": baseline["registry"]["documents"],
            "scopes": baseline["registry"]["scopes"]}
    return Drift(head, tuple(changes))


def _scope_changes(name: str, old: _Side | None, new: _Side | None) -> list[Change]:
    changes: list[Change] = []
    empty = _Side("pass", {}, ())
    if old is None and new is not None and new.routes:
        changes.append(Change("scope_added", name, after=new.status))
    if new is None and old is not None and old.routes:
        changes.append(Change("scope_removed", name, before=old.status))
    old, new = old or empty, new or empty
    fresh = sorted(new.failing - old.failing)
    if fresh:
        changes.append(Change("new_failure", name, before=old.status, after=new.status,
                              codes=tuple(f"{code}:{kind}" if kind else code
                                          for code, kind in fresh)))
    if old.status == "fail" and new.status != "fail":
        changes.append(Change("fixed", name, before=old.status, after=new.status))
    for kind in sorted(set(old.routes) | set(new.routes)):
        was, now = old.routes.get(kind, ((), None)), new.routes.get(kind, ((), None))
        if was[0] and now[0] and was[1] != now[1]:
            changes.append(Change("backend_changed", name, kind, (was[0][0], now[0][0]),
                                  was[1], now[1]))
        added = tuple(doc for doc in now[0] if doc not in was[0])
        deleted = tuple(doc for doc in was[0] if doc not in now[0])
        if added:
            changes.append(Change("route_added", name, kind, added))
        if deleted:
            changes.append(Change("route_deleted", name, kind, deleted))
    return sorted(changes, key=lambda c: (CHANGES.index(c.change), c.kind or ""))
