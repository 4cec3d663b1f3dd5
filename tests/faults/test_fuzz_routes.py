"""Hostile routing documents, written to the real Firestore emulator, judged by the real CLI.

Hypothesis generates route documents with arbitrary field types, missing fields, unicode,
very long strings, nested configs, `backend_type` in every case and padding, odd document
ids, duplicates and near misses. The oracle (tests/engines_oracle.py, written from ENGINES.md,
not from preflight's code) says what the engines would do with the documents as the
Firestore client reads them back: which documents their field-equality lookup finds, which
their model (pydantic, lax) rejects, which one `limit(1)` returns, which backends are refused;
docs/STRICTNESS.md's rules say what preflight blocks beyond that.

Properties:
- preflight never crashes: exit 0 or 1, a schema-valid verdict, routing.entries is never
  `error`;
- its outcome is exactly the oracle's: fail when the engines crash or a documented stricter
  rule applies (and then `details.stricter_than_engines` says so), warn for agreeing
  duplicates, else pass;
- `missing`, `refused` and `invalid` are exactly what the oracle finds, and every
  disagreeing duplicate is named;
- route `config` values never appear in any output.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests import engines_oracle, harness, seed
from tests.conftest import Stack
from tests.faults import results
from tests.faults.common import require_verdict
from tests.route_documents import NO_SURROGATES

pytestmark = pytest.mark.integration

KINDS = ("kpi", "budget", "chat_bus", "seo")
REFUSED = ("memory", "noop", "local", "tmp", "localhost")
REQUIRED_STRINGS = ("id", "resource_kind", "tenant_id", "env", "backend_type")
OPTIONAL_STRINGS = ("project_id", "surface_id", "tier", "health_status", "cost_notes",
                    "previous_backend_type", "switch_rationale")
TIMESTAMPS = ("created_at", "updated_at")
LOOKUP = ("resource_kind", "tenant_id", "env", "project_id")
ALL_FIELDS = (*REQUIRED_STRINGS, *OPTIONAL_STRINGS, "config", "required", *TIMESTAMPS,
              "last_switch_time")
SCOPES = (("t_system", "dev", None), ("acme-corp.eu", "prod.eu", "projet-été"))
EXAMPLES = int(os.environ.get("PREFLIGHT_FUZZ_EXAMPLES", "30"))

# ------------------------------------------------------------------------------ strategies

TEXT = st.text(st.characters(exclude_categories=NO_SURROGATES, exclude_characters="\x00"),
               max_size=30)
LONG_TEXT = st.integers(1_000, 20_000).map(lambda n: "ä" * n)
KEY = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda k: not (k.startswith("__") and k.endswith("__")))
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False), TEXT, LONG_TEXT, st.binary(max_size=16),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                 timezones=st.just(UTC)))
NESTED = st.recursive(SCALAR, lambda inner: st.dictionaries(KEY, inner, max_size=3),
                      max_leaves=8)
ANY_VALUE = st.one_of(SCALAR, SCALAR, NESTED, st.lists(NESTED, max_size=3))
BACKENDS = st.one_of(
    st.sampled_from(["firestore", "redis", "s3", "bigquery", "filesystem"]),
    st.tuples(st.sampled_from(REFUSED), st.sampled_from(["", " ", "\t", "\n", " \u3000"]),
              st.sampled_from(["", " ", "\r\n"]), st.sampled_from([str.upper, str.title,
                                                                  str.lower, str.swapcase]))
    .map(lambda t: t[1] + t[3](t[0]) + t[2]),
    st.sampled_from(["", "   ", "Memory", "MEMORY", "in_memory", "noop ", "ｍｅｍｏｒｙ",
                     "memoryy", "mémoire"]),
    TEXT,
)
DOC_ID = st.text(st.characters(exclude_categories=NO_SURROGATES, exclude_characters="/\x00"),
                 min_size=1, max_size=24).filter(
    lambda s: s not in (".", "..") and not (s.startswith("__") and s.endswith("__")))


@dataclass
class Mutation:
    ops: dict[str, tuple[str, Any]]  # field -> ("keep" | "delete" | "set", value)


@st.composite
def route_doc(draw: st.DrawFn, kind: str, scope: tuple[str, str, str | None],
              marker: str) -> tuple[dict[str, Any], list[str]]:
    """A route for `kind` in `scope`, mutated field by field; and its input classes."""
    tenant, env, project = scope
    doc: dict[str, Any] = {
        "id": f"{kind}-{tenant}-{env}", "resource_kind": kind, "tenant_id": tenant, "env": env,
        "project_id": project, "surface_id": None, "backend_type": "firestore",
        "config": {"marker": marker}, "required": True,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    classes: list[str] = []
    # A few fields per document, so single faults (one missing field, one odd backend) are
    # common and combinations still happen; backend_type is picked more often than others.
    chosen = draw(st.lists(st.sampled_from([*ALL_FIELDS, "backend_type", "backend_type"]),
                           min_size=0, max_size=4, unique=True))
    for name in chosen:
        op = draw(st.sampled_from(["delete", "set", "set"]))
        if op == "delete":
            if name in doc:
                del doc[name]
                which = "required" if name in REQUIRED_STRINGS else "optional"
                classes.append(f"missing field ({which})")
        else:
            if name == "backend_type":
                value = draw(st.one_of(BACKENDS, BACKENDS, BACKENDS, ANY_VALUE))
            elif name == "config":
                value = draw(st.one_of(
                    st.dictionaries(KEY, NESTED, max_size=4).map(
                        lambda d: {**d, "marker": marker}), ANY_VALUE))
                if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
                    classes.append("nested config map")
            elif name in LOOKUP:
                value = draw(st.one_of(TEXT, ANY_VALUE, st.just(None)))
            else:
                value = draw(ANY_VALUE)
            doc[name] = value
            classes.append(f"{'lookup field' if name in LOOKUP else 'field'} set to "
                           f"{_type(value)}")
            if isinstance(value, str) and len(value) >= 1_000:
                classes.append("very long string (>= 1,000 chars)")
            if isinstance(value, str) and not value.isascii():
                classes.append("non-ASCII text")
    backend = doc.get("backend_type")
    if isinstance(backend, str) and backend.strip().lower() in REFUSED:
        classes.append("refused backend_type" + (" (case/padding variant)"
                                                 if backend not in REFUSED else ""))
    return doc, classes


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, datetime):
        return "timestamp"
    return {type(None): "null", int: "integer", float: "double", str: "string",
            bytes: "bytes", dict: "map", list: "array"}.get(type(value), type(value).__name__)


@st.composite
def registry(draw: st.DrawFn) -> dict[str, Any]:
    scope = draw(st.sampled_from(SCOPES))
    marker = f"CFG{uuid.uuid4().hex}"
    docs: dict[str, dict[str, Any]] = {}
    classes: list[str] = []
    mutated = draw(st.sets(st.sampled_from(KINDS), min_size=1, max_size=3))
    used_ids: set[str] = set()

    def new_id(default: str) -> str:
        doc_id = draw(st.one_of(st.just(default), DOC_ID))
        while doc_id in used_ids:
            doc_id += "~"
        used_ids.add(doc_id)
        if doc_id != default:
            classes.append("document id with arbitrary characters")
        return doc_id

    tenant, env, project = scope
    for kind in KINDS:
        base = seed.route(kind, tenant, env, project)
        base["config"] = {**base["config"], "marker": marker}
        if kind not in mutated:
            docs[new_id(f"{kind}-{tenant}-{env}")] = base
            continue
        copies = draw(st.integers(1, 2))
        for number in range(copies):
            if number and draw(st.booleans()):
                twin = dict(docs[next(reversed(docs))])  # a duplicate: agreeing or not
                if draw(st.booleans()):
                    twin["backend_type"] = draw(BACKENDS)
                    classes.append("duplicate with another backend")
                    if twin["backend_type"].strip().lower() in REFUSED:
                        classes.append("refused backend_type (in a duplicate)")
                else:
                    classes.append("duplicate that agrees")
                docs[new_id(f"{kind}#{tenant}#{env}")] = twin
                continue
            doc, doc_classes = draw(route_doc(kind, scope, marker))
            classes += doc_classes
            docs[new_id(f"{kind}-{tenant}-{env}" + ("" if not number else "-2"))] = doc
    for _ in range(draw(st.integers(0, 2))):
        noise, _ = draw(route_doc(draw(st.sampled_from(KINDS)),
                                  draw(st.sampled_from(SCOPES)), marker))
        classes.append("unrelated or near-miss document")
        docs[new_id(f"noise-{uuid.uuid4().hex[:6]}")] = noise
    return {"scope": scope, "docs": docs, "classes": classes, "marker": marker}


# ------------------------------------------------------------------------------ the oracle

def engines_find(doc: Mapping[str, Any], kind: str, scope: tuple[str, str, str | None]) -> bool:
    """The engines' lookup: field equality; a null project only matches a present null."""
    tenant, env, project = scope
    for name, wanted in (("resource_kind", kind), ("tenant_id", tenant), ("env", env)):
        if type(doc.get(name)) is not str or doc[name] != wanted:
            return False
    if "project_id" not in doc:
        return False
    if project is None:
        return doc["project_id"] is None
    return type(doc["project_id"]) is str and doc["project_id"] == project


