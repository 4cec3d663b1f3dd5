"""`preflight check` end to end, as a subprocess, against the Firestore emulator and moto S3.

The basics: a healthy stack passes, every output carries the same verdict, the engines'
environment rules, options and their variables, usage errors, and the CLI's front door.
Routing, resilience and secrets live in the other test_check_*.py files.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import harness, seed, servers
from tests.conftest import Stack

pytestmark = pytest.mark.integration

CHECK_LINE = re.compile(
    r"^\s+\S\s+(?P<name>[a-z0-9.]+)\s+(?P<status>pass|warn|fail|error|skipped)\s")


def text_check_lines(stdout: str) -> dict[str, list[str]]:
    """Check name -> the lines of a text summary that report it."""
    found: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        match = CHECK_LINE.match(line)
        if match:
            found.setdefault(match.group("name"), []).append(line)
    return found


def assert_passing_verdict(result: harness.Result, stack: Stack) -> dict[str, Any]:
    assert result.returncode == 0, result.describe()
    verdict = result.verdict
    assert verdict is not None
    assert verdict["status"] == "pass"
    assert verdict["exit_code"] == 0
    assert verdict["interrupted"] is False
    assert result.statuses() == {"env.policy": "pass", "gcp.credentials": "skipped",
                                 "firestore.access": "pass", "aws.credentials": "pass",
                                 "s3.bucket": "pass", "routing.entries": "pass",
                                 **harness.FIRST_USE_DEFAULTS}
    return verdict


# --------------------------------------------------------------------------- all good

def test_all_good_passes_with_json_stdout_that_is_exactly_the_verdict(stack: Stack) -> None:
    stack.seed()
    result = stack.run("--format", "json")
    verdict = assert_passing_verdict(result, stack)

    # stdout is the verdict document and nothing else (so `| jq` works).
    assert json.loads(result.stdout) == verdict
    assert result.stdout_verdict == verdict
    assert result.stdout.strip().startswith("{")
    assert result.stdout.strip().endswith("}")

    assert verdict["schema"] == "preflight.verdict/v1"
    assert verdict["preflight_version"] == "0.1.0"
    assert verdict["target"] == {
        "project": stack.project, "database": "(default)", "bucket": stack.bucket,
        "collection": "routing_registry", "scopes": ["t_system/dev"],
        "required_kinds": list(harness.ENGINES_KINDS), "serving_scopes": [],
        "profile": "engines", "emulator": True,
    }
    assert verdict["summary"] == {"pass": 5, "warn": 2, "fail": 0, "error": 0, "skipped": 3}
    assert 0 <= verdict["duration_ms"] <= result.wall * 1000 + 50

    credentials = result.check("gcp.credentials")
    assert "FIRESTORE_EMULATOR_HOST" in credentials["message"]
    assert result.check("s3.bucket")["details"]["http_status"] == 200
    assert result.check("s3.bucket")["details"]["bucket"] == stack.bucket
    routing = result.check("routing.entries")
    assert routing["details"]["scopes"] == {"t_system/dev": {
        "missing": [], "refused": {}, "invalid": {}, "duplicates": {}, "routed": 17}}
    assert routing["details"]["queries"] == 1
    for check in verdict["checks"]:
        assert (check["remediation"] is None) is (check["status"] != "warn"), check
        # routing.backends and backends.reachable read the registry before they know that
        # nothing is there to judge.
        skipped_unread = check["status"] == "skipped" and check["name"] not in (
            "routing.backends", "backends.reachable")
        assert check["attempts"] == (0 if skipped_unread else 1), check

    assert result.termination_log is not None
    assert result.termination_log.startswith("preflight PASS (exit 0)")


def test_stderr_is_cloud_logging_json_lines(stack: Stack) -> None:
    stack.seed()
    result = stack.run("--format", "json")
    assert result.returncode == 0, result.describe()
    lines = result.stderr_lines
    assert lines
    events = []
    for line in lines:
        event = json.loads(line)  # every line is one JSON object
        assert isinstance(event, dict)
        assert event["severity"] in ("DEBUG", "INFO", "WARNING", "ERROR"), event
        assert isinstance(event["message"], str), event
        assert event["message"], event
        assert harness.RFC3339.match(event["time"]), event
        events.append(event)
    finished = {e["check"] for e in events if e["message"] == "check finished"}
    assert finished == set(harness.CHECK_NAMES)
    assert [e for e in events if e["message"] == "verdict"][-1]["exit_code"] == 0
    # stdout carried no log line
    assert "severity" not in result.stdout


@pytest.mark.parametrize(("case", "code", "severity"), [
    ("pass", 0, "INFO"),
    ("warn", 0, "WARNING"),
    ("not-ready", 3, "WARNING"),
    ("fail", 1, "ERROR"),
])
def test_the_verdict_event_severity_follows_the_verdict(stack: Stack, case: str, code: int,
                                                        severity: str,
                                                        redis_server: servers.Server) -> None:
    """A Cloud Logging alert on severity>=ERROR must fire on a failing verdict, only then."""
    documents = stack.seed({**seed.registry(), **harness.FIRST_USE_HEALTHY_ROUTES})
    healthy = harness.first_use_healthy_env(redis_server.port)
    env = stack.env(**healthy)
    args = ["--timeout", "3" if case == "not-ready" else "15", "--attempt-timeout", "1"]
    if case == "warn":
        stack.seed({"kpi#t_system#dev": documents["kpi-t_system-dev"]})
    elif case == "not-ready":
        env = stack.env(**healthy,
                        AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{harness.closed_port()}")
    elif case == "fail":
        env = stack.env(**healthy, RAW_BUCKET="no-such-bucket-here")
    result = stack.run(*args, env=env)
    assert result.returncode == code, result.describe()
    verdicts = [e for e in result.logs if e.get("message") == "verdict"]
    assert len(verdicts) == 1, result.stderr
    assert verdicts[0]["severity"] == severity, verdicts[0]
    assert verdicts[0]["exit_code"] == code


def test_all_good_text_format_has_one_line_per_check(stack: Stack) -> None:
    stack.seed()
    result = stack.run("--format", "text")
    verdict = assert_passing_verdict(result, stack)
    assert result.stdout_verdict is None  # text, not JSON
    lines = result.stdout.splitlines()
    assert lines[0].startswith("preflight PASS (exit 0)"), result.stdout
    per_check = text_check_lines(result.stdout)
    assert sorted(per_check) == sorted(harness.CHECK_NAMES), result.stdout
    for name, found in per_check.items():
        assert len(found) == 1, (name, found)
        assert verdict
        assert next(c for c in verdict["checks"] if c["name"] == name)[
            "message"] in found[0]
    warned = list(harness.FIRST_USE_DEFAULTS.values()).count("warn")
    phases = 2  # a heading for the start-up checks and one for the first-use checks
    assert len(lines) == 1 + phases + len(harness.CHECK_NAMES) + warned, result.stdout
    assert result.stdout.count("fix:") == warned


def test_text_format_shows_failures_with_their_fix(stack: Stack) -> None:
    stack.seed()
    result = stack.run("--format", "text", "--bucket", "no-such-bucket-here")
    assert result.returncode == 1, result.describe()
    lines = result.stdout.splitlines()
    assert lines[0].startswith("preflight FAIL (exit 1)")
    per_check = text_check_lines(result.stdout)
    assert sorted(per_check) == sorted(harness.CHECK_NAMES)
    s3_line = per_check["s3.bucket"][0]
    assert " fail " in s3_line
    assert "no-such-bucket-here" in s3_line
    check = result.check("s3.bucket")
    assert check["remediation"]
    fix_index = lines.index(s3_line) + 1
    assert lines[fix_index].strip() == f"fix: {check['remediation']}"
    # the failure is listed before the passing checks
    assert lines.index(s3_line) < lines.index(per_check["env.policy"][0])


def test_default_format_off_a_terminal_is_json_and_variable_selects_text(stack: Stack) -> None:
    stack.seed()
    default = stack.run()
    assert default.returncode == 0, default.describe()
    assert json.loads(default.stdout) == default.verdict
    text = stack.run(env=stack.env(PREFLIGHT_FORMAT="text"))
    assert text.returncode == 0, text.describe()
    assert text.stdout.startswith("preflight PASS")
    assert sorted(text_check_lines(text.stdout)) == sorted(harness.CHECK_NAMES)


@pytest.mark.parametrize(("mode_variable", "expected"), [(None, 0o644), ("0640", 0o640)])
def test_verdict_file_is_readable_by_another_uid_whatever_the_umask(
        stack: Stack, mode_variable: str | None, expected: int) -> None:
    """Another container (another uid) reads the verdict: 0644 unless told otherwise."""
    stack.seed()
    target = stack.tmp_path / "shared" / "verdict.json"
    target.parent.mkdir()
    env = stack.env(PREFLIGHT_VERDICT_FILE_MODE=mode_variable,
                    PREFLIGHT_TERMINATION_LOG=str(stack.tmp_path / "termination-log"))
    for _ in range(2):  # created, then replaced: the mode holds both times
        done = subprocess.run(harness.preflight_argv("check", "--verdict-file", str(target)),
                              env=env, capture_output=True, text=True, timeout=60,
                              umask=0o077, check=False)
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(target.stat().st_mode) == expected, oct(target.stat().st_mode)
        assert harness.check_verdict(json.loads(target.read_text()))["status"] == "pass"
    assert [p.name for p in target.parent.iterdir()] == ["verdict.json"]


@pytest.mark.parametrize("value", ["abc", "0888", "1777", "0044", "644 "])
def test_invalid_verdict_file_mode_is_a_usage_error(stack: Stack, value: str) -> None:
    result = stack.run(env=stack.env(PREFLIGHT_VERDICT_FILE_MODE=value))
    assert result.returncode == 2, result.describe()
    assert result.stderr.startswith("preflight: error: PREFLIGHT_VERDICT_FILE_MODE: "), \
        result.stderr
    assert len(result.stderr_lines) == 1


# --------------------------------------------------------------------------- env.policy

def violations(result: harness.Result) -> dict[str, dict[str, Any]]:
    found = result.check("env.policy")["details"]["violations"]
    return {v["variable"]: v for v in found}


ENV_RULES_BROKEN = [
    pytest.param({"ROUTING_REGISTRY_BACKEND": None}, {"ROUTING_REGISTRY_BACKEND": None},
                 id="routing-backend-unset"),
    pytest.param({"ROUTING_REGISTRY_BACKEND": "memory"}, {"ROUTING_REGISTRY_BACKEND": "memory"},
                 id="routing-backend-memory"),
    pytest.param({"ROUTING_REGISTRY_BACKEND": "postgres"},
                 {"ROUTING_REGISTRY_BACKEND": "postgres"}, id="routing-backend-other"),
    pytest.param({"NEXUS_BACKEND": "noop"}, {"NEXUS_BACKEND": "noop"}, id="nexus-noop"),
    pytest.param({"NEXUS_BACKEND": "memory"}, {"NEXUS_BACKEND": "memory"}, id="nexus-memory"),
    pytest.param({"NEXUS_BACKEND": "in-memory"}, {"NEXUS_BACKEND": "in-memory"},
                 id="nexus-in-memory"),
    pytest.param({"NEXUS_BACKEND": "NoOp"}, {"NEXUS_BACKEND": "NoOp"}, id="nexus-NoOp"),
    pytest.param({"NEXUS_BACKEND": "cassandra"}, {"NEXUS_BACKEND": "cassandra"},
                 id="nexus-unknown"),
    pytest.param({"FEATURE_FLAGS_BACKEND": "redis"}, {"FEATURE_FLAGS_BACKEND": "redis"},
                 id="feature-flags-redis"),
    pytest.param({"FEATURE_FLAGS_BACKEND": "memory"}, {"FEATURE_FLAGS_BACKEND": "memory"},
                 id="feature-flags-memory"),
    pytest.param({"ROUTING_REGISTRY_BACKEND": "noop", "NEXUS_BACKEND": "memory",
                  "FEATURE_FLAGS_BACKEND": "launchdarkly"},
                 {"ROUTING_REGISTRY_BACKEND": "noop", "NEXUS_BACKEND": "memory",
                  "FEATURE_FLAGS_BACKEND": "launchdarkly"}, id="three-at-once"),
]


@pytest.mark.parametrize(("overrides", "expected"), ENV_RULES_BROKEN)
def test_broken_env_rule_fails_env_policy(stack: Stack, overrides: dict[str, str | None],
                                          expected: dict[str, str | None]) -> None:
    stack.seed()
    result = stack.run(env=stack.env(**overrides))
    assert result.returncode == 1, result.describe()
    check = result.check("env.policy")
    assert check["status"] == "fail"
    found = violations(result)
    assert set(found) == set(expected), found
    for variable, value in expected.items():
        assert found[variable]["value"] == value
        assert found[variable]["fix"]
        assert found[variable]["message"]
        assert found[variable]["fix"] in check["remediation"]
        assert variable in check["message"]
    # nothing else is blamed: the infrastructure itself is fine
    statuses = result.statuses()
    assert statuses["firestore.access"] == "pass"
    assert statuses["s3.bucket"] == "pass"
    assert statuses["routing.entries"] == "pass"
    assert result.termination_log is not None
    assert "env.policy" in result.termination_log


@pytest.mark.parametrize("overrides", [
    pytest.param({"ROUTING_REGISTRY_BACKEND": "FireStore"}, id="routing-backend-mixed-case"),
    pytest.param({"NEXUS_BACKEND": "firestore"}, id="nexus-firestore"),
    pytest.param({"NEXUS_BACKEND": "BigQuery"}, id="nexus-BigQuery"),
    pytest.param({"NEXUS_BACKEND": "bq"}, id="nexus-bq"),
    pytest.param({"FEATURE_FLAGS_BACKEND": "Firestore"}, id="feature-flags-Firestore"),
    pytest.param({"GCP_PROJECT_ID": None, "GCP_PROJECT": "@project"}, id="only-GCP_PROJECT"),
])
def test_allowed_env_values_pass(stack: Stack, overrides: dict[str, str | None]) -> None:
    stack.seed()
    if overrides.get("GCP_PROJECT") == "@project":
        overrides = {**overrides, "GCP_PROJECT": stack.project}
    # The values, not the backends they select: BigQuery has no emulator in this stack
    # (its probe is tested in test_backends_*).
    result = stack.run("--no-probes", env=stack.env(**overrides))
    assert result.returncode == 0, result.describe()
    assert result.status("env.policy") == "pass"
    assert violations(result) == {}
    assert result.verdict
    assert result.verdict["target"]["project"] == stack.project


def test_gcp_project_id_wins_over_gcp_project(stack: Stack) -> None:
    stack.seed()
    result = stack.run(env=stack.env(GCP_PROJECT="some-other-project"))
    assert result.returncode == 0, result.describe()
    assert result.verdict
    assert result.verdict["target"]["project"] == stack.project


def test_no_project_at_all_fails_env_policy_and_the_firestore_checks(stack: Stack) -> None:
    stack.seed()
    result = stack.run(env=stack.env(GCP_PROJECT_ID=None, GCP_PROJECT=None))
    assert result.returncode == 1, result.describe()
    assert result.verdict
    assert result.verdict["target"]["project"] is None
    assert "GCP_PROJECT_ID" in violations(result)
    for name in ("firestore.access", "routing.entries"):
        check = result.check(name)
        assert check["status"] == "fail", check
        assert check["message"].startswith("not checked: "), check
        assert "GCP_PROJECT_ID" in check["message"]
        assert check["details"] == {"unconfigured": "project"}
        assert check["attempts"] == 0
    assert result.status("s3.bucket") == "pass"


def test_project_flag_without_the_variable_still_fails_env_policy(stack: Stack) -> None:
    """The engines read GCP_PROJECT_ID / GCP_PROJECT, not preflight's --project."""
    stack.seed()
    result = stack.run("--project", stack.project, env=stack.env(GCP_PROJECT_ID=None))
    assert result.returncode == 1, result.describe()
    assert "GCP_PROJECT_ID" in violations(result)
    assert result.status("firestore.access") == "pass"
    assert result.status("routing.entries") == "pass"


