"""`preflight audit` end to end: registries seeded through the real Firestore client on the
emulator, audited by the real command, every JSON report checked against its schema.
"""

from __future__ import annotations

import json
import re
import signal
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests import audit_fleet, harness, seed
from tests.audit_fleet import (
    BROKEN,
    SECRET,
    SERVING_KINDS,
    UNPLACED,
    WARNED,
    Registry,
    run_audit,
)
from tests.conftest import Stack

pytestmark = pytest.mark.integration

JUNIT_XSD = Path(__file__).resolve().parent / "data" / "junit.xsd"


def findings_by_scope(report: dict[str, Any]) -> dict[str, list[tuple[str, str, str | None]]]:
    found: dict[str, list[tuple[str, str, str | None]]] = {}
    for scope in report["scopes"]:
        if scope["findings"]:
            found[scope["scope"]] = sorted(
                (f["status"], f["code"], f.get("kind")) for f in scope["findings"])
    return found


def junit_cases(path: Path) -> dict[str, str]:
    """testcase name -> fail, warn or pass, after validating against the JUnit XSD."""
    import xmlschema

    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(path))
    from xml.etree import ElementTree as ET

    cases = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        status = ("fail" if case.find("failure") is not None else "error"
                  if case.find("error") is not None else "warn"
                  if case.find("system-out") is not None else "pass")
        cases[case.get("name", "")] = status
    return cases


def audit_env(stack: Stack, **extra: str) -> dict[str, str]:
    return audit_fleet.env(stack.firestore.address, stack.project, stack.home, **extra)


def test_a_healthy_fleet_passes_with_nothing_to_report(stack: Stack) -> None:
    documents = audit_fleet.fleet(20)
    stack.seed(documents)
    result = run_audit(audit_env(stack), stack.tmp_path)
    assert result.returncode == 0, result.describe()
    report = result.report
    assert report is not None
    assert (report["status"], report["exit_code"]) == ("pass", 0)
    assert report["registry"]["documents"] == len(documents)
    assert report["registry"]["tenants"] == 21
    assert report["summary"] == {"scopes": {"fail": 0, "warn": 0, "pass": 21}, "findings": {},
                                 "registry_findings": 0}
    roles = {scope["scope"]: scope["role"] for scope in report["scopes"]}
    assert roles == {"t_system/dev": "startup",
                     **{f"t_{n:03d}/prod/p_main": "serving" for n in range(20)}}
    served = result.scope("t_007/prod/p_main")
    assert sorted(served["routes"]) == sorted(SERVING_KINDS)
    assert served["routes"]["object_store"] == {
        "status": "pass", "looked_up": "serving", "backend_type": "s3",
        "documents": ["object_store-t_007-prod-p_main"]}
    startup = result.scope("t_system/dev")
    assert len(startup["routes"]) == 18  # 17 start-up kinds and event_stream
    assert result.stdout.startswith("preflight audit PASS (exit 0) in ")
    assert "21 scopes of 21 tenants (21 pass); " in result.stdout.splitlines()[0]
    assert sorted(result.report_dir.iterdir()) == sorted(
        result.report_dir / name for name in ("audit.html", "audit.json", "audit.junit.xml",
                                              "audit.txt"))
    cases = junit_cases(result.report_dir / "audit.junit.xml")
    assert cases == {scope: "pass" for scope in roles}


def test_every_seeded_defect_is_found_in_a_300_tenant_fleet_and_nothing_else(
        broken_registry: Registry, tmp_path: Path) -> None:
    result = run_audit(broken_registry.env(RAW_BUCKET="engines-raw"), tmp_path)
    assert result.returncode == 1, result.describe()
    report = result.report
    assert report is not None
    assert report["registry"]["documents"] == len(broken_registry.documents)
    statuses = {scope["scope"]: scope["status"] for scope in report["scopes"]}
    assert {s for s, status in statuses.items() if status == "fail"} == set(BROKEN)
    assert {s for s, status in statuses.items() if status == "warn"} == set(WARNED)
    assert report["summary"]["scopes"] == {"fail": 5, "warn": 7, "pass": 294}
    # WARNED's kinds are str or None: mypy infers its values as `object`.
    seeded: dict[str, Sequence[tuple[str, str, str | None]]] = {
        **BROKEN, **WARNED}
    expected = {scope: sorted(found, key=lambda f: (f[0], f[1], f[2] or ""))
                for scope, found in seeded.items()}
    actual = {scope: sorted(found, key=lambda f: (f[0], f[1], f[2] or ""))
              for scope, found in findings_by_scope(report).items()}
    assert actual == expected
    assert [f["document"] for f in report["registry_findings"]] == UNPLACED
    assert result.stdout.startswith("preflight audit FAIL (exit 1) in ")
    assert "306 scopes of 301 tenants (5 fail, 7 warn, 294 pass); " in result.stdout


