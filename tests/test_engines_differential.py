"""End to end, against the Firestore emulator: preflight's verdict vs what the engines do.

Each scenario seeds the engines' sample registry through the real Firestore client (Python
bytes become Firestore bytes, ints integers, strings strings), changes what matters (nulls,
lax coercions, extra fields, duplicates, whitespace, empty variables), and runs the real
`preflight check`. The oracle runs the engines' own start-up lookup on the same emulator
(`resource_kind`, `tenant_id`, `env` equal, `project_id == null`, `limit(1)`), builds each
document it returns with the oracle model (tests/engines_oracle.py), and applies their
environment rules. Then:

- the engines would crash → exit 1, "the engines will not start", and every kind the
  oracle fails on is named (missing, invalid with its document id, or refused);
- they would start → exit 0, or exit 1 with exactly the scenario's documented strictness
  codes in `details.stricter_than_engines`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests import engines_oracle, harness, seed
from tests.conftest import Stack

pytestmark = pytest.mark.integration

SCOPE = "t_system/dev"
KPI, KPI_HASH = "kpi-t_system-dev", "kpi#t_system#dev"  # '#' sorts first: the engines' pick


@dataclass(frozen=True)
class Scenario:
    changes: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # doc id -> fields
    env: dict[str, str | None] = field(default_factory=dict)
    codes: frozenset[str] = frozenset()  # the strictness codes preflight must name


def scenario(changes: dict[str, dict[str, Any] | None] | None = None,
             env: dict[str, str | None] | None = None, *codes: str) -> Scenario:
    return Scenario(changes or {}, env or {}, frozenset(codes))


PROJECT = "<project>"  # replaced by the test's project
SCENARIOS = {
    # nulls where the model allows none
    "tier null": scenario({KPI: {"tier": None}}),
    "health_status null": scenario({KPI: {"health_status": None}}),
    "optional strings null": scenario({KPI: {"cost_notes": None, "surface_id": None,
                                             "last_switch_time": None}}),
    # extra fields
    "extra field self": scenario({KPI: {"self": "me"}}),
    "unknown extra fields": scenario({KPI: {"owner": "team-a", "labels": {"a": 1}}}),
    # bytes in string fields
    "bytes in string fields": scenario({KPI: {"id": b"kpi", "backend_type": b"firestore",
                                              "cost_notes": b"cheap", "tier": b"pro"}}),
    "bytes not UTF-8": scenario({KPI: {"id": b"\xff\xfe"}}),
    "bytes refused backend": scenario({KPI: {"backend_type": b"memory"}}),
    # lax booleans
    "required yes": scenario({KPI: {"required": "yes"}}),
    "required 1 and 0": scenario({KPI: {"required": 1}, "seo-t_system-dev": {"required": 0}}),
    "required maybe": scenario({KPI: {"required": "maybe"}}),
    "required 2": scenario({KPI: {"required": 2}}),
    # timestamps as ISO strings and Unix numbers
    "ISO timestamps": scenario({
        KPI: {"created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01"},
        "seo-t_system-dev": {"created_at": "2026-01-01 10:00:00",
                             "updated_at": "2026-01-01T10:00:00.123456+02:00"}}),
    "Unix timestamps": scenario({
        KPI: {"created_at": 1_700_000_000, "updated_at": 1_700_000_000.5,
              "last_switch_time": "1700000000"}}),
    "unreadable timestamp": scenario({KPI: {"created_at": "yesterday"}}),
    # duplicates
    "invalid document first among duplicates": scenario(
        {KPI_HASH: {"health_status": None}}, None, "duplicates_disagree"),
    "invalid document after a valid first": scenario(
        {"kpi-x": {"tier": None}}, None, "duplicates_disagree"),
    "refused backend first among duplicates": scenario(
        {KPI_HASH: {"backend_type": "noop"}}, None, "duplicates_disagree"),
    "duplicates with another backend": scenario(
        {KPI_HASH: {"backend_type": "redis"}}, None, "duplicates_disagree"),
    "agreeing duplicates": scenario({KPI_HASH: {"backend_type": " Firestore"}}),
    # backend_type whitespace, case and emptiness
    "refused backend any case": scenario({KPI: {"backend_type": "MeMoRy"}}),
    "refused backend with whitespace": scenario({KPI: {"backend_type": " memory"}}, None,
                                                "backend_trims_to_refused"),
    "empty backend": scenario({KPI: {"backend_type": ""}}, None, "backend_empty"),
    "blank backend": scenario({KPI: {"backend_type": " \t"}}, None, "backend_empty"),
    "missing kind": scenario({KPI: None}),
    # empty and unset variables
    "NEXUS_BACKEND empty": scenario(None, {"NEXUS_BACKEND": ""}),
    "FEATURE_FLAGS_BACKEND empty": scenario(None, {"FEATURE_FLAGS_BACKEND": ""}),
    "GCP_PROJECT_ID empty, GCP_PROJECT set": scenario(
        None, {"GCP_PROJECT_ID": "", "GCP_PROJECT": PROJECT}),
    "GCP_PROJECT only": scenario(None, {"GCP_PROJECT_ID": None, "GCP_PROJECT": PROJECT}),
    "NEXUS_BACKEND noop": scenario(None, {"NEXUS_BACKEND": "noop"}, "nexus_backend_refused"),
    "FEATURE_FLAGS_BACKEND memory": scenario(None, {"FEATURE_FLAGS_BACKEND": "memory"},
                                             "feature_flags_memory"),
    "FEATURE_FLAGS_BACKEND bogus": scenario(None, {"FEATURE_FLAGS_BACKEND": "bogus"}),
    "ROUTING_REGISTRY_BACKEND unset": scenario(None, {"ROUTING_REGISTRY_BACKEND": None},
                                               "routing_registry_not_firestore"),
    "ROUTING_REGISTRY_BACKEND empty": scenario(None, {"ROUTING_REGISTRY_BACKEND": ""}),
    "RAW_BUCKET unset": scenario(None, {"RAW_BUCKET": None}, "raw_bucket_required"),
}


def engines_lookup(stack: Stack, kind: str) -> tuple[str | None, Any]:
    """The engines' get_route for t_system/dev on the emulator: (doc id, to_dict()) or None."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = stack.db.collection(stack.collection)
    for name, value in (("resource_kind", kind), ("tenant_id", "t_system"), ("env", "dev"),
                        ("project_id", None)):
        query = query.where(filter=FieldFilter(name, "==", value))
    for snapshot in query.limit(1).stream():
        return snapshot.id, snapshot.to_dict()
    return None, None