@dataclass
class Expected:
    missing: set[str] = field(default_factory=set)
    rejected: dict[str, str] = field(default_factory=dict)  # doc id -> kind
    refused: set[str] = field(default_factory=set)  # kinds whose first document is refused
    crash: set[str] = field(default_factory=set)  # kinds the engines' start-up fails on
    stricter: set[str] = field(default_factory=set)  # kinds only a stricter rule blocks
    conflicting: dict[str, list[str]] = field(default_factory=dict)
    agreeing: set[str] = field(default_factory=set)

    @property
    def must_fail(self) -> bool:
        return bool(self.missing or self.crash or self.stricter)

    def allowed(self) -> set[str]:
        if self.must_fail:
            return {"fail"}
        return {"warn"} if self.agreeing else {"pass"}


def _norm(backend: str) -> str:
    return backend.strip().lower()


def oracle(docs: Mapping[str, Mapping[str, Any]], scope: tuple[str, str, str | None]) -> Expected:
    expected = Expected()
    for kind in KINDS:
        ids = sorted(doc_id for doc_id, doc in docs.items() if engines_find(doc, kind, scope))
        if not ids:
            expected.missing.add(kind)
            continue
        routes = [engines_oracle.build(docs[doc_id]) for doc_id in ids]
        for doc_id, route in zip(ids, routes, strict=True):
            if route is None:
                expected.rejected[doc_id] = kind
        first = routes[0]
        if first is None:
            expected.crash.add(kind)
        elif first.backend_type.lower() in REFUSED:
            expected.crash.add(kind)
            expected.refused.add(kind)
        elif not _norm(first.backend_type) or _norm(first.backend_type) in REFUSED:
            expected.stricter.add(kind)
            expected.refused.add(kind)
        if len(ids) > 1:
            if first is not None and all(
                    r is not None and _norm(r.backend_type) == _norm(first.backend_type)
                    and r.config == first.config for r in routes[1:]):
                expected.agreeing.add(kind)
            else:
                expected.conflicting[kind] = ids
                expected.stricter.add(kind)
    return expected