def finding(result: audit_fleet.Audit, scope: str, code: str, kind: str) -> dict[str, Any]:
    found: dict[str, Any]
    (found,) = [f for f in result.scope(scope)["findings"]
                if f["code"] == code and f.get("kind") == kind]
    return found


def test_the_findings_say_what_the_engines_do_and_how_to_fix_it(
        broken_registry: Registry, tmp_path: Path) -> None:
    result = run_audit(broken_registry.env(RAW_BUCKET="engines-raw"), tmp_path)
    missing = finding(result, "t_system/dev", "route_missing", "kpi")
    assert (missing["effect"], missing["outcome"]) == ("startup", "fail")
    refused = finding(result, "t_system/dev", "backend_refused", "chat_bus")
    assert refused["document"] == "chat_bus-t_system-dev"
    assert refused["message"] == "refused backend chat_bus='memory' (document " \
        "'chat_bus-t_system-dev')"
    duplicates = finding(result, "t_system/dev", "duplicates_disagree", "maybes")
    assert duplicates["documents"] == ["maybes#t_system#dev", "maybes-t_system-dev"]
    assert duplicates["conventions"] == ["{kind}#{tenant}#{env}", "{kind}-{tenant}-{env}"]
    assert "the engines would take maybes#t_system#dev" in duplicates["message"]
    near = finding(result, "t_system/dev", "near_miss", "feature_flags")
    assert "has no project_id field" in near["message"]
    assert "add project_id: null" in near["message"]
    variant = finding(result, "t_system/dev", "near_miss", "KPI ")
    assert "the engines match 'kpi' exactly" in variant["message"]
    cosmos = finding(result, "t_007/prod/p_main", "config_key_missing", "chat_store")
    assert cosmos["message"] == "cosmos needs config key `endpoint`"
    assert (cosmos["effect"], cosmos["outcome"], cosmos["status"]) == ("first_use", "warn",
                                                                       "fail")
    spaced = finding(result, "t_123/staging/p_web", "backend_unsupported", "overlay_store")
    assert "has surrounding spaces" in spaced["message"]
    unread = result.scope("t_system/prod")
    assert unread["role"] == "unread"
    assert "start-up reads t_system/dev whatever ENV says" in unread["findings"][0]["message"]
    for code, scope, kind in (("document_invalid", "t_020/prod/p_main", "legacy_cache"),
                              ("route_invalid", "t_system/dev", "budget")):
        invalid = finding(result, scope, code, kind)  # docs/ENGINES.md §2: the listing fails
        assert "while it exists, the engines' `GET /routing/routes` fails for every caller" \
            in invalid["message"], invalid
    qa = result.scope("t_030/qa/p_main")["findings"][0]
    assert "the engines never run in env 'qa'" in qa["message"]
    text = result.stdout
    assert "fail t_007/prod/p_main (serving, 13 document(s))" in text
    assert "✗ route_missing: object_store at t_007/prod/p_main: no route" in text
    assert "fix: write the route (resource_kind, tenant_id, env, project_id" in text