def test_raw_bucket_unset_fails_env_policy_even_with_bucket_flag(stack: Stack) -> None:
    stack.seed()
    result = stack.run("--bucket", stack.bucket, env=stack.env(RAW_BUCKET=None))
    assert result.returncode == 1, result.describe()
    assert set(violations(result)) == {"RAW_BUCKET"}
    assert violations(result)["RAW_BUCKET"]["value"] is None
    assert result.status("s3.bucket") == "pass"  # --bucket is still checked
    assert result.verdict
    assert result.verdict["target"]["bucket"] == stack.bucket


def test_no_bucket_at_all_fails_env_policy_and_s3(stack: Stack) -> None:
    stack.seed()
    result = stack.run(env=stack.env(RAW_BUCKET=None))
    assert result.returncode == 1, result.describe()
    assert set(violations(result)) == {"RAW_BUCKET"}
    check = result.check("s3.bucket")
    assert check["status"] == "fail"
    assert "RAW_BUCKET" in check["message"]
    assert check["details"]["unconfigured"] == "bucket"
    assert [s["code"] for s in check["details"]["stricter_than_engines"]] == [
        "raw_bucket_required"]
    assert result.verdict
    assert result.verdict["target"]["bucket"] is None
    assert result.status("routing.entries") == "pass"


