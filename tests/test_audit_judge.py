"""The audit's pure parts, without a server: facts, judging, drift, the report model.

The audit must judge exactly as `check` does. It keeps compact facts instead of documents,
so the central property here is that the stand-in documents it rebuilds from those facts get
the same judgement from `check`'s judges as the originals, for every kind of document the
route-model strategies generate.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.audit import drift, judge
from preflight.audit.facts import Facts
from preflight.audit.model import AuditReport, Change, ReadError
from preflight.contract import lookups
from preflight.contract.lookups import Located
from preflight.contract.profile import load
from preflight.contract.route_model import RouteDoc
from preflight.core.scope import Scope
from preflight.judge.route_backends import judge_route
from preflight.judge.routes import judge_scope
from tests import seed
from tests.route_documents import route_document

PROFILE = load("engines")
STARTUP = Scope("t_system", "dev")
SERVED = Scope("t_acme", "prod", "p_main")
REFUSED = frozenset(PROFILE.refused_all)


def judged(findings: Any) -> tuple[Any, ...]:
    return (findings.missing, findings.refused, findings.refused_in, findings.invalid,
            findings.duplicates, findings.conflicting,
            [(p.kind, p.text, p.code, p.listed) for p in findings.problems_found])


def facts_of(scope: Scope, documents: list[dict[str, Any]]) -> tuple[Facts, list[RouteDoc]]:
    facts = Facts(PROFILE)
    originals = []
    for index, document in enumerate(documents):
        doc_id = f"d{index:02d}"
        facts.add(doc_id, copy.deepcopy(document))
        originals.append(RouteDoc(doc_id, document))
    return facts, originals


def located(scope: Scope, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for document in documents:
        document.update(tenant_id=scope.tenant, env=scope.env, project_id=scope.project)
    return documents


@st.composite
def duplicates(draw: st.DrawFn, kind: str) -> list[dict[str, Any]]:
    """1-3 documents for one kind: fresh ones, and copies that differ in one field or not."""
    documents = [draw(route_document(kind, lookup=False))]
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.booleans()):
            twin = copy.deepcopy(documents[0])
            if draw(st.booleans()):
                twin["backend_type"] = draw(st.sampled_from(["firestore", "memory", " noop"]))
            documents.append(twin)
        else:
            documents.append(draw(route_document(kind, lookup=False)))
    return documents


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_stand_ins_get_the_judgement_of_the_originals_at_start_up(data: st.DataObject) -> None:
    kinds = ["kpi", "budget"]
    documents = located(STARTUP, data.draw(duplicates("kpi")) + data.draw(duplicates("budget")))
    facts, originals = facts_of(STARTUP, documents)
    by_kind = facts.scopes[("t_system", "dev", None)]
    stand_ins = judge.Judge(PROFILE, lambda env: REFUSED, {})._docs(STARTUP, kinds, by_kind)
    startup = frozenset(PROFILE.kinds_at("startup"))
    assert judged(judge_scope(kinds, stand_ins, REFUSED, startup, REFUSED)) == judged(
        judge_scope(kinds, originals, REFUSED, startup, REFUSED))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(["object_store", "notes_store", "chat_store"]),
       st.sampled_from(["s3", "gcs", "azure_blob", "firestore", "dynamodb", "cosmos",
                        "filesystem", "memory", " s3", "redis"]))
def test_stand_ins_get_the_judgement_of_the_originals_when_serving(
        data: st.DataObject, kind: str, backend: str) -> None:
    documents = located(SERVED, data.draw(duplicates(kind)))
    documents[0]["backend_type"] = backend
    facts, originals = facts_of(SERVED, documents)
    by_kind = facts.scopes[("t_acme", "prod", "p_main")]
    stand_ins = judge.Judge(PROFILE, lambda env: REFUSED, {})._docs(SERVED, [kind], by_kind)
    none: frozenset[str] = frozenset()
    assert judged(judge_scope([kind], stand_ins, none, none, none)) == judged(
        judge_scope([kind], originals, none, none, none))
    if by_kind[kind][0].invalid is None:
        where = Located(kind, SERVED, "serving")
        environ = {"RAW_BUCKET": None, "GCS_BUCKET": "b"}
        assert judge_route(PROFILE, PROFILE.kinds[kind], where, stand_ins[0], REFUSED,
                           environ) == judge_route(PROFILE, PROFILE.kinds[kind], where,
                                                   originals[0], REFUSED, environ)


def test_a_document_lands_in_the_scope_its_fields_name() -> None:
    facts = Facts(PROFILE)
    facts.add("a", seed.route("kpi"))
    facts.add("b", seed.route("notes_store", "t_acme", "prod", "p_main"))
    facts.add("c", {k: v for k, v in seed.route("kpi", "t_beta").items() if k != "project_id"})
    facts.add("d", seed.route("kpi", "t_gamma", project=""))
    facts.add("e", {**seed.route("kpi"), "tenant_id": 7})
    facts.add("f", {**seed.route("kpi"), "resource_kind": None})
    facts.add("g", {**seed.route("kpi"), "tenant_id": b"t_system"})  # the model takes bytes
    assert set(facts.scopes) == {("t_system", "dev", None), ("t_acme", "prod", "p_main"),
                                 ("t_beta", "dev", None), ("t_gamma", "dev", None)}
    assert facts.scopes[("t_beta", "dev", None)] == {}  # only near misses there
    assert [(m.doc_id, m.why) for m in facts.near[("t_beta", "dev")]] == [("c", "no_project_id")]
    assert [(m.doc_id, m.why) for m in facts.near[("t_gamma", "dev")]] == [
        ("d", "empty_project_id")]
    assert [(u.doc_id, u.reason) for u in facts.unplaced] == [
        ("e", "tenant_id is a Firestore integer, not a string; the engines' model rejects it: "
              "field 'tenant_id' must be a string, got integer"),
        ("f", "resource_kind is a Firestore null, not a string; the engines' model rejects "
              "it: field 'resource_kind' must be a string, got null"),
        ("g", "tenant_id is a Firestore bytes, not a string")]
    assert facts.documents == 7


def test_config_values_are_not_kept_only_key_names_and_a_fingerprint() -> None:
    facts = Facts(PROFILE)
    facts.add("a", seed.route("chat_store", "t_a", "prod", "p", backend="cosmos",
                              config={"key": "SECRET-1", "endpoint": "", "database": None}))
    (fact,) = facts.scopes[("t_a", "prod", "p")]["chat_store"]
    assert fact.keys == frozenset({"key"})
    assert fact.data is None
    assert "SECRET-1" not in repr(fact)


@pytest.mark.parametrize(("scope", "role", "kinds"), [
    (Scope("t_system", "dev"), "startup", 18),  # 17 start-up kinds and event_stream
    (Scope("t_acme", "prod", "p1"), "serving", 14),
    (Scope("t_acme", "qa", "p1"), "unread", 0),
    (Scope("t_acme", "prod"), "unread", 0),
    (Scope("t_system", "prod"), "unread", 0),
    (Scope("t_system", "dev", "p1"), "serving", 14),
])
def test_where_the_engines_look_kinds_up(scope: Scope, role: str, kinds: int) -> None:
    assert lookups.role_of(PROFILE, scope) == role
    assert len(lookups.lookups_at(PROFILE, scope)) == kinds


@pytest.mark.parametrize(("doc_id", "expected"), [
    ("kpi-t_system-dev", judge.DASHED), ("kpi#t_system#dev", judge.HASHED),
    ("notes_store-t_a-prod-p1", judge.DASHED), ("notes_store#t_a#prod#p1", judge.HASHED),
    ("Xq81bZ0", judge.OTHER), ("kpi-t_system-prod", judge.OTHER),
])
def test_id_conventions(doc_id: str, expected: str) -> None:
    kind = doc_id.replace("#", "-").split("-", 1)[0] if expected != judge.OTHER else "kpi"
    scope = Scope("t_a", "prod", "p1") if "t_a" in doc_id else Scope("t_system", "dev")
    assert judge.convention(doc_id, kind, scope) == expected


ENVIRON = {"GCP_PROJECT_ID": "p"}  # stands in for the firestore backends' `project` key


def scope_result(facts: Facts, key: tuple[str, str, str | None]) -> Any:
    return judge.Judge(PROFILE, lambda env: REFUSED, ENVIRON).scope(key, facts.scopes[key])


def test_an_unread_scope_warns_once_and_names_its_orphans() -> None:
    facts = Facts(PROFILE)
    facts.add("kpi-t_system-prod", seed.route("kpi", env="prod"))
    facts.add("legacy-t_system-prod", seed.route("legacy", env="prod"))
    result = scope_result(facts, ("t_system", "prod", None))
    assert result.role == "unread"
    assert result.status == "warn"
    assert [(i.status, i.finding.code, i.kind) for i in result.findings] == [
        ("warn", "scope_unread", None), ("warn", "orphan_kind", "legacy")]
    assert {c.kind: c.status for c in result.cells} == {"kpi": "unread", "legacy": "unread"}


def test_agreeing_duplicates_across_conventions_warn_and_the_hashed_id_wins() -> None:
    facts = Facts(PROFILE)
    for doc_id in ("notes_store-t_a-prod-p1", "notes_store#t_a#prod#p1"):
        facts.add(doc_id, seed.route("notes_store", "t_a", "prod", "p1", backend="firestore"))
    result = scope_result(facts, ("t_a", "prod", "p1"))
    dup = next(i for i in result.findings if i.finding.code == "duplicates_agree")
    assert dup.status == "warn"
    assert dup.finding.extra["documents"] == ["notes_store#t_a#prod#p1",
                                              "notes_store-t_a-prod-p1"]
    assert dup.finding.extra["conventions"] == [judge.HASHED, judge.DASHED]
    assert "the engines take 'notes_store#t_a#prod#p1'" in dup.finding.message
    cell = next(c for c in result.cells if c.kind == "notes_store")
    assert (cell.status, cell.documents[0]) == ("warn", "notes_store#t_a#prod#p1")


def test_a_scope_fails_on_a_first_use_finding_that_check_only_warns_about() -> None:
    facts = Facts(PROFILE)
    facts.add("x", seed.route("notes_store", "t_a", "prod", "p1", backend="redis"))
    result = scope_result(facts, ("t_a", "prod", "p1"))
    unsupported = next(i for i in result.findings if i.finding.code == "backend_unsupported")
    assert (unsupported.status, unsupported.finding.severity) == ("fail", "warn")
    assert result.status == "fail"


def report_of(scopes: Any, **kwargs: Any) -> AuditReport:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return AuditReport(now, now, {"project": "p", "database": "(default)",
                                  "collection": "routing_registry", "profile": "engines",
                                  "emulator": True}, judge.kind_columns(PROFILE),
                       tuple(scopes), **kwargs)


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({}, "pass", 0),
    ({"error": ReadError("registry.audit", "deadline exceeded", None, True)}, "error", 3),
    ({"error": ReadError("firestore.access", "permission denied", "grant", False)}, "error", 1),
    ({"interrupted_by": 15}, "error", 143),
])
def test_exit_codes(kwargs: dict[str, Any], status: str, code: int) -> None:
    report = report_of((), **kwargs)
    assert (report.status, int(report.exit_code)) == (status, code)


def judged_all(facts: Facts, judging: judge.Judge) -> list[Any]:
    """Every scope the facts hold, in label order."""
    return [judging.scope(key, by_kind, near) for key, (by_kind, near) in
            sorted(facts.take().items(), key=lambda item: judge.scope_order(item[0]))]


def test_drift_between_two_judgements() -> None:
    before, after = Facts(PROFILE), Facts(PROFILE)
    healthy = {f"{k}-t_a-prod-p1": seed.route(k, "t_a", "prod", "p1", backend="firestore")
               for k in PROFILE.kinds_at("serving") if k != "object_store"}
    healthy["object_store-t_a-prod-p1"] = seed.route(
        "object_store", "t_a", "prod", "p1", backend="s3", config={"bucket": "b"})
    for doc_id, document in healthy.items():
        before.add(doc_id, document)
        changed = dict(document)
        if doc_id.startswith("notes_store"):
            changed["backend_type"] = "memory"
        if not doc_id.startswith("flow_store"):
            after.add(doc_id, changed)
    after.add("kpi-t_b-dev", seed.route("kpi", "t_b"))
    judging = judge.Judge(PROFILE, lambda env: REFUSED, ENVIRON)
    baseline = report_of(judged_all(before, judging)).to_dict()
    changes = drift.compare(baseline, judged_all(after, judging)).changes
    assert changes == (
        Change("new_failure", "t_a/prod/p1", before="pass", after="fail",
               codes=("backend_unsupported:notes_store", "route_missing:flow_store")),
        Change("backend_changed", "t_a/prod/p1", "notes_store",
               ("notes_store-t_a-prod-p1", "notes_store-t_a-prod-p1"), "firestore", "memory"),
        Change("route_deleted", "t_a/prod/p1", "flow_store", ("flow_store-t_a-prod-p1",)),
        Change("scope_added", "t_b/dev", after="warn"),
        Change("route_added", "t_b/dev", "kpi", ("kpi-t_b-dev",)))