# ------------------------------------------------------------------------------ the tests

def _label(scope: tuple[str, str, str | None]) -> str:
    return "/".join(part for part in scope if part is not None)


def run_registry(stack: Stack, collection: str, scope: tuple[str, str, str | None],
                 *extra: str) -> harness.Result:
    return stack.run("--format", "json", "--collection", collection, "--scope", _label(scope),
                     "--kinds", ",".join(KINDS), "--timeout", "20", *extra)


def explicit(changes: dict[str, dict[str, Any] | None], classes: list[str]) -> dict[str, Any]:
    """A hand-written example in the generator's shape: the valid registry, then `changes`
    (document id -> fields to overwrite, a field value of ... deletes it; None deletes the
    document; an unknown id adds a copy of the kind's route)."""
    scope = SCOPES[0]
    marker = f"CFG{uuid.uuid4().hex}"
    docs = {}
    for kind in KINDS:
        route = seed.route(kind, *scope)
        route["config"] = {**route["config"], "marker": marker}
        docs[f"{kind}-{scope[0]}-{scope[1]}"] = route
    for doc_id, fields in changes.items():
        if fields is None:
            docs.pop(doc_id, None)
            continue
        kind = doc_id.split("-")[0].split("#")[0]
        doc = docs.setdefault(doc_id, dict(docs[f"{kind}-{scope[0]}-{scope[1]}"]))
        for name, value in fields.items():
            if value is ...:
                doc.pop(name, None)
            else:
                doc[name] = value
    return {"scope": scope, "docs": docs, "classes": classes, "marker": marker}


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(case=registry())
@example(case=explicit({"kpi-t_system-dev": {"backend_type": "\tMemory "}},
                       ["refused backend_type (case/padding variant)"]))