@pytest.mark.parametrize("variable", ["RAW_BUCKET", "GCP_PROJECT_ID"])
def test_empty_project_or_bucket_variable_is_a_finding_not_a_usage_error(
        stack: Stack, variable: str) -> None:
    stack.seed()
    result = stack.run(env=stack.env(**{variable: "", "GCP_PROJECT": None}))
    assert result.returncode == 1, result.describe()
    assert variable in violations(result)
    unconfigured = ("s3.bucket",) if variable == "RAW_BUCKET" else ("firestore.access",
                                                                      "routing.entries")
    for name in unconfigured:
        assert result.status(name) == "fail", result.statuses()


def test_bucket_missing_fails_s3_bucket(stack: Stack) -> None:
    stack.seed()
    result = stack.run(env=stack.env(RAW_BUCKET="no-such-bucket-anywhere"))
    assert result.returncode == 1, result.describe()
    check = result.check("s3.bucket")
    assert check["status"] == "fail"
    assert check["details"]["http_status"] == 404
    assert "does not exist" in check["message"]
    assert "no-such-bucket-anywhere" in check["message"]
    assert check["remediation"]
    assert result.statuses()["routing.entries"] == "pass"
    assert result.verdict
    assert result.verdict["summary"]["fail"] == 1
    assert result.termination_log is not None
    assert result.termination_log.splitlines()[1].startswith("✗ s3.bucket")


