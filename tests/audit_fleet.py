"""Registries for `preflight audit`: a healthy fleet, the same fleet broken in every way
ENGINES.md describes, and running the real command against them.

Every JSON report a test sees goes through `check_report`: the published schema (Draft
2020-12) and the report's own invariants.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests import harness, seed, servers
from tests.verdict_schema import schema_validator

SCHEMA_PATH = (Path(__file__).resolve().parent.parent / "preflight" / "audit" / "schema"
               / "audit-v1.json")
SERVING_KINDS = seed.SERVING_KINDS
RANK = {"fail": 3, "warn": 2, "pass": 1}
# A config value that must never appear in any output.
SECRET = "Q0FOQVJZY29zbW9za2V5MGYzYQ=="  # a canary that decodes, as a Cosmos key must


def serving_route(kind: str, tenant: str, env: str = "prod", project: str = "p_main",
                  backend: str | None = None, config: dict[str, Any] | None = None,
                  doc_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """A healthy request-time route: s3 with its bucket, or firestore with its project."""
    if backend is None:
        backend = "s3" if kind == "object_store" else "firestore"
    if config is None:
        config = {"bucket": f"raw-{tenant}"} if backend == "s3" else {"project": f"gcp-{tenant}"}
    document = seed.route(kind, tenant, env, project, backend=backend, config=config)
    return doc_id or f"{kind}-{tenant}-{env}-{project}", document


def serving_scope(tenant: str, env: str = "prod", project: str = "p_main",
                  ) -> dict[str, dict[str, Any]]:
    return dict(serving_route(kind, tenant, env, project) for kind in SERVING_KINDS)


def startup_scope() -> dict[str, dict[str, Any]]:
    documents = seed.registry()
    documents["event_stream-t_system-dev"] = seed.route("event_stream", backend="firestore")
    return documents


def tenant(number: int) -> str:
    return f"t_{number:03d}"


def fleet(tenants: int = 300) -> dict[str, dict[str, Any]]:
    """The start-up scope and one healthy serving scope per tenant: nothing to report."""
    documents = startup_scope()
    for number in range(tenants):
        documents.update(serving_scope(tenant(number)))
    return documents


# The five broken scopes, and what the audit must find in each (status, code, kind).
Expected = dict[str, list[tuple[str, str, str | None]]]  # scope -> (status, code, kind)

BROKEN: Expected = {
    "t_system/dev": [
        ("fail", "route_missing", "kpi"), ("warn", "near_miss", "KPI "),
        ("fail", "backend_refused", "chat_bus"), ("fail", "route_invalid", "budget"),
        ("fail", "duplicates_disagree", "maybes"),
        ("fail", "backend_trims_to_refused", "timeline"),
        ("fail", "route_missing", "feature_flags"), ("warn", "near_miss", "feature_flags"),
        ("fail", "backend_unsupported", "event_stream")],
    "t_007/prod/p_main": [
        ("fail", "route_missing", "object_store"), ("fail", "backend_unsupported", "notes_store"),
        ("fail", "config_key_missing", "chat_store")],
    "t_042/prod/p_main": [
        ("fail", "route_invalid", "flow_store"), ("fail", "backend_mode_only", "graph_store"),
        ("fail", "config_key_missing", "object_store"),
        ("fail", "config_value_invalid", "chat_store")],
    "t_123/staging/p_web": [
        ("fail", "backend_unsupported", "overlay_store"),
        ("fail", "duplicates_disagree", "config_store"),
        ("fail", "backend_unsupported", "strategy_policy_store")],
    "t_299/prod/p_main": [
        ("fail", "route_missing", "canvas_command_store"),
        ("fail", "route_missing", "component_registry"),
        ("warn", "near_miss", "Component_Registry")],
}
# Scopes that only warn: nothing the engines look up is wrong there.
WARNED: Expected = {
    "t_010/prod/p_main": [("warn", "duplicates_agree", "seo_config_store")],
    "t_020/prod/p_main": [("warn", "orphan_kind", "legacy_cache"),
                          ("warn", "document_invalid", "legacy_cache")],
    "t_system/prod": [("warn", "scope_unread", None)],
    "t_030/qa/p_main": [("warn", "scope_unread", None)],
    "t_040/prod/p_main": [("warn", "route_unread", "kpi")],
    "t_050/prod": [("warn", "near_miss", "notes_store")],
    "t_299/prod": [("warn", "scope_unread", None)],
}
UNPLACED = ["tenant-as-number"]


def broken_fleet(tenants: int = 300) -> dict[str, dict[str, Any]]:
    """`fleet()` with every defect ENGINES.md describes, in five scopes, plus hygiene."""
    docs = fleet(tenants)
    # t_system/dev: start-up crashes, stricter rules and near misses.
    del docs["kpi-t_system-dev"]
    docs["KPI-t_system-dev"] = seed.route("KPI ")  # case and a space: never matched
    docs["chat_bus-t_system-dev"]["backend_type"] = "memory"
    docs["budget-t_system-dev"]["tier"] = None  # a present null: the model fails
    docs["maybes#t_system#dev"] = seed.route("maybes", backend="filesystem")  # sorts first
    docs["timeline-t_system-dev"]["backend_type"] = " noop"
    del docs["feature_flags-t_system-dev"]["project_id"]  # no lookup finds it
    docs["event_stream-t_system-dev"]["backend_type"] = "memory"
    # t_007/prod/p_main: a missing route, a backend its resolver refuses, config keys.
    del docs["object_store-t_007-prod-p_main"]
    docs["notes_store-t_007-prod-p_main"]["backend_type"] = "redis"
    docs["chat_store-t_007-prod-p_main"].update(
        backend_type="cosmos", config={"database": "chat", "key": SECRET})  # no endpoint
    # t_042/prod/p_main: an invalid route, a lab-only backend, a gcs route without project.
    docs["flow_store-t_042-prod-p_main"]["required"] = "perhaps"
    docs["graph_store-t_042-prod-p_main"].update(backend_type="filesystem", config={})
    docs["object_store-t_042-prod-p_main"].update(backend_type="gcs", config={"bucket": "b"})
    # ... and a DynamoDB region botocore refuses, beside an empty table name (event_spine)
    docs["chat_store-t_042-prod-p_main"].update(
        backend_type="dynamodb", config={"region": "eu west 1", "table_name": ""})
    # t_123/staging/p_web: a second scope of a healthy tenant.
    docs.update(serving_scope("t_123", "staging", "p_web"))
    docs["overlay_store-t_123-staging-p_web"]["backend_type"] = " firestore"
    docs["config_store#t_123#staging#p_web"] = serving_route(
        "config_store", "t_123", "staging", "p_web", backend="dynamodb",
        config={"table_name": "cfg"})[1]
    docs["strategy_policy_store-t_123-staging-p_web"]["backend_type"] = "memory"
    # t_299/prod/p_main: a route written without its project, a kind in the wrong case.
    del docs["canvas_command_store-t_299-prod-p_main"]
    docs["canvas_command_store-t_299-prod"] = seed.route(
        "canvas_command_store", "t_299", "prod", None, backend="firestore")
    component = docs.pop("component_registry-t_299-prod-p_main")
    docs["Component_Registry-t_299-prod-p_main"] = {**component,
                                                    "resource_kind": "Component_Registry"}
    # Hygiene: nothing the engines look up is wrong.
    docs["seo_config_store#t_010#prod#p_main"] = dict(docs["seo_config_store-t_010-prod-p_main"])
    docs["legacy_cache-t_020-prod-p_main"] = seed.route(
        "legacy_cache", "t_020", "prod", "p_main", backend="firestore", health_status=None)
    docs.update(seed.registry(env="prod"))  # the engines' dev seeding with ENV=prod
    docs.update(dict(serving_route(kind, "t_030", "qa") for kind in ("notes_store",
                                                                      "flow_store")))
    docs["kpi-t_040-prod-p_main"] = seed.route("kpi", "t_040", "prod", "p_main")
    docs["notes_store-t_050-prod"] = {k: v for k, v in seed.route(
        "notes_store", "t_050", "prod", backend="firestore").items() if k != "project_id"}
    docs["tenant-as-number"] = {**seed.route("kpi"), "tenant_id": 42}
    return docs


# --------------------------------------------------------------------------- running

def check_report(document: Any, where: str = "report") -> dict[str, Any]:
    """Schema-valid and self-consistent, or an AssertionError saying why."""
    errors = sorted(schema_validator(SCHEMA_PATH).iter_errors(document),
                    key=lambda e: list(e.absolute_path))
    assert not errors, f"{where} violates audit-v1.json:\n" + "\n".join(
        f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])
    scopes = document["scopes"]
    counts = {status: sum(1 for s in scopes if s["status"] == status)
              for status in ("fail", "warn", "pass")}
    assert document["summary"]["scopes"] == counts, where
    assert document["registry"]["scopes"] == len(scopes), where
    for scope in scopes:
        worst = max((f["status"] for f in scope["findings"]), key=RANK.__getitem__,
                    default="pass")
        assert scope["status"] == worst, f"{where}: {scope['scope']} {scope['status']}"
        assert scope["missing"] == [k for k, r in scope["routes"].items()
                                    if r["looked_up"] and not r["documents"]], where
    if document["error"] is None and not document["interrupted"]:
        expected = 1 if counts["fail"] else 0
        assert document["exit_code"] == expected, where
        assert document["status"] == ("fail" if counts["fail"] else "warn" if counts["warn"]
                                      else "pass"), where
    checked: dict[str, Any] = document
    return checked


def env(emulator: str, project: str, home: Path, **extra: str) -> dict[str, str]:
    return {**harness.minimal_env(home), "FIRESTORE_EMULATOR_HOST": emulator,
            "GCP_PROJECT_ID": project, **extra}


class Audit:
    """One finished `preflight audit` and everything it wrote."""

    def __init__(self, argv: list[str], done: Any, report_dir: Path) -> None:
        self.argv = argv
        self.returncode: int = done.returncode
        self.stdout: str = done.stdout
        self.stderr: str = done.stderr
        self.report_dir = report_dir
        path = report_dir / "audit.json"
        self.report = check_report(json.loads(path.read_text("utf-8")), str(path)) \
            if path.exists() else None

    def describe(self) -> str:
        return (f"argv: {self.argv}\nexit: {self.returncode}\n--- stdout ---\n"
                f"{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}")

    def scope(self, label: str) -> dict[str, Any]:
        assert self.report is not None, self.describe()
        found = [s for s in self.report["scopes"] if s["scope"] == label]
        assert len(found) == 1, f"{label}: {len(found)} scopes"
        scope: dict[str, Any] = found[0]
        return scope

    def everything(self) -> str:
        parts = [self.stdout, self.stderr]
        parts += [p.read_text("utf-8") for p in sorted(self.report_dir.iterdir()) if p.is_file()]
        return "\n".join(parts)


def run_audit(environ: Mapping[str, str], workdir: Path, *args: str,
              timeout: float = 240.0) -> Audit:
    """`preflight audit ARGS --report-dir DIR` to the end; every report it wrote is read."""
    report_dir = workdir / f"reports-{len(list(workdir.glob('reports-*'))):02d}"
    report_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "preflight", "audit", *args]
    if "--report-dir" not in args:
        argv += ["--report-dir", str(report_dir)]
    done = harness.run_command(argv, dict(environ), timeout=timeout, cwd=workdir)
    audit = Audit(argv, done, report_dir)
    if audit.stdout.lstrip().startswith("{"):
        check_report(json.loads(audit.stdout), "stdout")
    assert not [p.name for p in report_dir.iterdir() if p.name.startswith(".")], \
        "temporary report files left behind"
    return audit


def write(emulator: str, project: str, documents: Mapping[str, Mapping[str, Any]]) -> None:
    client = seed.firestore_client(emulator, project)
    try:
        seed.write(client, documents)
    finally:
        client.close()


# --------------------------------------------------------------------------- fixtures

class Registry:
    """A seeded project on the session's emulator, read-only for the tests that share it."""

    def __init__(self, emulator: str, project: str, documents: Mapping[str, Any],
                 home: Path) -> None:
        self.emulator = emulator
        self.project = project
        self.documents = documents
        self.home = home

    def env(self, **extra: str) -> dict[str, str]:
        return env(self.emulator, self.project, self.home, **extra)


@pytest.fixture(scope="session")
def broken_registry(firestore_server: servers.Server,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """`broken_fleet()` (300 tenants, 5 broken scopes), seeded once for the session."""
    project = f"audit-{uuid.uuid4().hex[:12]}"
    documents = broken_fleet()
    servers.clear_firestore(firestore_server.address, project)
    write(firestore_server.address, project, documents)
    try:
        yield Registry(firestore_server.address, project, documents,
                       tmp_path_factory.mktemp("audit-home"))
    finally:
        servers.clear_firestore(firestore_server.address, project)
