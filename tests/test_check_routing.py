"""routing.entries end to end: routes found exactly as the engines find them, by fields.

Seeded through the real Firestore client into the emulator; judged by the real CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests import harness, seed
from tests.conftest import Stack

pytestmark = pytest.mark.integration

SCOPE = "t_system/dev"


def assert_only_routing_fails(result: harness.Result) -> dict[str, Any]:
    assert result.returncode == 1, result.describe()
    assert result.statuses() == {"env.policy": "pass", "gcp.credentials": "skipped",
                                 "firestore.access": "pass", "aws.credentials": "pass",
                                 "s3.bucket": "pass", "routing.entries": "fail",
                                 **harness.FIRST_USE_DEFAULTS}
    check = result.check("routing.entries")
    assert check["remediation"], check
    assert result.termination_log is not None
    assert result.termination_log.splitlines()[1].startswith("✗ routing.entries"), \
        result.termination_log
    return check


# --------------------------------------------------------------------------- missing

def test_missing_kinds_fail(stack: Stack) -> None:
    docs = seed.registry()
    del docs["kpi-t_system-dev"], docs["seo-t_system-dev"]
    stack.seed(docs)
    result = stack.run("--format", "text")
    check = assert_only_routing_fails(result)
    assert result.scope(SCOPE) == {"missing": ["kpi", "seo"], "refused": {}, "invalid": {},
                                   "duplicates": {}, "routed": 15}
    assert "kpi" in check["message"]
    assert "seo" in check["message"]
    assert "hints" not in check["details"]  # nothing near the missing kinds
    assert "kpi" in result.stdout
    assert "fix:" in result.stdout


def test_empty_registry_misses_every_kind(stack: Stack) -> None:
    result = stack.run()
    assert_only_routing_fails(result)
    assert result.scope(SCOPE)["missing"] == list(harness.ENGINES_KINDS)
    assert result.scope(SCOPE)["routed"] == 0
    assert "empty" in result.check("firestore.access")["message"]


def test_required_kinds_option_is_honoured(stack: Stack) -> None:
    stack.seed()
    result = stack.run("--kinds", "kpi,brand_new_kind,seo")
    assert_only_routing_fails(result)
    assert result.scope(SCOPE)["missing"] == ["brand_new_kind"]
    assert result.scope(SCOPE)["routed"] == 2


def test_routes_are_found_by_fields_not_by_document_id(stack: Stack) -> None:
    docs = {uuid.uuid4().hex: fields for fields in seed.registry().values()}
    # A document with the engines' id convention for kpi that routes another tenant:
    # a lookup by id would wrongly accept it.
    docs["kpi-t_system-dev"] = seed.route("kpi", tenant="someone_else")
    stack.seed(docs)
    passing = stack.run()
    assert passing.returncode == 0, passing.describe()
    assert passing.scope(SCOPE)["routed"] == 17

    del docs[next(k for k, v in docs.items() if v["resource_kind"] == "kpi"
                  and v["tenant_id"] == "t_system")]
    stack.db.recursive_delete(stack.db.collection(stack.collection))
    stack.seed(docs)
    failing = stack.run()
    assert_only_routing_fails(failing)
    assert failing.scope(SCOPE)["missing"] == ["kpi"]


def test_kind_with_other_case_is_missing_with_a_hint(stack: Stack) -> None:
    docs = seed.registry()
    docs["kpi-t_system-dev"]["resource_kind"] = "KPI"
    stack.seed(docs)
    result = stack.run()
    check = assert_only_routing_fails(result)
    assert result.scope(SCOPE)["missing"] == ["kpi"]
    hints = check["details"].get("hints", [])
    assert any("kpi-t_system-dev" in hint and "'KPI'" in hint for hint in hints), hints


# --------------------------------------------------------------------------- refused

@pytest.mark.parametrize("backend", ["memory", "MeMoRy", " noop ", "LOCALHOST", "tmp",
                                     "local"])
def test_refused_backend_fails(stack: Stack, backend: str) -> None:
    docs = seed.registry()
    docs["kpi-t_system-dev"]["backend_type"] = backend
    stack.seed(docs)
    result = stack.run()
    check = assert_only_routing_fails(result)
    found = result.scope(SCOPE)
    # the contract does not say whether the refused value is shown as stored or normalised
    assert found["refused"] in ({"kpi": backend}, {"kpi": backend.strip().lower()}), found
    assert found["missing"] == []
    assert found["invalid"] == {}
    assert found["duplicates"] == {}
    assert found["routed"] == 16
    assert "kpi" in check["message"]
    assert backend.strip() in check["message"]


@pytest.mark.parametrize("backend", ["Firestore", " redis ", "memorystore", "s3"])
def test_durable_backends_in_any_case_pass(stack: Stack, backend: str) -> None:
    docs = seed.registry()
    docs["kpi-t_system-dev"]["backend_type"] = backend
    stack.seed(docs)
    result = stack.run()
    assert result.returncode == 0, result.describe()
    assert result.scope(SCOPE)["refused"] == {}


def test_disallow_option_adds_to_the_engines_refusals(stack: Stack) -> None:
    """--disallow cannot allow what the engines refuse: they would crash on it."""
    docs = seed.registry()
    docs["kpi-t_system-dev"]["backend_type"] = "memory"
    stack.seed(docs)
    result = stack.run("--disallow", "REDIS")
    check = assert_only_routing_fails(result)
    assert result.scope(SCOPE)["refused"] == {"kpi": "memory", "chat_bus": "redis"}
    assert [entry["code"] for entry in check["details"]["stricter_than_engines"]] == [
        "backend_refused_by_option"]
    assert "chat_bus" in check["details"]["stricter_than_engines"][0]["message"]


# --------------------------------------------------------------------------- documents

def test_document_without_project_id_field_is_not_found_and_hinted(stack: Stack) -> None:
    docs = seed.registry()
    del docs["kpi-t_system-dev"]["project_id"]
    stack.seed(docs)
    result = stack.run()
    check = assert_only_routing_fails(result)
    assert result.scope(SCOPE)["missing"] == ["kpi"]
    assert result.scope(SCOPE)["invalid"] == {}
    hints = check["details"]["hints"]
    assert len(hints) == 1, hints
    assert "kpi-t_system-dev" in hints[0]
    assert "project_id" in hints[0]


def test_document_with_null_project_id_is_found(stack: Stack) -> None:
    docs = seed.registry()
    assert docs["kpi-t_system-dev"]["project_id"] is None
    stack.seed(docs)
    result = stack.run()
    assert result.returncode == 0, result.describe()


INVALID = [
    pytest.param("id", None, "'id'", id="missing-id"),
    pytest.param("backend_type", None, "'backend_type'", id="missing-backend_type"),
    pytest.param("backend_type", 42, "'backend_type'", id="backend_type-integer"),
    pytest.param("required", "maybe", "'required'", id="required-string"),
    pytest.param("config", "host=redis", "'config'", id="config-string"),
    pytest.param("created_at", "yesterday", "'created_at'", id="created_at-string"),
    pytest.param("surface_id", 7, "'surface_id'", id="surface_id-integer"),
    pytest.param("tier", ..., "'tier'", id="tier-null"),
    pytest.param("self", "x", "'self'", id="self-field"),
]


@pytest.mark.parametrize(("field", "value", "named"), INVALID)
def test_invalid_document_is_named_by_its_document_id(stack: Stack, field: str, value: Any,
                                                      named: str) -> None:
    docs = seed.registry()
    route = docs.pop("kpi-t_system-dev")
    if value is None:
        del route[field]
    else:
        route[field] = None if value is ... else value
    doc_id = "kpi#t_system#dev"  # the other id convention in the wild
    docs[doc_id] = route
    stack.seed(docs)
    result = stack.run()
    check = assert_only_routing_fails(result)
    found = result.scope(SCOPE)
    assert list(found["invalid"]) == [doc_id], found
    assert named in found["invalid"][doc_id]
    assert found["missing"] == []
    assert found["routed"] == 16
    assert doc_id in check["message"]
    assert "the engines will not start" in check["message"]
    assert "stricter_than_engines" not in check["details"]


# --------------------------------------------------------------------------- duplicates

def test_duplicates_that_agree_warn_and_pass(stack: Stack) -> None:
    docs = seed.registry()
    twin = dict(docs["chat_bus-t_system-dev"])
    twin["updated_at"] = datetime(2026, 11, 20, tzinfo=UTC)  # metadata may differ
    twin["backend_type"] = " Redis "  # the same backend once normalised
    docs["chat_bus#t_system#dev"] = twin
    stack.seed(docs)
    result = stack.run()
    assert result.returncode == 0, result.describe()
    assert result.verdict
    assert result.verdict["status"] == "pass"
    check = result.check("routing.entries")
    assert check["status"] == "warn"
    assert result.scope(SCOPE) == {
        "missing": [], "refused": {}, "invalid": {}, "routed": 17,
        "duplicates": {"chat_bus": ["chat_bus#t_system#dev", "chat_bus-t_system-dev"]}}
    assert check["remediation"]
    assert "chat_bus" in check["message"]
    assert result.verdict["summary"]["warn"] == 1 + list(
        harness.FIRST_USE_DEFAULTS.values()).count("warn")


@pytest.mark.parametrize("difference", ["backend", "config"])
def test_duplicates_that_differ_fail(stack: Stack, difference: str) -> None:
    docs = seed.registry()
    twin = dict(docs["chat_bus-t_system-dev"])
    if difference == "backend":
        twin["backend_type"] = "firestore"
    else:
        twin["config"] = {"host": "redis-2.internal", "port": 6379}
    docs["chat_bus#t_system#dev"] = twin
    stack.seed(docs)
    result = stack.run()
    check = assert_only_routing_fails(result)
    found = result.scope(SCOPE)
    assert found["duplicates"] == {"chat_bus": ["chat_bus#t_system#dev",
                                                "chat_bus-t_system-dev"]}
    assert found["routed"] == 16
    assert found["missing"] == []
    assert found["refused"] == {}
    assert found["invalid"] == {}
    assert "duplicates disagree for chat_bus: the engines would take chat_bus#t_system#dev" \
        in check["message"]
    assert check["details"]["stricter_than_engines"] == [{
        "code": "duplicates_disagree", "message": "t_system/dev: duplicates disagree for "
        "chat_bus: the engines would take chat_bus#t_system#dev"}]


# --------------------------------------------------------------------------- scopes

def test_project_scoped_scope(stack: Stack) -> None:
    null_project = seed.registry()
    del null_project["kpi-t_system-dev"]  # the null-project scope lacks kpi
    stack.seed({**seed.registry(project="proj-a"), **null_project})

    scoped = stack.run("--scope", "t_system/dev/proj-a")
    assert scoped.returncode == 0, scoped.describe()
    assert scoped.verdict
    assert scoped.verdict["target"]["scopes"] == ["t_system/dev/proj-a"]
    assert scoped.scope("t_system/dev/proj-a")["routed"] == 17

    # proj-a's routes do not count for the scope without a project, and vice versa
    both = stack.run("--scope", "t_system/dev/proj-a", "--scope", "t_system/dev",
                     "--scope", "t_system/dev/proj-b")
    assert_only_routing_fails(both)
    assert both.scope("t_system/dev/proj-a")["missing"] == []
    assert both.scope("t_system/dev")["missing"] == ["kpi"]
    assert both.scope("t_system/dev/proj-b")["missing"] == list(harness.ENGINES_KINDS)


def test_scopes_sharing_an_env_cost_one_query(stack: Stack) -> None:
    stack.seed({**seed.registry("t_a"), **seed.registry("t_b"), **seed.registry("t_c")})
    result = stack.run("--scope", "t_a/dev", "--scope", "t_b/dev", "--scope", "t_c/dev")
    assert result.returncode == 0, result.describe()
    check = result.check("routing.entries")
    assert check["details"]["queries"] == 1
    for tenant in ("t_a", "t_b", "t_c"):
        assert result.scope(f"{tenant}/dev")["routed"] == 17


def counted_run(stack: Stack, *args: str) -> tuple[harness.Result, dict[str, int],
                                                 dict[str, int]]:
    """`preflight check ARGS` with its gRPC channel intercepted: RPCs and the documents
    RunQuery returned, counted as they arrive (bench.counted_cli)."""
    counts = stack.tmp_path / f"rpcs-{len(list(stack.tmp_path.glob('rpcs-*')))}.json"
    documents = counts.with_suffix(".documents.json")
    env = stack.env(BENCH_RPC_COUNT_FILE=str(counts), BENCH_DOCUMENT_COUNT_FILE=str(documents),
                    PYTHONPATH=str(harness.REPO),
                    PREFLIGHT_TERMINATION_LOG=str(stack.tmp_path / "termination-log"))
    argv = [sys.executable, "-m", "bench.counted_cli", "preflight", "check", "--format", "json",
            *args]
    done = subprocess.run(argv, env=env, cwd=harness.REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    result = harness.Result(argv, done.returncode, done.stdout, done.stderr, 0.0,
                            stack.tmp_path, None)
    harness.collect(result, None)
    result.verdict = result.stdout_verdict
    return result, json.loads(counts.read_text()), json.loads(documents.read_text())


def test_other_tenants_in_the_env_are_never_read(stack: Stack) -> None:
    """Firestore bills per document returned: a pod checking 2 tenants in an env that holds
    many pays for the 2 tenants' routes, not for everyone's."""
    asked = ("t_a", "t_b")
    others = [f"other_{n:02d}" for n in range(20)]
    documents: dict[str, dict[str, Any]] = {}
    for tenant in (*asked, *others):
        documents.update(seed.registry(tenant))
    documents.update(seed.registry("t_a", "prod"))
    stack.seed(documents)
    scopes = [arg for tenant in asked for arg in ("--scope", f"{tenant}/dev")]

    result, rpcs, returned = counted_run(stack, *scopes)
    assert result.returncode == 0, result.describe()
    routes_of_asked_scopes = 2 * 17
    sample = 1  # firestore.access reads one document id
    assert returned["RunQuery"] == routes_of_asked_scopes + sample, returned
    assert rpcs["RunQuery"] == 1 + sample, rpcs  # one query for both tenants

    # Calls do not grow with the kinds asked.
    few, few_rpcs, _ = counted_run(stack, *scopes, "--kinds", "kpi,seo")
    assert few.returncode == 0, few.describe()
    assert few_rpcs["RunQuery"] == rpcs["RunQuery"]

    # A failing scope: the near-miss lookup reads its own tenant's routes only.
    stack.doc("kpi-t_a-dev").delete()
    failing, failing_rpcs, failing_returned = counted_run(stack, *scopes)
    assert failing.returncode == 1, failing.describe()
    assert failing.scope("t_a/dev")["missing"] == ["kpi"]
    hint_reads = 16  # t_a's remaining dev routes (the prod ones are another env)
    assert failing_returned["RunQuery"] == routes_of_asked_scopes - 1 + sample + hint_reads
    assert failing_rpcs["RunQuery"] == 1 + sample + 1


def test_more_tenants_than_one_query_may_name_are_split(stack: Stack) -> None:
    from preflight.observe.registry import TENANTS_PER_QUERY

    tenants = [f"t_{n:02d}" for n in range(TENANTS_PER_QUERY + 1)]
    stack.seed({key: doc for tenant in tenants
                for key, doc in seed.registry(tenant, kinds=["kpi"]).items()})
    result, rpcs, returned = counted_run(stack, "--kinds", "kpi", *[
        arg for tenant in tenants for arg in ("--scope", f"{tenant}/dev")])
    assert result.returncode == 0, result.describe()
    assert result.check("routing.entries")["details"]["queries"] == 2  # a full query + 1
    assert rpcs["RunQuery"] == 2 + 1
    assert returned["RunQuery"] == len(tenants) + 1


def test_scopes_sharing_an_env_are_judged_per_tenant(stack: Stack) -> None:
    t_b = seed.registry("t_b")
    del t_b["kpi-t_b-dev"]
    t_b["seo-t_b-dev"]["backend_type"] = "noop"
    stack.seed({**seed.registry("t_a"), **t_b, **seed.registry("t_a", "prod")})
    result = stack.run("--scope", "t_a/dev", "--scope", "t_b/dev", "--scope", "t_a/prod")
    assert_only_routing_fails(result)
    assert result.scope("t_a/dev")["routed"] == 17
    assert result.scope("t_a/prod")["routed"] == 17
    assert result.scope("t_b/dev")["missing"] == ["kpi"]
    assert result.scope("t_b/dev")["refused"] == {"seo": "noop"}
    # one query for the dev scopes, one for prod, one hint lookup for the scope missing kpi
    assert result.check("routing.entries")["details"]["queries"] == 3


def test_30_scopes_of_17_kinds_pass_well_inside_the_default_deadline(stack: Stack) -> None:
    # The emulator scans its collection once per tenant of a `tenant_id in` query (real
    # Firestore serves each from an index): its cost grows with the scopes asked.
    tenants = [f"tenant-{index:03d}" for index in range(30)]
    documents: dict[str, dict[str, Any]] = {}
    for tenant in tenants:
        documents.update(seed.registry(tenant))
    stack.seed(documents)
    result = stack.run(env=stack.env(PREFLIGHT_SCOPES=",".join(f"{t}/dev" for t in tenants)),
                       timeout=70)
    assert result.returncode == 0, result.describe()
    check = result.check("routing.entries")
    assert len(check["details"]["scopes"]) == 30
    assert all(found["routed"] == 17 for found in check["details"]["scopes"].values())
    assert check["details"]["queries"] <= 30  # never per kind
    assert result.wall < 30, f"{result.wall:.1f}s of the default 60s deadline"


def test_termination_log_fits_with_300_failing_scopes_most_important_first(
        stack: Stack) -> None:
    scopes = [f"tenant-{index:03d}/dev" for index in range(300)]
    dead_s3 = f"http://127.0.0.1:{harness.closed_port()}"
    env = stack.env(PREFLIGHT_SCOPES=",".join(scopes), AWS_ENDPOINT_URL_S3=dead_s3,
                    NEXUS_BACKEND="bigquery")
    result = stack.run("--timeout", "4", "--attempt-timeout", "1", env=env, timeout=20)
    assert result.returncode == 1, result.describe()
    statuses = result.statuses()
    assert statuses["routing.entries"] == "fail"
    assert statuses["s3.bucket"] == "error"
    assert result.check("s3.bucket")["transient"] is True
    found = result.check("routing.entries")["details"]["scopes"]
    assert list(found) == scopes
    assert all(f["missing"] == list(harness.ENGINES_KINDS) for f in found.values())

    assert result.termination_log_bytes is not None
    assert 0 < len(result.termination_log_bytes) <= 4096
    lines = result.termination_log.splitlines() if result.termination_log else []
    assert lines[0].startswith("preflight FAIL (exit 1)")
    assert lines[1].startswith("✗ routing.entries"), lines[:3]
    order = [next(i for i, line in enumerate(lines) if line.lstrip("✗!–✓ ").startswith(name))
             for name in ("routing.entries", "s3.bucket", "gcp.credentials")]
    assert order == sorted(order), lines
    result.assert_ended_by(4)


def test_termination_log_names_the_failure_even_when_its_message_is_huge(
        stack: Stack) -> None:
    """Three failing scopes whose invalid documents have long ids make one long message."""
    documents: dict[str, dict[str, Any]] = {}
    tenants = ["alpha", "beta", "gamma", "delta"]
    for tenant in tenants:
        for kind in harness.ENGINES_KINDS:
            route = seed.route(kind, tenant=tenant)
            del route["id"]  # invalid: missing a required field
            documents[f"{kind}-{tenant}-dev-{'x' * 40}"] = route
    stack.seed(documents)
    result = stack.run(*[arg for tenant in tenants for arg in ("--scope", f"{tenant}/dev")])
    assert result.returncode == 1, result.describe()
    check = result.check("routing.entries")
    assert check["status"] == "fail"
    assert len(check["message"]) > 4096  # the premise: one line longer than the limit
    assert result.termination_log_bytes is not None
    assert result.termination_log is not None
    assert len(result.termination_log_bytes) <= 4096
    lines = result.termination_log.splitlines()
    assert lines[0].startswith("preflight FAIL (exit 1)")
    assert lines[1].startswith("✗ routing.entries"), result.termination_log
