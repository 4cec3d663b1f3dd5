"""The operator's view: explain, ignore/only/skip, strict, disallow-in, terminal, CI formats."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests import harness
from tests.conftest import Stack
from tests.seed import route
from tests.verdict_schema import SCHEMA_PATH

DATA = Path(__file__).resolve().parent / "data"
ANSI = re.compile(r"\x1b\[")


def run_cli(*args: str, env: dict[str, str],
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return harness.run_command(harness.preflight_argv(*args), env, timeout)


# ---------------------------------------------------------------- explain

def test_explain_names_each_values_source_flag_env_default(tmp_path: Path) -> None:
    env = harness.minimal_env(tmp_path) | {"PREFLIGHT_SCOPES": "a/dev,b/prod/p1",
                                           "GCP_PROJECT": "proj", "PREFLIGHT_TIMEOUT": "30"}
    result = run_cli("explain", "--format", "json", "--timeout", "12", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    configuration = document["configuration"]
    assert configuration["timeout"] == {"value": 12.0, "source": "flag", "from": "flag --timeout"}
    assert configuration["scopes"] == {"value": ["a/dev", "b/prod/p1"], "source": "env",
                                       "from": "env PREFLIGHT_SCOPES"}
    assert configuration["project"]["from"] == "env GCP_PROJECT"
    assert configuration["database"] == {
        "value": "(default)", "source": "profile",
        "from": "profile engines (preflight/contract/profiles/engines.yaml:14)"}
    queries = document["firestore"]["queries"]
    assert queries == [
        # t_system/dev joins: the profile's event_stream is looked up there
        {"collection": "routing_registry", "serves": ["a/dev", "t_system/dev"],
         "where": [["tenant_id", "in", ["a", "t_system"]], ["env", "==", "dev"],
                   ["project_id", "==", None]]},
        {"collection": "routing_registry", "serves": ["b/prod/p1"],
         "where": [["tenant_id", "==", "b"], ["env", "==", "prod"], ["project_id", "==", "p1"]]},
    ]
    assert [c["note"] for c in document["checks"] if not c["runs"]] == [
        "fails: no bucket: set RAW_BUCKET (or --bucket) (stricter than the engines: they "
        "would start)"]
    # Without a bucket, only the routes can say whether a probe will use AWS.
    aws = next(c for c in document["checks"] if c["name"] == "aws.credentials")
    assert (aws["runs"], aws["needs"]) == (True, ["firestore.access"])


def test_explain_makes_no_network_call_and_shows_the_plan_as_text(tmp_path: Path) -> None:
    closed = harness.closed_port()
    env = harness.minimal_env(tmp_path) | {
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{closed}", "GCP_PROJECT_ID": "p",
        "AWS_ENDPOINT_URL_S3": f"http://user:CANARY-url-pw@127.0.0.1:{closed}",
        "AWS_SECRET_ACCESS_KEY": "CANARY-explain-secret"}
    started = time.monotonic()
    result = run_cli("explain", "--format", "text", "--skip", "s3.bucket", env=env)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    text = result.stdout
    assert "gcp.credentials: skipped: FIRESTORE_EMULATOR_HOST is set" in text
    assert "s3.bucket (after aws.credentials): skipped: not selected (--skip)" in text
    assert "aws.credentials (after firestore.access): skipped: AWS_ENDPOINT_URL_S3 names" in text
    assert 'WHERE tenant_id == "t_system" AND env == "dev" AND project_id == null' in text
    assert "CANARY" not in text + result.stderr
    assert not ANSI.search(text)


def test_explain_refuses_invalid_configuration_like_check(tmp_path: Path) -> None:
    env = harness.minimal_env(tmp_path) | {"PREFLIGHT_TIMEOUT": "soon"}
    explained = run_cli("explain", env=env)
    checked = run_cli("check", env=env)
    assert explained.returncode == checked.returncode == 2
    assert explained.stderr == checked.stderr == (
        "preflight: error: PREFLIGHT_TIMEOUT: expected a number of seconds (got 'soon')\n")
    assert explained.stdout == ""


def test_schema_prints_the_published_schema(tmp_path: Path) -> None:
    result = run_cli("schema", env=harness.minimal_env(tmp_path))
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads(SCHEMA_PATH.read_text())


# ---------------------------------------------------------------- choosing and softening

def test_ignore_turns_a_failure_into_an_ignored_warning(stack: Stack) -> None:
    stack.seed()
    env = stack.env(RAW_BUCKET="no-such-bucket-here")
    plain = stack.run(env=env)
    assert plain.returncode == 1
    result = stack.run("--ignore", "S3.Bucket", env=env)
    assert result.returncode == 0, result.describe()
    check = result.check("s3.bucket")
    assert (check["status"], check["ignored"]) == ("warn", True)
    assert check["details"]["ignored_status"] == "fail"
    assert "does not exist" in check["message"]
    assert result.verdict is not None
    assert result.verdict["status"] == "pass"


def test_ignore_from_the_environment_is_a_comma_list(stack: Stack) -> None:
    stack.seed()
    env = stack.env(RAW_BUCKET="no-such-bucket-here", ROUTING_REGISTRY_BACKEND="memory",
                    PREFLIGHT_IGNORE="s3.bucket, ENV.POLICY")
    result = stack.run(env=env)
    assert result.returncode == 0, result.describe()
    assert result.statuses()["env.policy"] == result.statuses()["s3.bucket"] == "warn"


@pytest.mark.parametrize(("args", "message"), [
    (("--ignore", "all", "--ignore", "s3.bucket"), "--ignore: expected 'all' on its own"),
    (("--ignore", "s3.bukket"), "--ignore: expected check names: env.policy, env.backends, "
                                "gcp.credentials, firestore.access, aws.credentials, s3.bucket, "
                                "routing.entries, routing.serving, routing.backends, "
                                "backends.reachable, or all (got 's3.bukket')"),
    (("--only", "nope"), "--only: expected check names"),
    (("--only", "s3.bucket", "--skip", "env.policy"), "--only: expected either --only or --skip"),
    (("--disallow-in", "prod"), "--disallow-in: expected ENV=BACKEND"),
])
def test_bad_check_selection_is_a_usage_error(stack: Stack, args: tuple[str, ...],
                                              message: str) -> None:
    result = stack.run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"preflight: error: {message}"), result.stderr
    assert len(result.stderr_lines) == 1
    assert result.verdict is None


def test_only_and_skip_show_deselected_checks_as_skipped(stack: Stack) -> None:
    stack.seed()
    only = stack.run("--only", "routing.entries")
    assert only.returncode == 0, only.describe()
    assert only.statuses() == {"env.policy": "skipped", "gcp.credentials": "skipped",
                               "firestore.access": "skipped", "aws.credentials": "skipped",
                               "s3.bucket": "skipped", "routing.entries": "pass",
                               "env.backends": "skipped", "routing.serving": "skipped",
                               "routing.backends": "skipped", "backends.reachable": "skipped"}
    assert only.check("s3.bucket")["message"] == "not selected (--only)"
    skip = stack.run(env=stack.env(PREFLIGHT_SKIP="s3.bucket", RAW_BUCKET="missing-bucket"))
    assert skip.returncode == 0, skip.describe()
    assert skip.check("s3.bucket")["message"] == "not selected (PREFLIGHT_SKIP)"


# A check that could not run because something it needs did not pass is never neutral:
# --ignore downgrades the ignored check's own outcome, never what depends on it.

def test_ignoring_an_unreachable_firestore_does_not_pass_unread_routes(stack: Stack) -> None:
    stack.seed()
    env = stack.env(FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{harness.closed_port()}")
    result = stack.run("--ignore", "firestore.access", "--ignore", "s3.bucket", "--timeout",
                       "3", "--attempt-timeout", "1", env=env)
    assert result.returncode == 3, result.describe()
    access = result.check("firestore.access")
    assert (access["status"], access["ignored"]) == ("warn", True), access
    routing = result.check("routing.entries")
    assert (routing["status"], routing["transient"]) == ("error", True), routing
    assert routing["attempts"] == 0
    assert routing["details"]["blocked_by"] == "firestore.access"
    assert routing["details"]["blocked_by_status"] == "error"
    assert "not checked" in routing["message"] and "firestore.access" in routing["message"]
    assert routing["remediation"].startswith("fix firestore.access first")
    assert result.verdict is not None and result.verdict["status"] == "fail"


def test_a_definitive_failure_blocks_what_depends_on_it_definitively(stack: Stack) -> None:
    stack.seed()
    env = stack.env(FIRESTORE_EMULATOR_HOST=None, CLOUDSDK_CONFIG=str(stack.home / "gcloud"),
                    GOOGLE_APPLICATION_CREDENTIALS=str(stack.tmp_path / "no-such-key.json"))
    result = stack.run("--ignore", "gcp.credentials", "--timeout", "10", env=env)
    assert result.returncode == 1, result.describe()
    assert result.check("gcp.credentials")["details"]["ignored_status"] == "fail"
    access = result.check("firestore.access")
    assert (access["status"], access["transient"]) == ("error", False), access
    assert access["details"] == {"blocked_by": "gcp.credentials", "blocked_by_status": "fail"}
    routing = result.check("routing.entries")
    assert (routing["status"], routing["transient"]) == ("error", False), routing
    assert routing["details"] == {"blocked_by": "firestore.access",
                                  "blocked_by_status": "error"}
    assert result.wall < 8, "a definitive failure does not wait for the deadline"


def test_ignoring_env_policy_without_a_project_still_fails(stack: Stack) -> None:
    stack.seed()
    result = stack.run("--ignore", "env.policy", env=stack.env(GCP_PROJECT_ID=None))
    assert result.returncode == 1, result.describe()
    assert result.status("env.policy") == "warn"
    for name in ("firestore.access", "routing.entries"):
        check = result.check(name)
        assert check["status"] == "fail", check
        assert check["attempts"] == 0
        assert "GCP_PROJECT_ID" in check["message"] + check["remediation"], check


def test_ignoring_env_policy_without_a_bucket_still_fails(stack: Stack) -> None:
    stack.seed()
    result = stack.run("--ignore", "env.policy", env=stack.env(RAW_BUCKET=None))
    assert result.returncode == 1, result.describe()
    check = result.check("s3.bucket")
    assert check["status"] == "fail", check
    assert "RAW_BUCKET" in check["message"] + check["remediation"], check


def test_only_a_deliberate_choice_or_an_emulator_skips_a_check(stack: Stack) -> None:
    stack.seed()
    result = stack.run("--skip", "s3.bucket", env=stack.env(RAW_BUCKET=None,
                                                           PREFLIGHT_IGNORE="env.policy"))
    assert result.returncode == 0, result.describe()
    assert result.check("s3.bucket")["message"] == "not selected (--skip)"
    assert result.status("gcp.credentials") == "skipped"  # FIRESTORE_EMULATOR_HOST is set
    assert result.status("routing.entries") == "pass"


def test_strict_fails_on_a_duplicate_route_warning(stack: Stack) -> None:
    documents = stack.seed()
    stack.seed({"kpi#t_system#dev": documents["kpi-t_system-dev"]})
    relaxed = stack.run()
    assert relaxed.returncode == 0
    assert relaxed.status("routing.entries") == "warn"
    strict = stack.run("--strict")
    assert strict.returncode == 1, strict.describe()
    assert strict.verdict is not None
    assert (strict.verdict["status"], strict.verdict["strict"]) == ("fail", True)
    assert stack.run(env=stack.env(PREFLIGHT_STRICT="1")).returncode == 1


def test_disallow_in_refuses_filesystem_in_prod_only(stack: Stack) -> None:
    stack.seed({f"budget-{env}": route("budget", env=env, backend="filesystem")
                for env in ("dev", "prod")})
    result = stack.run("--kinds", "budget", "--scope", "t_system/dev", "--scope",
                       "t_system/prod", "--disallow-in", "prod=filesystem,in_memory")
    assert result.returncode == 1, result.describe()
    assert result.scope("t_system/prod")["refused"] == {"budget": "filesystem"}
    assert result.scope("t_system/dev")["refused"] == {}
    assert result.scope("t_system/dev")["routed"] == 1


def test_disallow_in_shows_per_scope_which_rules_applied(stack: Stack) -> None:
    stack.seed({f"budget-{env}": route("budget", env=env, backend="firestore")
                for env in ("dev", "prod")})
    result = stack.run("--kinds", "budget", "--scope", "t_system/dev", "--scope",
                       "t_system/prod", "--disallow-in", "prod=filesystem,in_memory",
                       "--disallow-in", "staging=redis")
    assert result.returncode == 0, result.describe()
    details = result.check("routing.entries")["details"]
    assert details["per_env_rules"] == {"t_system/dev": [],
                                        "t_system/prod": ["filesystem", "in_memory"]}
    assert details["per_env_rules_unmatched"] == {"staging": ["redis"]}


def test_explain_shows_per_scope_which_rules_apply(tmp_path: Path) -> None:
    env = harness.minimal_env(tmp_path) | {"PREFLIGHT_SCOPES": "a/dev,a/prod",
                                           "PREFLIGHT_DISALLOW_IN": "prod=filesystem;stage=redis"}
    document = json.loads(run_cli("explain", "--format", "json", env=env).stdout)
    scopes = {entry["scope"]: entry for entry in document["scopes"]}
    assert scopes["a/prod"]["per_env_rule"] == ["filesystem"]
    assert scopes["a/dev"]["per_env_rule"] == []
    assert "filesystem" in scopes["a/prod"]["refused_backends"]
    assert "filesystem" not in scopes["a/dev"]["refused_backends"]
    assert document["per_env_rules_unmatched"] == {"stage": ["redis"]}
    text = run_cli("explain", "--format", "text", env=env).stdout
    assert "a/prod (startup): 17 kinds" in text and "--disallow-in prod: filesystem" in text, text
    assert "--disallow-in stage (redis) applies to no scope here" in text, text


@pytest.mark.parametrize(("args", "env_overrides", "named"), [
    (("--disallow-in", "prdo=filesystem"), {}, "--disallow-in"),
    (("--disallow-in", "Prod=filesystem"), {}, "--disallow-in"),
    ((), {"PREFLIGHT_DISALLOW_IN": "prod=memory;production=filesystem"},
     "PREFLIGHT_DISALLOW_IN"),
])
def test_disallow_in_an_env_the_engines_never_run_in_is_a_usage_error(
        stack: Stack, args: tuple[str, ...], env_overrides: dict[str, str], named: str) -> None:
    result = stack.run(*args, env=stack.env(**env_overrides))
    assert result.returncode == 2, result.describe()
    assert len(result.stderr_lines) == 1
    line = result.stderr_lines[0]
    assert line.startswith(f"preflight: error: {named}: "), line
    assert "dev, staging, stage, prod" in line and "--extra-env" in line, line
    assert result.verdict is None


def test_extra_env_lets_the_operator_name_another_env(stack: Stack) -> None:
    stack.seed({"budget-qa": route("budget", env="qa", backend="filesystem")})
    result = stack.run("--kinds", "budget", "--scope", "t_system/qa",
                       "--disallow-in", "qa=filesystem",
                       env=stack.env(PREFLIGHT_EXTRA_ENVS="qa"))
    assert result.returncode == 1, result.describe()
    assert result.scope("t_system/qa")["refused"] == {"budget": "filesystem"}
    flagged = stack.run("--kinds", "budget", "--scope", "t_system/qa", "--extra-env", "qa",
                        "--disallow-in", "qa=filesystem")
    assert flagged.returncode == 1, flagged.describe()


# ---------------------------------------------------------------- terminal

def run_in_pty(argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execvpe(argv[0], argv, env)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        output += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_terminal_shows_live_lines_then_the_summary(stack: Stack) -> None:
    stack.seed()
    env = stack.env(AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{harness.closed_port()}", TERM="xterm")
    code, screen = run_in_pty(harness.preflight_argv("check", "--timeout", "4",
                                                     "--attempt-timeout", "1"), env)
    assert code == 3
    assert re.search(r"s3\.bucket\s+attempt \d+ failed: EndpointConnectionError.*next try in",
                     screen), screen[-3000:]
    assert "deadline in" in screen, "count-down on a long wait"
    assert "\x1b[32m✓\x1b[0m" in screen, "colours on a terminal"
    summary = screen[screen.rindex("preflight FAIL"):]
    assert "fix: no answer before the deadline" in summary


def test_no_color_and_no_control_codes_without_a_terminal(stack: Stack) -> None:
    stack.seed()
    code, screen = run_in_pty(harness.preflight_argv("check"),
                              stack.env(NO_COLOR="1", TERM="xterm"))
    assert code == 0
    assert "\x1b[32m" not in screen
    assert "✓ routing.entries" in screen
    piped = stack.run("--format", "text")
    assert piped.returncode == 0
    assert not ANSI.search(piped.stdout + piped.stderr)
    assert piped.stdout.startswith("preflight PASS (exit 0)")


# ---------------------------------------------------------------- CI formats

def test_junit_output_validates_against_the_junit_schema(stack: Stack) -> None:
    import xmlschema

    documents = stack.seed()
    stack.doc("kpi-t_system-dev").delete()
    stack.seed({"seo-dup": documents["seo-t_system-dev"]})
    result = stack.run("--format", "junit", env=stack.env(RAW_BUCKET=None))
    assert result.returncode == 1
    schema = xmlschema.XMLSchema(DATA / "junit.xsd")
    schema.validate(result.stdout)
    tree: Any = schema.to_dict(result.stdout)
    suite = tree["testsuite"][0]
    cases = {case["@name"]: case for case in suite["testcase"]}
    assert set(cases) == set(harness.CHECK_NAMES)
    assert "missing 1 (kpi)" in cases["routing.entries"]["failure"][0]["@message"]
    assert "failure" in cases["s3.bucket"]
    assert "skipped" in cases["gcp.credentials"]
    assert "skipped" in cases["aws.credentials"]
    assert (suite["@tests"], suite["@failures"], suite["@skipped"]) == (10, 3, 4)


def test_tap_output_parses(stack: Stack) -> None:
    from tap.parser import Parser

    stack.seed()
    result = stack.run("--format", "tap", env=stack.env(RAW_BUCKET=None))
    assert result.returncode == 1
    lines = list(Parser().parse_text(result.stdout))
    tests = [line for line in lines if line.category == "test"]
    assert [t.description.lstrip("- ") for t in tests] == list(harness.CHECK_NAMES)
    outcome = {t.description.lstrip("- "): (t.ok, t.skip) for t in tests}
    assert outcome["env.policy"] == (False, False)
    assert outcome["s3.bucket"] == (False, False)  # no bucket: not checked, so not ok
    assert outcome["gcp.credentials"] == (True, True)
    assert outcome["routing.entries"] == (True, False)
    assert lines[0].category == "version"
