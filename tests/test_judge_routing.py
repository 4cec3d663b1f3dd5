"""The routing judgment, exhaustively and without a server: it is a pure function."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from preflight.contract.route_model import RouteDoc
from preflight.core.result import Status
from preflight.core.scope import Scope
from preflight.judge.routes import judge_scope, near_misses, validate_route
from preflight.observe.registry import TENANTS_PER_QUERY, QueryPlan, plan_queries
from tests import harness
from tests.harness import ENGINES_KINDS, ENGINES_REFUSED
from tests.seed import registry, route

REFUSED = frozenset(ENGINES_REFUSED)
KINDS = ENGINES_KINDS
ROOT = Path(__file__).resolve().parent.parent


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


@pytest.mark.parametrize("backend", ["memory", "MeMoRy", "noop", "LOCAL", "TMP", "localhost",
                                     b"memory"])
def test_refused_backends_whatever_the_case(backend: str | bytes) -> None:
    """The engines' rule: backend_type.lower() in the refused set, after the model's coercion."""
    documents = registry()
    documents["seo-t_system-dev"]["backend_type"] = backend
    found = judge_scope(KINDS, docs(documents), REFUSED)
    assert found.status is Status.FAIL
    shown = backend.decode() if isinstance(backend, bytes) else backend
    assert found.refused == {"seo": shown}
    assert found.routed == 16
    assert not harness.engines_would_start(found)
    assert found.stricter() == []
    assert found.problems() == ("the engines will not start: refused backend "
                                f"seo={shown!r} (document 'seo-t_system-dev')")


@pytest.mark.parametrize(("backend", "code"), [
    (" noop ", "backend_trims_to_refused"), ("local\t", "backend_trims_to_refused"),
    ("\u3000Memory", "backend_trims_to_refused"), ("", "backend_empty"),
    ("   ", "backend_empty"), ("\n", "backend_empty"),
])
def test_backends_refused_only_once_trimmed_are_stricter(backend: str, code: str) -> None:
    """The engines start with these (no trimming; empty skipped), but no resolver takes them."""
    documents = registry()
    documents["seo-t_system-dev"]["backend_type"] = backend
    found = judge_scope(KINDS, docs(documents), REFUSED)
    assert found.status is Status.FAIL
    assert found.refused == {"seo": backend}
    assert harness.engines_would_start(found)
    (entry,) = found.stricter()
    assert entry["code"] == code
    assert entry["message"].startswith("the engines would start, but no resolver accepts ")
    assert entry["message"].endswith("of seo (document 'seo-t_system-dev') at first use")
    assert found.problems().startswith("stricter than the engines: the engines would start")


def test_disallowed_list_is_configurable() -> None:
    found = judge_scope(KINDS, docs(registry()), REFUSED | {"filesystem"})
    assert sorted(found.refused) == ["budget", "media_v2_storage", "raw_storage"]
    assert harness.engines_would_start(found)
    assert {entry["code"] for entry in found.stricter()} == {"backend_refused_by_option"}


def test_the_engines_refusals_hold_whatever_the_option_says() -> None:
    """--disallow cannot make preflight pass a route the engines crash on."""
    documents = registry()
    documents["kpi-t_system-dev"]["backend_type"] = "memory"
    found = judge_scope(KINDS, docs(documents), frozenset({"redis"}))
    assert found.refused == {"kpi": "memory", "chat_bus": "redis"}
    assert not harness.engines_would_start(found)


@pytest.mark.parametrize(("change", "reason"), [
    ({"id": None}, "field 'id' must be a string, got null"),
    ({"backend_type": 3}, "field 'backend_type' must be a string, got integer"),
    ({"tenant_id": ["t_system"]}, "field 'tenant_id' must be a string, got array"),
    ({"env": b"\xff"}, "field 'env' must be a string, got bytes that are not UTF-8"),
    ({"project_id": 7}, "field 'project_id' must be a string or null, got integer"),
    ({"surface_id": {"a": 1}}, "field 'surface_id' must be a string or null, got map"),
    ({"surface_id": 7}, "field 'surface_id' must be a string or null, got integer"),
    ({"config": "host=x"}, "field 'config' must be a map, got string"),
    ({"config": None}, "field 'config' must be a map, got null"),
    ({"required": "maybe"}, "field 'required' must be a boolean, got string that is not a "
                            "boolean word (true/false, yes/no, on/off, 1/0)"),
    ({"required": 2}, "field 'required' must be a boolean, got integer other than 0 or 1"),
    ({"required": None}, "field 'required' must be a boolean, got null"),
    ({"created_at": "yesterday"}, "field 'created_at' must be a timestamp, got string that is "
                                  "not an ISO 8601 date-time or a Unix time"),
    ({"updated_at": None}, "field 'updated_at' must be a timestamp, got null"),
    ({"last_switch_time": True}, "field 'last_switch_time' must be a timestamp or null, "
                                 "got boolean"),
    ({"tier": True}, "field 'tier' must be a string, got boolean"),
    ({"tier": None}, "field 'tier' must be a string, got null"),
    ({"health_status": None}, "field 'health_status' must be a string, got null"),
    ({"self": "x"}, "field 'self' is not allowed: the engines' route model cannot be built "
                    "with it"),
])
def test_invalid_documents_name_the_field_and_type(change: dict[str, Any], reason: str) -> None:
    document = route("kpi", config={"token": "CANARY-config"})
    document.update(change)
    assert validate_route(document) == reason
    found = judge_scope(["kpi"], [RouteDoc("kpi-doc", document)], REFUSED)
    assert found.status is Status.FAIL
    assert found.invalid == {"kpi-doc": reason}
    assert found.routed == 0
    assert not harness.engines_would_start(found)
    assert found.stricter() == []
    assert found.problems().startswith("the engines will not start: invalid kpi-doc: ")


@pytest.mark.parametrize("field", ["id", "resource_kind", "tenant_id", "env", "backend_type"])
def test_missing_required_field(field: str) -> None:
    document = route("kpi")
    del document[field]
    assert validate_route(document) == f"missing required field '{field}'"


@pytest.mark.parametrize("change", [
    {"required": "yes"}, {"required": 1}, {"required": 0}, {"required": "off"},
    {"id": b"kpi"}, {"backend_type": b"firestore"}, {"cost_notes": b"cheap"},
    {"created_at": "2026-01-01"}, {"created_at": "2026-01-01 10:00:00"},
    {"updated_at": "2026-01-01T10:00:00.123456Z"}, {"updated_at": "2026-01-01T10:00:00+02:00"},
    {"created_at": 1_700_000_000}, {"created_at": 1_700_000_000_000.5},
    {"last_switch_time": "1700000000"}, {"last_switch_time": None},
    {"config": {b"bytes-key": 1}}, {"unknown_extra": object()}, {"surface_id": "SQUARED²"},
    {"surface_id": ""}, {"surface_id": None},
])
def test_lax_documents_the_engines_accept_pass(change: dict[str, Any]) -> None:
    """pydantic's lax mode, as in the engines: these routes start (ENGINES.md section 2)."""
    document = route("kpi")
    document.update(change)
    assert validate_route(document) is None
    found = judge_scope(["kpi"], [RouteDoc("kpi-doc", document)], REFUSED)
    assert found.status is Status.PASS
    assert found.routed == 1


