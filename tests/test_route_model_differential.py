"""Differential property tests: preflight judges routes exactly as the engines' model does.

The oracle (tests/engines_oracle.py) is a pydantic v2 model written field for field from
ENGINES.md, with the engines' constructor, independent of preflight's `route_model`. Hypothesis
documents (tests/route_documents.py) cover every Firestore type and pydantic's lax inputs.

- One document: preflight accepts it exactly when the oracle does, holds the same
  backend_type and config, and names a field the oracle complains about when it rejects.
- One scope with duplicates: preflight's own prediction of the engines' start-up equals the
  oracle's; preflight never passes what the engines crash on; every block the engines would
  start through carries a strictness code; and preflight blocks exactly when the engines
  crash or one of its documented stricter rules applies.

Runs are derandomized (the same documents on every run and machine) and count what they
tried, so the sizes below are asserted, not hoped for.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.contract import route_model
from preflight.contract.route_model import RouteDoc
from preflight.core import strictness
from preflight.core.result import Status
from preflight.core.scope import Scope
from preflight.judge.routes import judge_scope, summarise_scopes
from tests import engines_oracle, harness
from tests.route_documents import CANARY, REFUSED, route_document

STARTUP_SCOPE = Scope("t_system", "dev")
DOCUMENTS = 2_500
SCOPES = 700
KINDS = ("kpi", "seo", "chat_bus")
SETTINGS: Any = {"deadline": None, "derandomize": True, "database": None,
                 "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much]}
DURABLE = st.sampled_from(["firestore", "redis", "s3", "bigquery", " Redis ", "FIRESTORE"])
REASON = re.compile(r"^(missing required field '(?P<missing>[^']+)'|field '(?P<field>[^']+)' "
                    r"(must be|is not allowed)|field names must be strings)")


def test_one_document_preflight_accepts_exactly_what_the_engines_model_accepts() -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=DOCUMENTS, **SETTINGS)
    @given(document=route_document(min_changes=1))
    def check(document: dict[str, Any]) -> None:
        oracle = engines_oracle.build(document)
        fast = route_model.canonical(document)
        try:
            route: route_model.Route | None = route_model.parse(document)
            reason = None
        except route_model.InvalidRoute as invalid:
            route, reason = None, invalid.reason
        def where() -> str:
            return f"document {document!r}: oracle {oracle!r}, preflight {route or reason!r}"

        assert (route is not None) is (oracle is not None), where()
        seen["documents"] += 1
        seen["fast path" if fast is not None else "pydantic path"] += 1
        if fast is not None:
            assert oracle is not None, f"the fast path accepted what the model rejects: {where()}"
        if route is not None and oracle is not None:
            seen["accepted"] += 1
            if fast is None:
                seen["accepted by lax coercion"] += 1
            assert route.backend_type == oracle.backend_type, where()
            assert route.config == oracle.config, where()
            return
        seen["rejected"] += 1
        assert reason is not None
        match = REASON.match(reason)
        assert match, f"unexpected reason {reason!r}"
        named = match["missing"] or match["field"]
        complaints = engines_oracle.failing_fields(document)
        assert named is None or named in complaints, (reason, complaints, where())
        assert CANARY not in reason
        for name in ("self", "tier", "health_status"):
            if name in document and (name == "self" or document[name] is None):
                seen[f"rejected: {name}"] += 1

    check()
    print(f"one document at a time: {dict(seen)}")  # shown with -s
    assert seen["documents"] >= DOCUMENTS, seen
    assert seen["accepted"] >= DOCUMENTS // 4, seen
    assert seen["rejected"] >= DOCUMENTS // 4, seen
    assert seen["fast path"] >= DOCUMENTS // 10, seen
    assert seen["pydantic path"] >= DOCUMENTS // 3, seen
    assert seen["accepted by lax coercion"] >= DOCUMENTS // 10, seen
    assert min(seen["rejected: self"], seen["rejected: tier"],
               seen["rejected: health_status"]) >= 10, seen


@st.composite
def scope_registry(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """0-3 documents per kind, ids that sort in both conventions, mostly found by the lookup."""
    documents: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        copies = draw(st.sampled_from([0, 1, 1, 1, 1, 1, 2, 2, 3]))
        first: dict[str, Any] | None = None
        for _ in range(copies):
            if first is not None and draw(st.booleans()):
                document = dict(first)  # a duplicate: the same, or another backend
                if draw(st.booleans()):
                    document["backend_type"] = draw(st.sampled_from(
                        ["firestore", " Firestore", "redis", "memory", " memory", ""]))
            else:
                changes = draw(st.sampled_from([0, 0, 1, 2]))
                document = draw(route_document(kind, max_changes=changes,
                                               lookup=draw(st.integers(0, 9)) == 0))
                if draw(st.integers(0, 2)):
                    document["backend_type"] = draw(DURABLE)
                first = first or document
            doc_id = draw(st.sampled_from([f"{kind}-t_system-dev", f"{kind}#t_system#dev",
                                           f"{kind}_a", f"{kind}-b", f"A{kind}", f"~{kind}"]))
            while doc_id in documents:
                doc_id += "~"
            documents[doc_id] = document
    return documents


def preflight_query(documents: dict[str, dict[str, Any]]) -> list[RouteDoc]:
    """What routing.entries' query for t_system/dev returns (equality on tenant, env and a
    present null project)."""
    return [RouteDoc(doc_id, doc) for doc_id, doc in sorted(documents.items())
            if engines_oracle.found_by_lookup({**doc, "resource_kind": "k"}, "k", "t_system",
                                              "dev", None)]


def contract_blocks(documents: dict[str, dict[str, Any]]) -> bool:
    """The documented stricter rules (docs/STRICTNESS.md), applied by the test itself."""
    for kind in KINDS:
        ids = sorted(i for i, d in documents.items() if engines_oracle.found_by_lookup(
            d, kind, "t_system", "dev", None))
        routes = [engines_oracle.build(documents[i]) for i in ids]
        if not routes or routes[0] is None:
            continue
        backend = routes[0].backend_type.strip().lower()
        if not backend or backend in REFUSED:
            return True
        if any(r is None or r.backend_type.strip().lower() != backend
               or r.config != routes[0].config for r in routes[1:]):
            return True
    return False


def test_scopes_with_duplicates_preflight_never_passes_what_the_engines_crash_on() -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=SCOPES, **SETTINGS)
    @given(documents=scope_registry())
    def check(documents: dict[str, dict[str, Any]]) -> None:
        engines_start = engines_oracle.engines_start_up(documents, KINDS)
        found = judge_scope(KINDS, preflight_query(documents), frozenset(REFUSED))
        outcome = summarise_scopes(KINDS, {STARTUP_SCOPE: found}, 1)
        stricter = outcome.details.get("stricter_than_engines", [])
        def where() -> str:
            return (f"engines start: {engines_start}; preflight: {outcome.status} "
                    f"{outcome.message}\n{documents!r}")

        seen["scopes"] += 1
        seen["documents"] += len(documents)
        assert harness.engines_would_start(found) is engines_start, where()
        if not engines_start:
            seen["engines crash"] += 1
            assert outcome.status is Status.FAIL, f"false pass: {where()}"
            assert strictness.ENGINES_CRASH in outcome.message, where()
        elif outcome.status is Status.FAIL:
            seen["stricter block"] += 1
            assert stricter, f"an undocumented block: {where()}"
        else:
            seen["pass or warn"] += 1
        assert {entry["code"] for entry in stricter} <= strictness.CODES
        assert (outcome.status is Status.FAIL) is (not engines_start
                                                   or contract_blocks(documents)), where()
        if any(len(v) > 1 for v in found.duplicates.values()):
            seen["with duplicates"] += 1
        assert CANARY not in repr(outcome)

    check()
    print(f"scopes: {dict(seen)}")  # shown with -s
    assert seen["scopes"] >= SCOPES, seen
    assert seen["documents"] >= 2_000, seen
    # Every outcome is exercised. The generator makes about 5% passes (34 to 50 of 700 seen),
    # so the floor is 2%: low enough not to flake, high enough to catch a generator gone dry.
    for outcome in ("engines crash", "stricter block", "pass or warn", "with duplicates"):
        assert seen[outcome] >= SCOPES // 50, seen
