"""What the audit keeps of each document while it streams the registry: compact facts.

A registry of millions of routes must not be held in memory. Per document the audit keeps
what the judges need and nothing else: its id, its `backend_type` as stored, the names of
its config keys that hold a value (never a value), which of them fail the form the profile
gives them and which hold an empty string, a fingerprint of its config (so
duplicates can still be compared) and, for the rare document the engines' model rejects,
the document itself (the judges re-read it to say why). Judging rebuilds from these a
stand-in document that the same judges judge exactly as they would judge the original:
the model accepts it iff it accepted the original, with the same backend, the same present
keys (each passing or failing its form as the original did), the same empty ones, and
configs equal iff the originals' were.

The fingerprint compares configs as Firestore values (an integer 1 and a double 1.0
differ), where Python's `==` would call them equal: for duplicates that differ only so, the
audit reports a disagreement that `check` would not.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from preflight.contract import route_model
from preflight.contract.profile import Profile
from preflight.judge.route_backends import FORMS

Key = tuple[str, str, str | None]  # tenant_id, env, project_id (None: a present null)
CONFIG_FINGERPRINT = "\x00fingerprint"  # a key no profile can name (names are [A-Za-z0-9_.-])
NEAR_MISSES_LISTED = 100  # per scope; the rest are counted
KEPT_UNPLACED = 2000  # unplaced documents listed registry-wide, smallest ids first


class DocFact(NamedTuple):
    doc_id: str
    backend: Any  # backend_type as stored
    keys: frozenset[str]  # config keys whose value is present
    fingerprint: int  # of the config; 0 when it is empty or absent
    invalid: str | None  # why the engines' model rejects it
    data: Mapping[str, Any] | None  # the document itself, only when invalid
    misformed: frozenset[str] = frozenset()  # present keys whose value fails its form
    empty: frozenset[str] = frozenset()  # keys holding an empty string


class NearMiss(NamedTuple):
    """A document meant for a lookup that never finds it."""

    doc_id: str
    data: Mapping[str, Any]  # resource_kind, tenant_id, env, and project_id if present
    why: str  # "no_project_id" or "empty_project_id"


class Unplaced(NamedTuple):
    doc_id: str
    reason: str


def present(value: Any) -> bool:
    """A config value the engines use (as routing.backends decides it): not null or empty."""
    return value is not None and value not in ("", {})


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "bytes:" + value.hex()
    if isinstance(value, datetime):
        return "time:" + value.isoformat()
    path = getattr(value, "path", None)
    if isinstance(path, str):
        return "ref:" + path
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        return f"geo:{value.latitude},{value.longitude}"
    return f"{type(value).__name__}:{value!r}"


def _canonical(value: Any) -> Any:
    """JSON-ready and order-free: maps as sorted [key, value] pairs, whatever the key type."""
    if isinstance(value, dict):
        return ["map", sorted(([("s:" + key) if isinstance(key, str) else "o:" + _plain(key),
                                _canonical(item)] for key, item in value.items()),
                              key=lambda pair: pair[0])]
    if isinstance(value, (list, tuple)):
        return ["array", [_canonical(item) for item in value]]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return _plain(value)


def fingerprint(config: Mapping[str, Any]) -> int:
    if not config:
        return 0
    text = json.dumps(_canonical(config), ensure_ascii=False, separators=(",", ":"))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") or 1


_ABSENT: Any = object()


class Facts:
    """Per scope, per kind, the facts of the tenant being read; the unplaced documents of all.

    The audit reads the registry in tenant order and judges a tenant's scopes once the next
    tenant begins (`take`), so only one tenant's facts are held at a time. What is listed in
    full is bounded too: near misses per scope, and unplaced documents registry-wide (those
    with the smallest ids: a rule every shard can apply on its own and a merge exactly); the
    rest are counted.
    """

    def __init__(self, profile: Profile) -> None:
        self.profile = profile  # the forms of config keys, per kind and backend
        self.scopes: dict[Key, dict[str, list[DocFact]]] = {}
        self.near: dict[tuple[str, str], list[NearMiss]] = {}
        self.unplaced: list[Unplaced] = []  # in id order, at most KEPT_UNPLACED
        self.near_dropped = 0
        self.unplaced_total = 0
        self.documents = 0
        self._key_sets: dict[frozenset[str], frozenset[str]] = {}
        self._forms: dict[tuple[str, str], dict[str, str]] = {}

    def take(self) -> dict[Key, tuple[dict[str, list[DocFact]], list[NearMiss]]]:
        """Every scope held, with its near misses, let go of here."""
        taken = {key: (by_kind, self.near.get((key[0], key[1]), []) if key[2] is None else [])
                 for key, by_kind in self.scopes.items()}
        self.scopes, self.near = {}, {}
        return taken

    def add(self, doc_id: str, data: dict[str, Any]) -> None:
        self.documents += 1
        kind = data.get("resource_kind", _ABSENT)
        tenant = data.get("tenant_id", _ABSENT)
        env = data.get("env", _ABSENT)
        project = data.get("project_id", _ABSENT)
        wrong = [(name, value) for name, value in (("resource_kind", kind),
                                                   ("tenant_id", tenant), ("env", env))
                 if type(value) is not str]
        if project is not _ABSENT and project is not None and type(project) is not str:
            wrong.append(("project_id", project))
        if wrong:
            self._unplaced(doc_id, data, wrong)
            return
        if project is _ABSENT or project == "":
            self._near(doc_id, kind, tenant, env, project,
                       "no_project_id" if project is _ABSENT else "empty_project_id")
            return
        # Kinds and envs are few, shared by many facts; tenants and projects are many, and
        # an interned string may outlive its tenant.
        kind = sys.intern(kind)
        key = (tenant, sys.intern(env), project)
        by_kind = self.scopes.get(key)
        if by_kind is None:
            by_kind = self.scopes[key] = {}
        facts = by_kind.get(kind)
        if facts is None:
            facts = by_kind[kind] = []
        facts.append(self._fact(doc_id, kind, data))

    def _fact(self, doc_id: str, kind: str, data: dict[str, Any]) -> DocFact:
        invalid = route_model.reason(data)
        if invalid is not None:
            return DocFact(doc_id, data.get("backend_type"), frozenset(), 0, invalid, data)
        config = data.get("config") or {}
        keys = self._shared(frozenset(name for name, value in config.items()
                                      if isinstance(name, str) and present(value)))
        backend = data["backend_type"]
        if isinstance(backend, str):
            backend = sys.intern(backend)
        forms = self._forms_of(kind, backend)
        misformed = self._shared(frozenset(
            name for name, form in forms.items() if name in keys
            and not (isinstance(config[name], str) and FORMS[form][0](config[name]))))
        empty = self._shared(frozenset(name for name, value in config.items()
                                       if isinstance(name, str) and value == ""))
        return DocFact(doc_id, backend, keys, fingerprint(config), None, None, misformed, empty)

    def _shared(self, names: frozenset[str]) -> frozenset[str]:
        return self._key_sets.setdefault(names, names)

    def _forms_of(self, kind: str, backend: Any) -> dict[str, str]:
        """Config key -> form, for the backend the kind's resolver builds from this type."""
        name = backend.lower() if isinstance(backend, str) else ""
        if (kind, name) not in self._forms:
            spec = self.profile.kinds.get(kind)
            built = (spec.backends or {}).get(name) if spec is not None else None
            self._forms[(kind, name)] = {key.name: key.form for key in
                                         (built.config if built else ()) if key.form}
        return self._forms[(kind, name)]

    def _near(self, doc_id: str, kind: str, tenant: str, env: str, project: Any,
              why: str) -> None:
        # Reported at the scope the document would be in with project_id null.
        self.scopes.setdefault((tenant, sys.intern(env), None), {})
        listed = self.near.setdefault((tenant, sys.intern(env)), [])
        if len(listed) >= NEAR_MISSES_LISTED:
            self.near_dropped += 1
            return
        kept = {"resource_kind": kind, "tenant_id": tenant, "env": env}
        if project is not _ABSENT:
            kept["project_id"] = project
        listed.append(NearMiss(doc_id, kept, why))

    def _unplaced(self, doc_id: str, data: Mapping[str, Any],
                  wrong: list[tuple[str, Any]]) -> None:
        self.unplaced_total += 1
        if len(self.unplaced) >= KEPT_UNPLACED and doc_id > self.unplaced[-1].doc_id:
            return
        fields = ", ".join(f"{name} is absent" if value is _ABSENT
                           else f"{name} is a Firestore {route_model.firestore_type(value)}, "
                           "not a string" for name, value in wrong)
        invalid = route_model.reason(data)
        reason = fields + (f"; the engines' model rejects it: {invalid}" if invalid else "")
        bisect.insort(self.unplaced, Unplaced(doc_id, reason))
        del self.unplaced[KEPT_UNPLACED:]