def test_optional_fields_may_be_absent_or_null() -> None:
    minimal = {"id": "x", "resource_kind": "kpi", "tenant_id": "t", "env": "dev",
               "backend_type": "firestore"}
    assert validate_route(minimal) is None
    assert validate_route({**minimal, "project_id": None, "surface_id": None, "cost_notes": None,
                           "last_switch_time": None, "last_switch_time_extra": 3}) is None
    assert validate_route({**minimal, "last_switch_time": datetime.now(UTC)}) is None


def test_the_fast_path_imports_no_pydantic() -> None:
    """The documents the engines write are judged without importing pydantic (start-up time)."""
    program = (
        "import sys\n"
        "from preflight.judge.routes import judge_scope\n"
        "from preflight.contract.route_model import RouteDoc\n"
        "from tests.harness import ENGINES_KINDS\n"
        "from tests.seed import registry\n"
        "docs = [RouteDoc(k, v) for k, v in registry().items()]\n"
        "found = judge_scope(ENGINES_KINDS, docs, frozenset())\n"
        "assert found.routed == 17, found\n"
        "print('pydantic' in sys.modules)\n"
        "from preflight.contract.route_model import parse\n"
        "parse({**registry()['kpi-t_system-dev'], 'required': 'yes'})\n"
        "print('pydantic' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


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
    assert found.stricter() == []


@pytest.mark.parametrize("other", [
    route("chat_bus", backend="firestore"),
    route("chat_bus", backend="redis", config={"host": "other", "port": 6379}),
    route("chat_bus", tier=None),
    route("chat_bus", backend="memory"),
])
def test_disagreeing_duplicates_are_stricter_when_the_first_is_fine(
        other: dict[str, Any]) -> None:
    found = judge_scope(["chat_bus"], [RouteDoc("b", other), RouteDoc("a", route("chat_bus"))],
                        REFUSED)
    assert found.status is Status.FAIL
    assert found.conflicting == ["chat_bus"]
    assert found.duplicates == {"chat_bus": ["a", "b"]}
    assert found.refused == {}  # the engines take "a"
    assert found.routed == 0
    assert harness.engines_would_start(found)
    assert found.stricter() == [{"code": "duplicates_disagree", "message": "duplicates disagree "
                                 "for chat_bus: the engines would take a"}]


@pytest.mark.parametrize(("first", "refused", "invalid"), [
    (route("kpi", tier=None), {}, {"kpi#t_system#dev": "field 'tier' must be a string, got null"}),
    (route("kpi", backend="Memory"), {"kpi": "Memory"}, {}),
])
def test_the_first_document_in_id_order_is_the_one_the_engines_use(
        first: dict[str, Any], refused: dict[str, str], invalid: dict[str, str]) -> None:
    """'#' sorts before '-': the engines' limit(1) returns kpi#t_system#dev, and crash."""
    found = judge_scope(["kpi"], [RouteDoc("kpi-t_system-dev", route("kpi")),
                                  RouteDoc("kpi#t_system#dev", first)], REFUSED)
    assert found.status is Status.FAIL
    assert found.refused == refused
    assert found.invalid == invalid
    assert not harness.engines_would_start(found)
    assert found.problems().startswith("the engines will not start: ")
    # the disagreement is named too: deleting the bad document alone would still leave two
    assert [entry["code"] for entry in found.stricter()] == ["duplicates_disagree"]


def test_an_invalid_later_duplicate_is_named_and_stricter() -> None:
    found = judge_scope(["kpi"], [RouteDoc("a", route("kpi")),
                                  RouteDoc("b", route("kpi", required="maybe"))], REFUSED)
    assert list(found.invalid) == ["b"]
    assert harness.engines_would_start(found)
    assert [entry["code"] for entry in found.stricter()] == ["duplicates_disagree"]


def test_findings_outside_the_startup_check_are_stricter() -> None:
    """Another scope, or a kind outside the 17: the engines do not look at start-up."""
    documents = registry(kinds=["kpi"])
    documents["kpi-t_system-dev"]["backend_type"] = "memory"
    other_scope = judge_scope(["kpi", "seo"], docs(documents), REFUSED, startup_kinds=())
    assert harness.engines_would_start(other_scope)
    assert other_scope.stricter() == [{
        "code": "not_checked_at_startup", "message": "the engines do not check kpi, seo here "
        "at start-up; --scope and --kinds require it"}]
    new_kind = judge_scope(["kpi", "brand_new"], docs(registry(kinds=["kpi"])), REFUSED)
    assert new_kind.missing == ["brand_new"]
    assert harness.engines_would_start(new_kind)
    assert [entry["code"] for entry in new_kind.stricter()] == ["not_checked_at_startup"]


def test_plan_groups_scopes_by_env_and_project() -> None:
    scopes = [Scope("t1", "dev"), Scope("t2", "dev"), Scope("t3", "prod"),
              Scope("t1", "dev", "p")]
    plans = plan_queries(scopes)
    assert plans == [
        QueryPlan((("tenant_id", "in", ("t1", "t2")), ("env", "==", "dev"),
                   ("project_id", "==", None)), (scopes[0], scopes[1])),
        QueryPlan((("tenant_id", "==", "t3"), ("env", "==", "prod"),
                   ("project_id", "==", None)), (scopes[2],)),
        QueryPlan((("tenant_id", "==", "t1"), ("env", "==", "dev"),
                   ("project_id", "==", "p")), (scopes[3],)),
    ]


def test_plan_names_a_bounded_number_of_tenants_per_query() -> None:
    """Firestore allows 30 disjunctions per query; calls grow with tenants, never kinds."""
    assert 1 < TENANTS_PER_QUERY <= 30
    plans = plan_queries([Scope(f"t{i}", "dev") for i in range(1000)])
    full, rest = divmod(1000, TENANTS_PER_QUERY)
    assert [len(plan.scopes) for plan in plans] == [TENANTS_PER_QUERY] * full + (
        [rest] if rest else [])
    for plan in plans:
        (field, operator, tenants), *_ = plan.filters
        assert (field, operator) == ("tenant_id", "in")
        assert list(tenants) == [scope.tenant for scope in plan.scopes]


def test_a_shared_query_assigns_documents_by_tenant() -> None:
    scopes = (Scope("a", "dev"), Scope("b", "dev"))
    plan = QueryPlan((("tenant_id", "in", ("a", "b")), ("env", "==", "dev"),
                      ("project_id", "==", None)), scopes)
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