def test_the_audit_judges_scopes_as_check_does(broken_registry: Registry,
                                                tmp_path: Path) -> None:
    """The same judges: what check finds at these scopes is what fails them in the audit."""
    scopes = ("t_007/prod/p_main", "t_042/prod/p_main", "t_123/staging/p_web",
              "t_299/prod/p_main")
    env = broken_registry.env(RAW_BUCKET="engines-raw")
    check = harness.run_preflight(
        [*(f"--serve-scope={s}" for s in scopes), "--only",
         "routing.entries,routing.serving,routing.backends"], env, 60, workdir=tmp_path)
    audit = run_audit(env, tmp_path)
    # Request-time routes (and event_stream at t_system/dev): findings one for one.
    by_check: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for name in ("routing.serving", "routing.backends"):
        for found in check.check(name)["details"]["findings"]:
            by_check[found["scope"]].add((found["code"], found["kind"]))
    request_time = {*SERVING_KINDS, "event_stream"}
    by_audit: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for label in (*scopes, "t_system/dev"):
        for found in audit.scope(label)["findings"]:
            if found["status"] == "fail" and found["kind"] in request_time:
                by_audit[label].add((found["code"], found["kind"]))
    assert by_audit == by_check
    # Start-up kinds: routing.entries' summary of the start-up scope.
    entries = check.check("routing.entries")["details"]
    startup = entries["scopes"]["t_system/dev"]
    failing = [f for f in audit.scope("t_system/dev")["findings"]
               if f["status"] == "fail" and f["kind"] not in request_time]
    assert sorted(f["kind"] for f in failing if f["code"] == "route_missing") == sorted(
        startup["missing"])
    assert sorted(f["kind"] for f in failing if f["code"] in (
        "backend_refused", "backend_trims_to_refused")) == sorted(startup["refused"])
    assert sorted(f["message"].split(":")[0].removeprefix("invalid ") for f in failing
                  if f["code"] == "route_invalid") == sorted(startup["invalid"])
    assert sorted(f["code"] for f in failing if f["effect"] == "contract") == sorted(
        s["code"] for s in entries["stricter_than_engines"])


def test_no_config_value_reaches_any_output(broken_registry: Registry, tmp_path: Path) -> None:
    for form in ("text", "json", "junit", "html"):
        result = run_audit(broken_registry.env(), tmp_path, "--format", form)
        assert result.returncode == 1, result.describe()
        everything = result.everything()
        assert SECRET not in everything
        assert "raw-t_0" not in everything  # bucket names in route configs
        assert "gcp-t_0" not in everything  # projects in route configs
        assert "`key`" not in everything  # the cosmos route has its key