def engines_failures(stack: Stack) -> dict[str, tuple[str, str]]:
    """The kinds the engines' start-up validation fails on: kind -> (why, document id)."""
    failures = {}
    for kind in engines_oracle.STARTUP_KINDS:
        doc_id, data = engines_lookup(stack, kind)
        if doc_id is None:
            failures[kind] = ("missing", "")
            continue
        route = engines_oracle.build(data)
        if route is None:
            failures[kind] = ("invalid", doc_id)
        elif route.backend_type and route.backend_type.lower() in engines_oracle.REFUSED:
            failures[kind] = ("refused", doc_id)
    return failures


def seeded(changes: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any]]:
    documents = seed.registry()
    for doc_id, fields in changes.items():
        if fields is None:
            documents.pop(doc_id)
            continue
        kind = doc_id.replace("#", "-").split("-")[0]
        document = documents.setdefault(doc_id, dict(documents[f"{kind}-t_system-dev"]))
        document.update(fields)
    return documents


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_preflight_agrees_with_the_engines(stack: Stack, name: str) -> None:
    case = SCENARIOS[name]
    stack.seed(seeded(case.changes))
    env_changes = {k: stack.project if v == PROJECT else v for k, v in case.env.items()}
    env = stack.env(**env_changes)
    failures = engines_failures(stack)
    engines_start = not failures and engines_oracle.engines_env_start_up(env)
    result = stack.run(env=env)
    where = f"{name}: engines {'start' if engines_start else 'crash'} {failures}\n" \
            f"{result.describe()}"
    verdict = harness.check_verdict(result.verdict, where=name)
    codes = {entry["code"] for check in verdict["checks"]
             for entry in check["details"].get("stricter_than_engines", [])}

    if not engines_start:
        assert result.returncode == 1, where
        crashed = [c for c in verdict["checks"] if c["status"] == "fail"
                   and "the engines will not start" in c["message"]]
        assert crashed, where
        found = result.scope(SCOPE)
        for kind, (why, doc_id) in failures.items():
            if why == "missing":
                assert kind in found["missing"], where
            elif why == "invalid":
                assert doc_id in found["invalid"], where
            else:
                assert found["refused"].get(kind) is not None, where
                assert doc_id in result.check("routing.entries")["message"], where
        assert codes == case.codes, where  # stricter findings beside the crash, if any
    elif case.codes:
        assert result.returncode == 1, where
        assert codes == case.codes, where
        for check in verdict["checks"]:
            if check["status"] == "fail":
                assert check["details"].get("stricter_than_engines"), where
                assert "stricter than the engines" in check["message"], where
    else:
        assert result.returncode == 0, where
        assert codes == set(), where
        assert result.scope(SCOPE)["routed"] == 17, where
        assert verdict["target"]["project"] == stack.project, where  # the engines' project


def test_every_scenario_family_is_covered() -> None:
    """The issue's list: nulls, coercions, extra fields, duplicates, whitespace, empty vars."""
    assert sum(1 for s in SCENARIOS.values() if not s.changes) >= 8
    assert {code for s in SCENARIOS.values() for code in s.codes} >= {
        "duplicates_disagree", "backend_trims_to_refused", "backend_empty",
        "nexus_backend_refused", "feature_flags_memory", "routing_registry_not_firestore",
        "raw_bucket_required"}