@example(case=explicit({"seo-t_system-dev": {"project_id": ...}},
                       ["missing field (optional)", "lookup miss: no project_id field"]))
@example(case=explicit({"budget-t_system-dev": {"tenant_id": 7}},
                       ["lookup field set to integer"]))
@example(case=explicit({"chat_bus-t_system-dev": {"backend_type": 42, "id": None}},
                       ["field set to integer", "field set to null"]))
@example(case=explicit({"kpi#t_system#dev": {"backend_type": "redis"},
                        "seo#t_system#dev": {}},
                       ["duplicate with another backend", "duplicate that agrees"]))
@example(case=explicit({"budget-t_system-dev": {"created_at": "yesterday", "required": "yes"}},
                       ["field set to string (lax-coercible)"]))
@example(case=explicit({"budget-t_system-dev": {"created_at": "2026-01-01 10:00",
                                                "required": 1, "env": "dev", "tier": b"pro"}},
                       ["field set to string (lax-coercible)", "field set to bytes"]))
@example(case=explicit({"kpi#t_system#dev": {"health_status": None}},
                       ["duplicate, first in id order invalid"]))
@example(case=explicit({"seo-t_system-dev": {"self": "x"}}, ["extra field 'self'"]))
def test_hostile_routes_never_crash_never_pass_and_name_the_document(
        stack: Stack, case: dict[str, Any]) -> None:
    collection = f"fz_{uuid.uuid4().hex[:10]}"
    docs, scope, marker = case["docs"], case["scope"], case["marker"]
    seed.write(stack.db, docs, collection)
    stored = seed.snapshot(stack.db, collection)  # what the engines' to_dict() returns
    expected = oracle(stored, scope)
    result = run_registry(stack, collection, scope)
    verdict = require_verdict(result)
    routing = result.check("routing.entries")
    outcome = routing["status"]
    results.record("fuzz_routes", test="hostile route documents", documents=len(docs),
                   classes=sorted(set(case["classes"])), outcome=outcome)
    where = (f"scope {scope}, expected {expected}\n"
             f"docs: {json.dumps(docs, default=repr, ensure_ascii=False)[:3000]}\n"
             f"routing: {json.dumps(routing, ensure_ascii=False)[:3000]}")
    assert result.returncode in (0, 1), f"{where}\n{result.describe()}"
    assert outcome in expected.allowed(), where
    assert verdict["status"] == ("fail" if outcome == "fail" else "pass"), where
    found = routing["details"]["scopes"][_label(scope)]
    assert set(found["missing"]) == expected.missing, where
    assert set(found["invalid"]) == set(expected.rejected), where
    assert set(found["refused"]) == expected.refused, where
    for kind, ids in expected.conflicting.items():
        assert found["duplicates"].get(kind) == ids, where
    codes = {entry["code"] for entry in routing["details"].get("stricter_than_engines", [])}
    startup = scope == ("t_system", "dev", None)
    if outcome == "fail" and (not startup or not (expected.missing or expected.crash)):
        assert codes, f"a block the engines would start through carries no code\n{where}"
    if not startup and (expected.missing or expected.crash):
        # what would crash the engines in their start-up scope is only a rule here
        assert "not_checked_at_startup" in codes, where
    assert marker not in result.everything(), f"a config value was printed\n{where}"