def test_drift_lists_exactly_the_seeded_changes(stack: Stack) -> None:
    documents = audit_fleet.fleet(8)
    del documents["object_store-t_002-prod-p_main"]  # broken in the baseline
    documents.update(audit_fleet.serving_scope("t_006", "staging"))
    stack.seed(documents)
    env = audit_env(stack)
    baseline = run_audit(env, stack.tmp_path)
    assert baseline.returncode == 1, baseline.describe()
    assert baseline.report is not None
    baseline_file = stack.tmp_path / "baseline.json"
    baseline_file.write_text((baseline.report_dir / "audit.json").read_text())

    collection = stack.db.collection(stack.collection)
    # 1. t_001 breaks: a refused backend.
    collection.document("notes_store-t_001-prod-p_main").update({"backend_type": "memory"})
    # 2. t_002 is fixed: its object_store route is written.
    doc_id, route = audit_fleet.serving_route("object_store", "t_002")
    collection.document(doc_id).set(route)
    # 3. t_003 changes backend, healthily.
    collection.document("chat_store-t_003-prod-p_main").update(
        {"backend_type": "dynamodb", "config": {"table_name": "chat"}})
    # 4. t_004 gains an agreeing duplicate.
    twin = dict(documents["flow_store-t_004-prod-p_main"])
    collection.document("flow_store#t_004#prod#p_main").set(twin)
    # 5. t_005 loses a route.
    collection.document("overlay_store-t_005-prod-p_main").delete()
    # 6. t_006's staging scope goes; 7. a new tenant arrives.
    for kind in SERVING_KINDS:
        collection.document(f"{kind}-t_006-staging-p_main").delete()
    seed.write(stack.db, audit_fleet.serving_scope("t_100"))

    result = run_audit(env, stack.tmp_path, "--baseline", str(baseline_file))
    assert result.returncode == 1, result.describe()
    assert result.report is not None
    drift = result.report["drift"]
    assert drift["baseline"] == {"file": str(baseline_file),
                                 "started_at": baseline.report["started_at"], "status": "fail",
                                 "documents": len(documents), "scopes": 10}
    changes = [(c["change"], c["scope"], c["kind"], c["documents"], c["before"], c["after"],
                c["codes"]) for c in drift["changes"]]
    p = "prod/p_main"
    assert changes == [
        ("new_failure", f"t_001/{p}", None, [], "pass", "fail",
         ["backend_unsupported:notes_store"]),
        ("backend_changed", f"t_001/{p}", "notes_store", ["notes_store-t_001-prod-p_main"] * 2,
         "firestore", "memory", []),
        ("fixed", f"t_002/{p}", None, [], "fail", "pass", []),
        ("route_added", f"t_002/{p}", "object_store", ["object_store-t_002-prod-p_main"],
         None, None, []),
        ("backend_changed", f"t_003/{p}", "chat_store", ["chat_store-t_003-prod-p_main"] * 2,
         "firestore", "dynamodb", []),
        ("route_added", f"t_004/{p}", "flow_store", ["flow_store#t_004#prod#p_main"],
         None, None, []),
        ("new_failure", f"t_005/{p}", None, [], "pass", "fail", ["route_missing:overlay_store"]),
        ("route_deleted", f"t_005/{p}", "overlay_store", ["overlay_store-t_005-prod-p_main"],
         None, None, []),
        ("scope_removed", "t_006/staging/p_main", None, [], "pass", None, []),
        *(("route_deleted", "t_006/staging/p_main", kind, [f"{kind}-t_006-staging-p_main"],
           None, None, []) for kind in sorted(SERVING_KINDS)),
        ("scope_added", f"t_100/{p}", None, [], None, "pass", []),
        *(("route_added", f"t_100/{p}", kind, [f"{kind}-t_100-prod-p_main"], None, None, [])
          for kind in sorted(SERVING_KINDS)),
    ]
    assert drift["summary"] == {"new_failure": 2, "backend_changed": 2, "fixed": 1,
                                "route_added": 16, "route_deleted": 15, "scope_removed": 1,
                                "scope_added": 1}
    # Every output shows it.
    assert "drift since " in result.stdout
    assert "  new failure t_001/prod/p_main: backend_unsupported:notes_store" in result.stdout
    assert "  backend changed t_003/prod/p_main chat_store: firestore -> dynamodb" in \
        result.stdout
    assert "fixed t_002/prod/p_main (fail -> pass)" in result.stdout
    junit = (result.report_dir / "audit.junit.xml").read_text()
    assert "new failure t_005/prod/p_main: route_missing:overlay_store" in junit
    assert '"change":"fixed","scope":"t_002/prod/p_main"' in (
        result.report_dir / "audit.html").read_text()


def test_a_first_run_without_its_baseline_yet_is_no_drift(stack: Stack) -> None:
    stack.seed(audit_fleet.fleet(2))
    missing = stack.tmp_path / "audit.json"  # its folder exists: a first scheduled run
    result = run_audit(audit_env(stack), stack.tmp_path, "--baseline", str(missing))
    assert result.returncode == 0, result.describe()
    assert result.report is not None
    assert result.report["drift"] == {
        "baseline": None, "summary": {}, "changes": [],
        "note": f"no baseline yet: {missing} does not exist (no drift is shown)"}
    assert f"drift: no baseline yet: {missing} does not exist" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--format", "tap"), "--format: expected one of text, json, junit, html (got 'tap')"),
    (("--report-dir", "/nonexistent/reports"),
     "--report-dir: expected an existing folder (got '/nonexistent/reports')"),
    (("--baseline", "/nonexistent/folder/audit.json"),
     "--baseline: expected a file in an existing folder (/nonexistent/folder does not exist)"),
    (("--timeout", "0"), "--timeout: expected a number of seconds > 0"),
])
def test_usage_errors_are_one_line_and_exit_2(stack: Stack, args: tuple[str, ...],
                                              message: str) -> None:
    result = run_audit(audit_env(stack), stack.tmp_path, *args)
    assert result.returncode == 2, result.describe()
    assert result.stderr.startswith(f"preflight: error: {message}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    assert not any(result.report_dir.iterdir())


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"),
    ('{"schema": "preflight.verdict/v1"}', "not a preflight.audit/v1 report"),
    ('{"schema": "preflight.audit/v1", "status": "pass"}', "not a valid preflight.audit/v1 "
     "report: at the top level: 'exit_code' is a required property"),
])
def test_an_unusable_baseline_is_a_usage_error(stack: Stack, content: str,
                                               message: str) -> None:
    baseline = stack.tmp_path / "baseline.json"
    baseline.write_text(content)
    result = run_audit(audit_env(stack), stack.tmp_path, "--baseline", str(baseline))
    assert result.returncode == 2, result.describe()
    assert f"--baseline: expected an earlier audit's JSON report: {message}" in result.stderr


