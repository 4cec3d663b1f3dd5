"""The routing judgment, exhaustively and without a server: it is a pure function."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from preflight.checks.routing_entries import judge_scope, near_misses, validate_route
from preflight.config import Scope
from preflight.probes.firestore import RouteDoc
from preflight.registry import QueryPlan, plan_queries
from preflight.verdict import Status
from tests.harness import ENGINES_KINDS, ENGINES_REFUSED
from tests.seed import registry, route

REFUSED = frozenset(ENGINES_REFUSED)
KINDS = ENGINES_KINDS


def docs(documents: dict[str, dict[str, Any]]) -> list[RouteDoc]:
    return [RouteDoc(doc_id, data) for doc_id, data in documents.items()]


def test_complete_sample_registry_passes() -> None:
    found = judge_scope(KINDS, docs(registry()), REFUSED)
    assert found.status is Status.PASS
    assert found.routed == 17
    assert found.to_dict() == {"missing": [], "refused": {}, "invalid": {}, "duplicates": {},
                               "routed": 17}


def test_missing_kinds_are_listed_in_required_order() -> None:
    documents = registry()
    del documents["kpi-t_system-dev"], documents["timeline-t_system-dev"]
    found = judge_scope(KINDS, docs(documents), REFUSED)
    assert found.status is Status.FAIL
    assert found.missing == ["kpi", "timeline"]
    assert found.routed == 15


@pytest.mark.parametrize("backend", ["memory", "MeMoRy", " noop ", "local\t", "TMP", "localhost"])
def test_refused_backends_whatever_the_case_and_padding(backend: str) -> None:
    documents = registry()
    documents["seo-t_system-dev"]["backend_type"] = backend
    found = judge_scope(KINDS, docs(documents), REFUSED)
    assert found.status is Status.FAIL
    assert found.refused == {"seo": backend}
    assert found.routed == 16


def test_disallowed_list_is_configurable() -> None:
    found = judge_scope(KINDS, docs(registry()), frozenset({"filesystem"}))
    assert sorted(found.refused) == ["budget", "media_v2_storage", "raw_storage"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"id": None}, "field 'id' must be a string, not null"),
    ({"backend_type": 3}, "field 'backend_type' must be a string, not integer"),
    ({"backend_type": "  "}, "field 'backend_type' is empty"),
    ({"tenant_id": ["t_system"]}, "field 'tenant_id' must be a string, not array"),
    ({"project_id": 7}, "field 'project_id' must be a string or null, not integer"),
    ({"surface_id": {"a": 1}}, "field 'surface_id' must be a string or null, not map"),
    ({"config": "host=x"}, "field 'config' must be a map, not string"),
    ({"config": None}, "field 'config' must be a map, not null"),
    ({"required": "yes"}, "field 'required' must be a boolean, not string"),
    ({"required": 1}, "field 'required' must be a boolean, not integer"),
    ({"created_at": "2026-01-01"}, "field 'created_at' must be a timestamp, not string"),
    ({"updated_at": None}, "field 'updated_at' must be a timestamp, not null"),
    ({"last_switch_time": 1.5}, "field 'last_switch_time' must be a timestamp or null, not double"),
    ({"tier": True}, "field 'tier' must be a string or null, not boolean"),
])
def test_invalid_documents_name_the_field_and_type(change: dict[str, Any], reason: str) -> None:
    document = route("kpi")
    document.update(change)
    assert validate_route(document) == reason
    found = judge_scope(["kpi"], [RouteDoc("kpi-doc", document)], REFUSED)
    assert found.status is Status.FAIL
    assert found.invalid == {"kpi-doc": reason}
    assert found.routed == 0


@pytest.mark.parametrize("field", ["id", "resource_kind", "tenant_id", "env", "backend_type"])
def test_missing_required_field(field: str) -> None:
    document = route("kpi")
    del document[field]
    assert validate_route(document) == f"missing required field '{field}'"


def test_optional_fields_may_be_absent_or_null() -> None:
    minimal = {"id": "x", "resource_kind": "kpi", "tenant_id": "t", "env": "dev",
               "backend_type": "firestore"}
    assert validate_route(minimal) is None
    assert validate_route({**minimal, "project_id": None, "surface_id": None, "tier": None,
                           "last_switch_time": None,
                           "last_switch_time_extra": 3}) is None
    assert validate_route({**minimal, "last_switch_time": datetime.now(UTC)}) is None


def test_a_non_string_kind_is_not_a_match() -> None:
    document = route("kpi")
    document["resource_kind"] = 1
    found = judge_scope(["kpi"], [RouteDoc("d", document)], REFUSED)
    assert found.missing == ["kpi"]


def test_agreeing_duplicates_warn() -> None:
    one, two = route("kpi", backend="firestore"), route("kpi", backend=" Firestore")
    found = judge_scope(["kpi"], [RouteDoc("b", two), RouteDoc("a", one)], REFUSED)
    assert found.status is Status.WARN
    assert found.duplicates == {"kpi": ["a", "b"]}
    assert found.routed == 1


@pytest.mark.parametrize("other", [
    route("chat_bus", backend="firestore"),
    route("chat_bus", backend="redis", config={"host": "other", "port": 6379}),
])
def test_differing_duplicates_fail(other: dict[str, Any]) -> None:
    found = judge_scope(["chat_bus"], [RouteDoc("a", route("chat_bus")), RouteDoc("b", other)],
                        REFUSED)
    assert found.status is Status.FAIL
    assert found.conflicting == ["chat_bus"]
    assert found.duplicates == {"chat_bus": ["a", "b"]}
    assert found.routed == 0


def test_a_refused_duplicate_fails_even_if_the_first_is_fine() -> None:
    found = judge_scope(["kpi"], [RouteDoc("a", route("kpi")),
                                  RouteDoc("b", route("kpi", backend="memory"))], REFUSED)
    assert found.status is Status.FAIL
    assert found.refused == {"kpi": "memory"}


def test_plan_groups_scopes_by_env_and_project() -> None:
    scopes = [Scope("t1", "dev"), Scope("t2", "dev"), Scope("t3", "prod"),
              Scope("t1", "dev", "p")]
    plans = plan_queries(scopes)
    assert plans == [
        QueryPlan((("env", "dev"), ("project_id", None)), (scopes[0], scopes[1])),
        QueryPlan((("tenant_id", "t3"), ("env", "prod"), ("project_id", None)), (scopes[2],)),
        QueryPlan((("tenant_id", "t1"), ("env", "dev"), ("project_id", "p")), (scopes[3],)),
    ]


def test_plan_size_does_not_grow_with_tenants_sharing_an_env() -> None:
    assert len(plan_queries([Scope(f"t{i}", "dev") for i in range(1000)])) == 1


def test_a_shared_query_assigns_documents_by_tenant() -> None:
    scopes = (Scope("a", "dev"), Scope("b", "dev"))
    plan = QueryPlan((("env", "dev"), ("project_id", None)), scopes)
    assigned = plan.assign(docs({**registry("a"), **registry("b", kinds=["kpi"])}))
    assert len(assigned[scopes[0]]) == 17
    assert [d.doc_id for d in assigned[scopes[1]]] == ["kpi-b-dev"]


def test_near_miss_names_a_document_without_project_id() -> None:
    document = route("kpi")
    del document["project_id"]
    hints = near_misses(Scope("t_system", "dev"), ["kpi"], [RouteDoc("kpi-t_system-dev",
                                                                       document)])
    assert len(hints) == 1
    assert "'kpi-t_system-dev'" in hints[0]
    assert "project_id" in hints[0]


def test_near_miss_names_a_kind_with_other_case() -> None:
    hints = near_misses(Scope("t_system", "dev"), ["kpi"],
                        [RouteDoc("x", route("kpi", resource_kind="KPI "))])
    assert hints == ["document 'x' has resource_kind 'KPI '; the engines match 'kpi' exactly"]


def test_config_values_never_reach_findings() -> None:
    secret = "CANARY-config-value"
    one = route("chat_bus", config={"password": secret, "host": secret})
    two = route("chat_bus", config={"password": "other"})
    bad = route("kpi", config={"token": secret}, required="nope")
    found = judge_scope(["chat_bus", "kpi"], [RouteDoc("a", one), RouteDoc("b", two),
                                              RouteDoc("c", bad)], REFUSED)
    assert secret not in repr(found.to_dict()) + found.problems()