SAFE = st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters=",")
PART = st.one_of(
    st.sampled_from(["t_system", "dev", "a/b", "#", "a#b", ".", "..", "a.b", "a b", "été",
                     "租户", "🚀", "prod-eu", "x" * 60]),
    st.text(SAFE, min_size=1, max_size=16))


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tenant=PART, env=PART, project=st.one_of(st.none(), PART), kind=PART)
def test_special_characters_in_scopes_and_kinds_are_handled_or_refused(
        stack: Stack, tenant: str, env: str, project: str | None, kind: str) -> None:
    """'/', '#', '.', spaces, unicode: a correct route passes; an unusable scope is exit 2."""
    parts = [p for p in (tenant, env, project) if p is not None]
    label = "/".join(parts)
    # What preflight can read from the label: a '/' inside a part shifts the parts.
    read = label.strip().split("/")
    usable = 2 <= len(read) <= 3 and all(p and not any(c.isspace() for c in p) for p in read) \
        and label.strip().isprintable() and kind == kind.strip() and bool(kind) \
        and kind.isprintable()
    same_scope = read == parts
    collection = f"sc_{uuid.uuid4().hex[:10]}"
    doc = seed.route(kind.strip() or "x", tenant, env, project)
    seed.write(stack.db, {uuid.uuid4().hex: doc}, collection)
    result = stack.run("--format", "json", "--collection", collection, "--scope", label,
                       "--kinds", kind, "--timeout", "20")
    classes = ["scope part with " + ("'/'" if "/" in p else "'#'" if "#" in p else "'.'"
                                     if "." in p else "space" if " " in p else "non-ASCII"
                                     if not p.isascii() else "plain") for p in parts]
    results.record("fuzz_routes", test="special characters in scopes and kinds",
                   documents=1, classes=classes, outcome=f"exit {result.returncode}")
    if not usable:
        assert result.returncode == 2, result.describe()
        lines = result.stderr_lines
        assert len(lines) == 1 and lines[0].startswith("preflight: error: "), result.describe()
        assert "Traceback" not in result.stderr
        return
    require_verdict(result)
    if same_scope:
        assert result.returncode == 0, result.describe()
        assert result.scope(label)["routed"] == 1
    else:  # the label names another scope, where no route exists: a finding, not a crash
        assert result.returncode == 1, result.describe()
        assert result.scope(label.strip())["missing"] == [kind], result.describe()


def test_large_collection_and_huge_route_document(stack: Stack) -> None:
    """10,000 unrelated documents and a 900 KiB route document: still a quick pass."""
    stack.seed()
    baseline = min((stack.run("--format", "json", "--timeout", "30") for _ in range(2)),
                   key=lambda r: r.wall)
    assert baseline.returncode == 0, baseline.describe()

    collection = "big_registry"
    noise = {}
    for number in range(10_000):
        noise[f"noise-{number:05d}"] = seed.route(KINDS[number % len(KINDS)],
                                                  tenant=f"tenant_{number % 500}",
                                                  env=f"env_{number % 7}")
    docs = seed.registry()
    docs["kpi-t_system-dev"]["config"] = {"blob": "z" * (900 * 1024)}
    started = time.monotonic()
    seed.write(stack.db, {**noise, **docs}, collection)
    seeding = time.monotonic() - started
    big = min((stack.run("--format", "json", "--timeout", "30", "--collection", collection)
               for _ in range(2)), key=lambda r: r.wall)
    require_verdict(big)
    assert big.returncode == 0, big.describe()
    results.record("fuzz_routes", test="large collection and huge route document",
                   documents=10_017, classes=["10,000 unrelated documents",
                                              "900 KiB route document"],
                   outcome=f"pass in {big.wall:.2f} s (17-document baseline "
                   f"{baseline.wall:.2f} s; seeding {seeding:.1f} s)")
    assert big.wall <= baseline.wall + 2.0, (big.wall, baseline.wall)
    assert "z" * 100 not in big.everything()


def test_refused_backend_names_the_document(stack: Stack) -> None:
    docs = seed.registry()
    docs["kpi-t_system-dev"]["backend_type"] = " Memory "
    stack.seed(docs)
    result = stack.run("--format", "json")
    require_verdict(result)
    assert result.returncode == 1
    routing = result.check("routing.entries")
    assert "kpi" in routing["details"]["scopes"]["t_system/dev"]["refused"]
    assert "kpi-t_system-dev" in json.dumps(routing, ensure_ascii=False), routing