def test_an_unreachable_registry_is_exit_3_and_every_report_says_so(stack: Stack) -> None:
    env = audit_fleet.env(f"127.0.0.1:{harness.closed_port()}", stack.project, stack.home)
    result = run_audit(env, stack.tmp_path, "--timeout", "4", "--attempt-timeout", "1",
                       timeout=60)
    assert result.returncode == 3, result.describe()
    report = result.report
    assert report is not None
    assert (report["status"], report["exit_code"], report["scopes"]) == ("error", 3, [])
    assert report["error"]["check"] == "firestore.access"
    assert report["error"]["transient"] is True
    assert result.stdout.startswith("preflight audit ERROR (exit 3) after ")
    assert "could not read the registry (firestore.access: deadline exceeded" in result.stdout
    cases = junit_cases(result.report_dir / "audit.junit.xml")
    assert cases == {"registry": "error"}


def test_a_read_cut_mid_stream_resumes_after_the_last_document(stack: Stack) -> None:
    """The emulator stops answering after the first page: the read times out, is retried,
    and goes on after the last document it handed over, reading none twice."""
    documents = audit_fleet.fleet(400)  # 5,618 documents: six pages
    stack.seed(documents)
    clean = run_audit(audit_env(stack), stack.tmp_path)
    assert clean.report is not None
    report_dir = stack.tmp_path / "cut"
    report_dir.mkdir()
    running = harness.Running(
        harness.preflight_argv("audit", "--log-level", "debug", "--attempt-timeout", "2",
                               "--report-dir", str(report_dir)),
        audit_env(stack), stack.tmp_path, None, None)
    stack.started.append(running)
    running.wait_for_log(lambda e: e.get("message") == "registry page read", 120,
                         "the first page")
    stack.firestore.pause()
    try:
        running.wait_for_log(lambda e: e.get("message") == "check attempt failed"
                             and e.get("check") == "registry.audit", 60,
                             "a failed attempt of registry.audit")
    finally:
        stack.firestore.resume()
    resumed = running.wait_for_log(
        lambda e: e.get("message") == "resuming the registry read after the last document "
        "read", 60, "the resumed read")
    result = running.finish(180)
    assert result.returncode == 0, result.describe()
    report = audit_fleet.check_report(json.loads((report_dir / "audit.json").read_text()))
    assert report["registry"]["documents"] == len(documents)  # each one once
    assert report["registry"]["resumed"] >= 1
    assert 0 < resumed["documents"] < len(documents)
    assert re.fullmatch(r"[a-z_]+-t_\d{3}-prod-p_main|[a-z_]+-t_system-dev", resumed["after"])
    assert report["scopes"] == clean.report["scopes"]


def test_sigterm_mid_read_exits_143_with_a_report(stack: Stack) -> None:
    stack.seed(audit_fleet.fleet(50))
    report_dir = stack.tmp_path / "stopped"
    report_dir.mkdir()
    running = harness.Running(harness.preflight_argv("audit", "--report-dir", str(report_dir)),
                              audit_env(stack), stack.tmp_path, None, None)
    stack.started.append(running)
    stack.firestore.pause()
    try:
        running.wait_for_log(lambda e: e.get("message") == "audit started", 60, "the start")
        running.send_signal(signal.SIGTERM)
        result = running.finish(30)
    finally:
        stack.firestore.resume()
    assert result.returncode == 143, result.describe()
    report = audit_fleet.check_report(json.loads((report_dir / "audit.json").read_text()))
    assert (report["status"], report["interrupted"], report["exit_code"]) == ("error", True, 143)


def test_the_command_is_read_only(stack: Stack) -> None:
    documents = audit_fleet.fleet(12)
    documents["chat_bus-t_system-dev"]["backend_type"] = "memory"
    stack.seed(documents)
    before = stack.snapshot()
    result = run_audit(audit_env(stack), stack.tmp_path)
    assert result.returncode == 1, result.describe()
    assert stack.snapshot() == before