def test_bucket_in_another_region_passes_even_under_strict(stack: Stack) -> None:
    """botocore follows S3's redirect, so the engines work: no warning that --strict would
    turn into a block (the S3 routes' probes judge it the same way)."""
    stack.seed()
    bucket = f"{stack.bucket}-eu"
    stack.s3c.create_bucket(Bucket=bucket,
                            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    try:
        moved = stack.run("--strict", env=stack.env(RAW_BUCKET=bucket))
        check = moved.check("s3.bucket")
        assert check["status"] == "pass", check
        assert check["details"]["bucket_region"] == "eu-west-1", check
        assert "in region eu-west-1, not the client's" in check["message"], check
        assert check["remediation"] is None, check
    finally:
        stack.s3c.delete_bucket(Bucket=bucket)


# --------------------------------------------------------------------------- options vs env

def test_comma_lists_in_variables_are_split_on_commas(stack: Stack) -> None:
    stack.seed({**seed.registry("a"), **seed.registry("b")})
    result = stack.run(env=stack.env(PREFLIGHT_SCOPES="a/dev,b/dev",
                                     PREFLIGHT_REQUIRED_KINDS="kpi,seo, chat_bus"))
    assert result.returncode == 0, result.describe()
    assert result.verdict is not None
    assert result.verdict["target"]["scopes"] == ["a/dev", "b/dev"]
    assert result.verdict["target"]["required_kinds"] == ["kpi", "seo", "chat_bus"]
    assert result.scope("a/dev")["routed"] == 3
    assert result.scope("b/dev")["routed"] == 3
    assert sorted(result.check("routing.entries")["details"]["scopes"]) == ["a/dev", "b/dev"]


def test_disallowed_backends_variable_is_a_comma_list(stack: Stack) -> None:
    stack.seed()
    result = stack.run(env=stack.env(PREFLIGHT_DISALLOWED_BACKENDS="Redis,filesystem"))
    assert result.returncode == 1, result.describe()
    assert result.scope("t_system/dev")["refused"] == {
        "budget": "filesystem", "chat_bus": "redis", "media_v2_storage": "filesystem",
        "raw_storage": "filesystem"}


def test_variables_are_not_split_on_whitespace(stack: Stack) -> None:
    """'a/dev b/dev' is not two scopes, and no scope part may hold a space: exit 2."""
    stack.seed({**seed.registry("a"), **seed.registry("b")})
    result = stack.run(env=stack.env(PREFLIGHT_SCOPES="a/dev b/dev"))
    assert result.returncode == 2, result.describe()
    assert result.stderr_lines == ["preflight: error: PREFLIGHT_SCOPES: expected scopes as "
                                   "tenant/env or tenant/env/project, each part non-empty and "
                                   "without '/' or spaces (got 'a/dev b/dev')"]
    assert result.verdict is None


def test_repeated_scope_flags(stack: Stack) -> None:
    stack.seed({**seed.registry("a"), **seed.registry("b")})
    result = stack.run("--scope", "a/dev", "--scope", "b/dev")
    assert result.returncode == 0, result.describe()
    assert result.verdict
    assert result.verdict["target"]["scopes"] == ["a/dev", "b/dev"]


def test_flags_win_over_variables(stack: Stack) -> None:
    stack.seed()
    env = stack.env(
        PREFLIGHT_SCOPES="nobody/prod",
        RAW_BUCKET="not-the-bucket-checked",     # the engines' variable is still set...
        GCP_PROJECT_ID="not-the-project-read",
        PREFLIGHT_REQUIRED_KINDS="timeline",
        PREFLIGHT_TIMEOUT="abc",                 # an invalid variable a flag overrides
        PREFLIGHT_FORMAT="json",
        PREFLIGHT_ROUTING_COLLECTION="nothing_here",
    )
    result = stack.run("--scope", "t_system/dev", "--bucket", stack.bucket,
                       "--project", stack.project, "--kinds", "kpi,seo", "--timeout", "20",
                       "--format", "text", "--collection", "routing_registry", env=env)
    assert result.returncode == 0, result.describe()
    assert result.verdict is not None
    target = result.verdict["target"]
    assert target["scopes"] == ["t_system/dev"]
    assert target["bucket"] == stack.bucket
    assert target["project"] == stack.project
    assert target["required_kinds"] == ["kpi", "seo"]
    assert target["collection"] == "routing_registry"
    assert result.stdout.startswith("preflight PASS")  # --format text beat PREFLIGHT_FORMAT


def test_variables_are_used_when_no_flag_is_given(stack: Stack) -> None:
    stack.seed(seed.registry(), collection="routes_elsewhere")
    env = stack.env(PREFLIGHT_ROUTING_COLLECTION="routes_elsewhere",
                    PREFLIGHT_REQUIRED_KINDS="kpi", PREFLIGHT_FORMAT="text")
    result = stack.run(env=env)
    assert result.returncode == 0, result.describe()
    assert result.verdict is not None
    assert result.verdict["target"]["collection"] == "routes_elsewhere"
    assert result.verdict["target"]["required_kinds"] == ["kpi"]
    assert result.stdout.startswith("preflight PASS")


# --------------------------------------------------------------------------- usage errors

@pytest.fixture
def watched(stack: Stack) -> tuple[Stack, dict[str, str], list[harness.Forwarder]]:
    """The stack's env routed through connection-counting forwarders."""
    stack.seed()
    firestore = stack.forwarder(stack.firestore.address).start()
    s3 = stack.forwarder(stack.s3.address).start()
    env = stack.env(FIRESTORE_EMULATOR_HOST=firestore.address,
                    AWS_ENDPOINT_URL_S3=f"http://{s3.address}")
    return stack, env, [firestore, s3]


def test_forwarders_do_see_a_valid_run(
        watched: tuple[Stack, dict[str, str], list[harness.Forwarder]]) -> None:
    """Control for the usage-error tests: the forwarders notice a real run's calls."""
    stack, env, forwarders = watched
    result = stack.run(env=env)
    assert result.returncode == 0, result.describe()
    assert all(f.connections > 0 for f in forwarders)


USAGE_ERRORS = [
    pytest.param(["--timeout", "abc"], {}, "--timeout", id="timeout-abc"),
    pytest.param(["--timeout", "0"], {}, "--timeout", id="timeout-zero"),
    pytest.param(["--timeout", "-3"], {}, "--timeout", id="timeout-negative"),
    pytest.param(["--timeout", "nan"], {}, "--timeout", id="timeout-nan"),
    pytest.param(["--attempt-timeout", "inf"], {}, "--attempt-timeout", id="attempt-inf"),
    pytest.param([], {"PREFLIGHT_TIMEOUT": "abc"}, "PREFLIGHT_TIMEOUT", id="env-timeout-abc"),
    pytest.param([], {"PREFLIGHT_ATTEMPT_TIMEOUT": "5s"}, "PREFLIGHT_ATTEMPT_TIMEOUT",
                 id="env-attempt-timeout-5s"),
    pytest.param([], {"PREFLIGHT_SCOPES": "t_system/dev,bad"}, "PREFLIGHT_SCOPES",
                 id="env-scopes-bad-item"),
    pytest.param([], {"PREFLIGHT_SCOPES": "t_system/dev,,a/dev"}, "PREFLIGHT_SCOPES",
                 id="env-scopes-empty-item"),
    pytest.param([], {"PREFLIGHT_SCOPES": "a//dev"}, "PREFLIGHT_SCOPES",
                 id="env-scopes-empty-part"),
    pytest.param(["--scope", "a/b/c/d"], {}, "--scope", id="scope-four-parts"),
    pytest.param(["--scope", "t_system"], {}, "--scope", id="scope-one-part"),
    pytest.param(["--format", "xml"], {}, "--format", id="format-xml"),
    pytest.param([], {"PREFLIGHT_FORMAT": "yaml"}, "PREFLIGHT_FORMAT", id="env-format-yaml"),
    pytest.param(["--log-level", "loud"], {}, "--log-level", id="log-level-loud"),
    pytest.param([], {"PREFLIGHT_REQUIRED_KINDS": "kpi,,seo"}, "PREFLIGHT_REQUIRED_KINDS",
                 id="env-kinds-empty-item"),
    pytest.param(["--kinds", ""], {}, "--kinds", id="kinds-empty"),
    pytest.param(["--collection", "a/b"], {}, "--collection", id="collection-with-slash"),
    pytest.param(["--no-such-option"], {}, "--no-such-option", id="unknown-option"),
    pytest.param(["--timeout"], {}, "--timeout", id="timeout-without-value"),
]


@pytest.mark.parametrize(("args", "env_overrides", "named"), USAGE_ERRORS)
def test_invalid_values_exit_2_with_one_line_before_any_call(
        watched: tuple[Stack, dict[str, str], list[harness.Forwarder]],
        args: list[str], env_overrides: dict[str, str], named: str) -> None:
    stack, env, forwarders = watched
    result = stack.run(*args, env={**env, **env_overrides})
    assert result.returncode == 2, result.describe()
    assert result.stdout == ""
    assert len(result.stderr_lines) == 1, result.stderr
    line = result.stderr_lines[0]
    assert named in line, line
    assert "Traceback" not in result.stderr
    assert line.startswith("preflight: error:"), line
    assert result.verdict is None
    assert result.verdict_path is not None
    assert not result.verdict_path.exists()
    assert result.termination_log is None
    assert [f.connections for f in forwarders] == [0, 0], "a network call before refusing"
    assert result.wall < 10


def assert_refused_verdict_target(result: harness.Result, forwarders: list[harness.Forwarder],
                                  named: str) -> None:
    assert result.returncode == 2, result.describe()
    assert result.stdout == ""
    assert len(result.stderr_lines) == 1, result.stderr
    assert named in result.stderr_lines[0]
    assert "Traceback" not in result.stderr
    assert result.termination_log is None
    assert [f.connections for f in forwarders] == [0, 0], "a check ran before refusing"


@pytest.mark.parametrize("how", ["missing-folder", "parent-is-a-file", "path-is-a-folder"])
@pytest.mark.parametrize("via", ["--verdict-file", "PREFLIGHT_VERDICT_FILE"])
def test_unusable_verdict_path_exits_2_before_any_check(
        watched: tuple[Stack, dict[str, str], list[harness.Forwarder]], tmp_path: Path,
        how: str, via: str) -> None:
    stack, env, forwarders = watched
    if how == "missing-folder":
        target = tmp_path / "does-not-exist" / "verdict.json"
    elif how == "parent-is-a-file":
        (tmp_path / "plain-file").write_text("x")
        target = tmp_path / "plain-file" / "verdict.json"
    else:
        target = tmp_path / "a-folder"
        target.mkdir()
    if via == "--verdict-file":
        result = stack.run("--verdict-file", str(target), env=env)
    else:
        result = stack.run(env={**env, "PREFLIGHT_VERDICT_FILE": str(target)})
    assert_refused_verdict_target(result, forwarders, via)
    assert result.verdict is None
    if how != "path-is-a-folder":
        assert not target.exists()
    else:
        assert list(target.iterdir()) == []


def test_unwritable_verdict_folder_exits_2_before_any_check(
        watched: tuple[Stack, dict[str, str], list[harness.Forwarder]], tmp_path: Path) -> None:
    _stack, env, forwarders = watched
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    target = locked / "verdict.json"
    try:
        for args, extra, named in (
                (["--verdict-file", str(target)], {}, "--verdict-file"),
                ([], {"PREFLIGHT_VERDICT_FILE": str(target)}, "PREFLIGHT_VERDICT_FILE")):
            # As root, without the capabilities that ignore file modes (see harness.Running).
            result = harness.run_preflight(args, {**env, **extra}, 30, workdir=tmp_path / "runs",
                                           file_modes_bind=True)
            assert_refused_verdict_target(result, forwarders, named)
            assert "writable" in result.stderr_lines[0]
            assert not target.exists()
    finally:
        locked.chmod(0o755)


def test_unusable_termination_log_path_exits_2(
        watched: tuple[Stack, dict[str, str], list[harness.Forwarder]], tmp_path: Path) -> None:
    stack, env, forwarders = watched
    target = tmp_path / "missing-folder" / "termination-log"
    result = stack.run(env={**env, "PREFLIGHT_TERMINATION_LOG": str(target)})
    assert result.returncode == 2, result.describe()
    assert len(result.stderr_lines) == 1
    assert "PREFLIGHT_TERMINATION_LOG" in result.stderr
    assert result.verdict is None
    assert [f.connections for f in forwarders] == [0, 0]


# --------------------------------------------------------------------------- front door

def test_version_is_the_same_from_the_script_and_the_module(tmp_path: Path) -> None:
    env = harness.minimal_env(tmp_path)
    script = Path(sys.executable).parent / "preflight"
    assert script.exists(), f"console script not installed at {script}"
    by_script = harness.run_command([str(script), "--version"], env)
    by_module = harness.run_command(harness.preflight_argv("--version"), env)
    for done in (by_script, by_module):
        assert done.returncode == 0, done.stderr
        assert done.stdout == "preflight 0.1.0\n", done.stdout
        assert done.stderr == ""
    assert importlib.metadata.version("engines-preflight") == "0.1.0"  # the distribution name


def test_check_help_documents_every_option_and_variable(tmp_path: Path) -> None:
    done = harness.run_command(harness.preflight_argv("check", "--help"),
                               harness.minimal_env(tmp_path))
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for variable in ("GCP_PROJECT_ID", "GCP_PROJECT", "PREFLIGHT_FIRESTORE_DATABASE",
                     "RAW_BUCKET", "PREFLIGHT_ROUTING_COLLECTION", "PREFLIGHT_REQUIRED_KINDS",
                     "PREFLIGHT_SCOPES", "PREFLIGHT_DISALLOWED_BACKENDS", "PREFLIGHT_TIMEOUT",
                     "PREFLIGHT_ATTEMPT_TIMEOUT", "PREFLIGHT_VERDICT_FILE",
                     "PREFLIGHT_TERMINATION_LOG", "PREFLIGHT_FORMAT", "PREFLIGHT_LOG_LEVEL"):
        assert re.search(rf"(?<![A-Z_]){variable}(?![A-Z_])", text), variable
    for flag in ("--project", "--database", "--bucket", "--collection", "--kinds", "--scope",
                 "--disallow", "--timeout", "--attempt-timeout", "--verdict-file",
                 "--termination-log", "--format", "--log-level"):
        assert re.search(rf"(?<![\w-]){flag}(?![\w-])", text), flag
