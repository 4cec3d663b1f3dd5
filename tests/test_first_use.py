"""First use, end to end: what the engines read when they serve (ENGINES.md §5).

Every finding of §5 is seeded through the real Firestore client on the emulator and judged
by the real `preflight check`: request-time routes at serving scopes, backends and config
keys per route, backend-selecting variables; and an operator's profile that changes rules
without a code change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preflight.core import strictness
from tests import harness, seed, servers
from tests.conftest import Stack

pytestmark = pytest.mark.integration

SERVED = seed.SERVED
SERVING_KINDS = seed.SERVING_KINDS
serving_registry = seed.serving_registry


@pytest.fixture
def durable(redis_server: servers.Server) -> dict[str, str]:
    """Every backend-selecting variable on a durable backend; the chat bus on a real Redis."""
    return harness.first_use_healthy_env(redis_server.port)


def run(stack: Stack, durable: dict[str, str], *args: str, **env: str | None
        ) -> harness.Result:
    return stack.run("--serve-scope", SERVED, *args, env=stack.env(**{**durable, **env}))


def findings(result: harness.Result, check: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = result.check(check)["details"]["findings"]
    return found


def codes(result: harness.Result, check: str) -> set[tuple[str, str]]:
    return {(f["code"], f["subject"]) for f in findings(result, check)}


def test_a_deployment_serving_a_healthy_scope_passes_everything(
        stack: Stack, durable: dict[str, str]) -> None:
    stack.seed(serving_registry())
    result = run(stack, durable)
    assert result.returncode == 0, result.describe()
    assert set(result.statuses().values()) == {"pass", "skipped"}, result.statuses()
    assert result.verdict is not None
    assert result.verdict["target"]["serving_scopes"] == [SERVED]
    serving = result.check("routing.serving")
    assert serving["phase"] == "first_use"
    assert "15 request-time route(s) found in 2 scope(s)" in serving["message"]
    assert result.check("routing.backends")["details"]["routes_judged"] == 15


def test_the_worked_example_s3_without_a_bucket_and_no_raw_bucket(
        stack: Stack, durable: dict[str, str]) -> None:
    """docs/PROFILES.md's worked example: object_store on s3 without `bucket`, RAW_BUCKET unset."""
    stack.seed(serving_registry())
    result = run(stack, durable, RAW_BUCKET=None)
    assert result.returncode == 1, result.describe()
    (backend,) = findings(result, "routing.backends")
    assert backend["code"] == "config_key_missing"
    assert backend["subject"] == (f"object_store at {SERVED} "
                                  f"(route `object_store-t_acme-prod-p_main`)")
    assert backend["message"] == "s3 needs config key `bucket` (or set RAW_BUCKET)"
    assert backend["effect"] == "first_use"
    assert result.status("routing.backends") == "warn"
    assert result.status("env.policy") == "fail"  # the contract wants RAW_BUCKET at start-up
    assert [s["code"] for s in result.check("env.policy")["details"]["stricter_than_engines"]
            ] == ["raw_bucket_required"]

    fixed = run(stack, durable, "--bucket", stack.bucket, RAW_BUCKET=stack.bucket)
    assert fixed.returncode == 0, fixed.describe()
    assert fixed.status("routing.backends") == "pass"


def test_every_request_time_kind_is_needed_at_each_serving_scope(
        stack: Stack, durable: dict[str, str]) -> None:
    stack.seed(seed.registry())
    result = run(stack, durable)
    assert result.returncode == 0, result.describe()  # first-use findings warn
    assert codes(result, "routing.serving") == {
        *(("route_missing", f"{kind} at {SERVED}") for kind in SERVING_KINDS),
        ("route_missing", "event_stream at t_system/dev")}
    assert result.status("routing.serving") == "warn"
    assert "the engines will start, and these requests will fail" in \
        findings(result, "routing.serving")[0]["consequence"]


def test_a_project_less_route_does_not_serve_a_project_scope(
        stack: Stack, durable: dict[str, str]) -> None:
    documents = serving_registry()
    del documents["notes_store-t_acme-prod-p_main"]
    documents["notes_store-t_acme-prod"] = seed.route("notes_store", "t_acme", "prod", None,
                                                      backend="firestore")
    stack.seed(documents)
    result = run(stack, durable)
    assert codes(result, "routing.serving") == {("route_missing", f"notes_store at {SERVED}")}


def test_an_invalid_request_time_route_fails_its_requests(
        stack: Stack, durable: dict[str, str]) -> None:
    documents = serving_registry()
    documents["flow_store-t_acme-prod-p_main"]["required"] = "perhaps"
    stack.seed(documents)
    result = run(stack, durable)
    (found,) = findings(result, "routing.serving")
    assert found["code"] == "route_invalid"
    assert "flow_store-t_acme-prod-p_main" in found["message"]


@pytest.mark.parametrize(("kind", "backend", "config", "env", "expected"), [
    ("object_store", "gcs", {"bucket": "b"}, {}, "gcs needs config key `project`"),
    ("object_store", "gcs", {"project": "p"}, {"GCS_BUCKET": None},
     "gcs needs config key `bucket` (or set GCS_BUCKET)"),
    ("object_store", "azure_blob", {}, {},
     "azure_blob needs config key `connection_string` (or set AZURE_STORAGE_CONNECTION_STRING)"),
    ("object_store", "filesystem", {"root": "/var"}, {},
     "filesystem works only for requests in mode lab; saas, enterprise requests fail"),
    ("notes_store", "filesystem", {}, {},
     "filesystem works only for requests in mode lab; saas, enterprise requests fail"),
    ("notes_store", "redis", {"host": "127.0.0.1"}, {},
     "backend_type 'redis' is not one the notes_store resolver accepts (firestore, dynamodb, "
     "cosmos, filesystem)"),
    ("notes_store", "cosmos", {"key": "a2V5"}, {},
     "cosmos takes `endpoint`, `key` from its config only when all are there, else all from "
     "AZURE_COSMOSDB_ENDPOINT and AZURE_COSMOSDB_KEY: the config lacks `endpoint`, and "
     "neither AZURE_COSMOSDB_ENDPOINT nor AZURE_COSMOSDB_KEY is set"),
    ("chat_store", "cosmos", {"database": "d", "endpoint": "https://127.0.0.1:8081"},
     {"AZURE_COSMOSDB_KEY": "k"}, "cosmos needs config key `key`"),
    ("event_spine", " Firestore", {}, {},
     "backend_type ' Firestore' has surrounding spaces, and the resolver compares it untrimmed"),
    ("config_store", "firestore", {}, {"GCP_PROJECT_ID": None, "GCP_PROJECT": "@project"}, None),
    ("strategy_policy_store", "dynamodb", {}, {}, None),
])
def test_backend_and_config_keys_per_route(
        stack: Stack, durable: dict[str, str], kind: str, backend: str,
        config: dict[str, Any], env: dict[str, str | None], expected: str | None) -> None:
    stack.seed(serving_registry(**{kind: (backend, config)}))
    env = {name: stack.project if value == "@project" else value for name, value in env.items()}
    # The judgment of the route, not its backend's answer (the probes' tests have that).
    result = run(stack, durable, "--no-probes", **env)
    messages = [f["message"] for f in findings(result, "routing.backends")]
    assert messages == ([] if expected is None else [expected]), result.describe()
    assert result.returncode == 0, result.describe()


def test_event_stream_is_looked_up_at_t_system_dev_whatever_the_serving_scopes(
        stack: Stack, durable: dict[str, str]) -> None:
    documents = serving_registry()
    documents["event_stream-t_system-dev"]["backend_type"] = "s3"
    stack.seed(documents)
    result = run(stack, durable)
    assert codes(result, "routing.backends") == {
        ("backend_unsupported", "event_stream at t_system/dev (route `event_stream-t_system-dev`)")}


@pytest.mark.parametrize(("env", "expected"), [
    ({"CHAT_BUS_BACKEND": None}, {"CHAT_BUS_BACKEND": "first_use"}),
    ({"REDIS_HOST": None}, {}),  # localhost: the probe tells whether a Redis answers
    ({"REDIS_PORT": "six"}, {"REDIS_PORT": "first_use"}),
    ({"REDIS_PORT": "70000"}, {"REDIS_PORT": "first_use"}),  # int() reads it; no socket can
    ({"MEMORY_BACKEND": "fs"}, {"MEMORY_DIR": "first_use"}),
    ({"MEMORY_BACKEND": "fs", "MEMORY_DIR": "/data/memory"}, {}),
    ({"MEMORY_BACKEND": None}, {"MEMORY_BACKEND": "first_use"}),
    ({"IDENTITY_BACKEND": "memory"}, {"IDENTITY_BACKEND": "first_use"}),
    ({"RATE_LIMIT_BACKEND": None}, {"RATE_LIMIT_BACKEND": "silent"}),
    ({"REALTIME_REGISTRY_BACKEND": "redis"}, {"REALTIME_REGISTRY_BACKEND": "silent"}),
    ({"ANALYTICS_EVENTS_BACKEND": ""}, {"ANALYTICS_EVENTS_BACKEND": "silent"}),
    ({"PAGE_CONTENT_BACKEND": None}, {}),  # read by nothing the app imports
    ({"SEO_BACKEND": None}, {}),  # the routed repository: durable, through seo_config_store
    ({"PRIVACY_BACKEND": None}, {"PRIVACY_BACKEND": "silent"}),
    ({"THREE_WISE_BACKEND": "memory"}, {"THREE_WISE_BACKEND": "silent"}),
    ({"KNOWLEDGE_BACKEND": "memory"}, {"KNOWLEDGE_BACKEND": "first_use"}),
    ({"KNOWLEDGE_BACKEND": None}, {}),  # files under the working folder
])
def test_backend_selecting_variables(stack: Stack, durable: dict[str, str],
                                     env: dict[str, str | None],
                                     expected: dict[str, str]) -> None:
    stack.seed(serving_registry())
    result = run(stack, durable, **env)
    assert result.returncode == 0, result.describe()
    found = {v["variable"]: v["effect"] for v in
             result.check("env.backends")["details"]["violations"]}
    assert found == expected
    assert result.status("env.backends") == ("warn" if expected else "pass")


@pytest.mark.parametrize(("env", "variable"), [
    ({"BUDGET_BACKEND": None}, "BUDGET_BACKEND"),
    ({"BUDGET_BACKEND": "memory"}, "BUDGET_BACKEND"),
    ({"BUDGET_POLICY_BACKEND": "firestore"}, "BUDGET_POLICY_BACKEND"),
])
def test_budget_variables_crash_the_engines_at_import(stack: Stack, durable: dict[str, str],
                                                     env: dict[str, str | None],
                                                     variable: str) -> None:
    stack.seed(serving_registry())
    result = run(stack, durable, **env)
    assert result.returncode == 1, result.describe()
    (violation,) = result.check("env.policy")["details"]["violations"]
    assert (violation["variable"], violation["effect"]) == (variable, "startup")
    assert "stricter_than_engines" not in result.check("env.policy")["details"]


def test_strict_makes_first_use_findings_block(stack: Stack, durable: dict[str, str]) -> None:
    stack.seed(serving_registry(notes_store=("redis", {})))
    result = run(stack, durable, "--strict")
    assert result.returncode == 1, result.describe()
    assert result.status("routing.backends") == "warn"


OPERATOR_PROFILE = """\
extends: engines
name: acme
# every first-use finding blocks this deployment
serving:
  severity: fail
# DynamoDB is not allowed in prod here
refused_backends:
  by_env:
    prod: [dynamodb]
kinds:
  # a kind the engines learned after the built-in profile was written
  ledger_store:
    at: serving
    backends:
      firestore:
        config:
          project: {stand_in: [GCP_PROJECT_ID, GCP_PROJECT]}
"""


def test_an_operator_profile_adds_a_kind_refuses_a_backend_and_blocks_first_use(
        stack: Stack, durable: dict[str, str], tmp_path: Path) -> None:
    profile = tmp_path / "acme.yaml"
    profile.write_text(OPERATOR_PROFILE, encoding="utf-8")
    stack.seed(serving_registry(notes_store=("dynamodb", {})))
    result = run(stack, durable, "--profile", str(profile))
    assert result.returncode == 1, result.describe()
    assert result.verdict is not None
    assert result.verdict["target"]["profile"] == "acme"
    assert codes(result, "routing.serving") == {("route_missing", f"ledger_store at {SERVED}")}
    assert result.status("routing.serving") == "fail"
    assert codes(result, "routing.backends") == {
        ("backend_refused", f"notes_store at {SERVED} (route `notes_store-t_acme-prod-p_main`)")}
    assert result.status("routing.backends") == "fail"
    stricter = result.check("routing.serving")["details"]["stricter_than_engines"]
    assert [item["code"] for item in stricter] == ["route_missing"]

    # The same registry under the built-in profile only warns (the DynamoDB table's probe
    # is the probes' tests' business).
    builtin = run(stack, durable, "--no-probes")
    assert builtin.returncode == 0, builtin.describe()


def test_explain_shows_where_a_profile_value_came_from(stack: Stack, tmp_path: Path) -> None:
    profile = tmp_path / "acme.yaml"
    profile.write_text(OPERATOR_PROFILE + "registry:\n  collection: routes\n"
                       "  database: (default)\n", encoding="utf-8")
    import json
    import subprocess

    result = subprocess.run(harness.preflight_argv("explain", "--format", "json",
                                                   "--profile", str(profile)),
                            env=stack.env(), capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    configuration = json.loads(result.stdout)["configuration"]
    assert configuration["collection"] == {"value": "routes", "source": "profile",
                                           "from": f"profile acme ({profile}:19)"}
    assert configuration["scopes"]["from"].startswith("profile acme (engines.yaml:")
    assert configuration["profile"] == {"value": "acme", "source": "flag",
                                        "from": "flag --profile"}


def test_probes_follow_the_routes_the_engines_would_build(stack: Stack,
                                                          durable: dict[str, str]) -> None:
    """backends.reachable probes the route the engines would take, named by its route; built
    in, what it finds warns (the engines start, the requests that need it fail)."""
    secret_bucket = "no-such-bucket-canary-e2e"
    stack.seed(serving_registry(object_store=("s3", {"bucket": secret_bucket})))
    result = run(stack, durable)
    assert result.returncode == 0, result.describe()
    check = result.check("backends.reachable")
    assert (check["status"], check["phase"]) == ("warn", "first_use")
    failing = [r for r in check["details"]["results"] if r["status"] == "fail"]
    assert [(r["kind"], r["origin"], r["backend"], r["severity"]) for r in failing] == [
        ("object_store", f"route `object_store-t_acme-prod-p_main` ({SERVED})", "s3", "warn")]
    assert "does not exist" in failing[0]["message"]
    assert "[the engines start, requests fail]" in check["message"]
    assert secret_bucket not in result.everything()  # config values never reach an output
    # one probe per endpoint: 13 tabular routes and event_stream share the engines' project
    assert check["details"]["probes"] < check["details"]["subjects"]
    # --strict makes first-use findings block: the same registry fails.
    strict = run(stack, durable, "--strict")
    assert strict.returncode == 1, strict.describe()
    assert strict.check("backends.reachable")["status"] == "fail"


def test_a_chat_bus_whose_redis_is_down_warns_and_the_engines_start(
        stack: Stack, durable: dict[str, str]) -> None:
    """An outage of a secondary backend must not keep every new pod from starting, nor hold
    it: built in, an unanswered probe is a warning at once (not retried until the deadline,
    not exit 3)."""
    stack.seed(serving_registry())
    result = run(stack, durable, "--timeout", "20", "--attempt-timeout", "1",
                 REDIS_PORT=str(harness.closed_port()))
    assert result.returncode == 0, result.describe()
    check = result.check("backends.reachable")
    assert (check["status"], check["attempts"]) == ("warn", 1), check
    assert "CHAT_BUS_BACKEND" in check["message"]
    assert "did not answer" in check["message"]
    assert result.wall < 20


def test_a_chat_bus_whose_redis_is_down_is_not_ready_under_strict(
        stack: Stack, durable: dict[str, str]) -> None:
    stack.seed(serving_registry())
    result = run(stack, durable, "--strict", "--timeout", "4", "--attempt-timeout", "1",
                 REDIS_PORT=str(harness.closed_port()))
    assert result.returncode == 3, result.describe()
    check = result.check("backends.reachable")
    assert (check["status"], check["transient"]) == ("error", True)
    result.assert_ended_by(4)


def test_a_profile_whose_first_use_fails_blocks_on_a_probe(
        stack: Stack, durable: dict[str, str], tmp_path: Path) -> None:
    """`serving.severity: fail` is the operator's way to make first use block, probes too."""
    profile = tmp_path / "blocking.yaml"
    profile.write_text("extends: engines\nname: blocking\n"
                       "serving:\n  severity: fail\n", encoding="utf-8")
    stack.seed(serving_registry(object_store=("s3", {"bucket": "no-such-bucket-here"})))
    result = run(stack, durable, "--profile", str(profile), "--no-color")
    check = result.check("backends.reachable")
    assert check["status"] == "fail", check
    assert result.returncode == 1, result.describe()


def test_no_probes_turns_the_deep_probes_off(stack: Stack, durable: dict[str, str]) -> None:
    stack.seed(serving_registry(object_store=("s3", {"bucket": "no-such-bucket-here"})))
    result = run(stack, durable, "--no-probes")
    assert result.returncode == 0, result.describe()
    assert result.check("backends.reachable")["status"] == "skipped"


# ------------------------------------------------------------------ issue 21's classes
# Each as the engines' real request-time code meets it (tests/first_use_oracle.py), end to
# end: what preflight reports, that --strict blocks only on a failure that really happens
# (every blocking finding's code is in the strictness table), and that no false block
# remains where the engines work.

COSMOS_KEY = "c2VjcmV0LWNvc21vcy1rZXk="  # base64; never printed


@pytest.mark.parametrize(("kind", "backend", "config", "env", "code", "said"), [
    # 1: each key has a value somewhere, but the engines take both from one place
    ("notes_store", "cosmos", {"endpoint": "https://127.0.0.1:1/"},
     {"AZURE_COSMOSDB_KEY": COSMOS_KEY}, "config_group_incomplete",
     "the config lacks `key`, and AZURE_COSMOSDB_ENDPOINT is unset"),
    # 4: the timeline's append refuses the sellable modes
    ("event_stream", "filesystem", {}, {}, "backend_mode_only",
     "filesystem works only for requests in mode lab; saas, enterprise requests fail"),
    # 7: the service calls the Azure and GCS adapters with the S3 adapter's arguments
    ("object_store", "azure_blob", {"connection_string": "UseDevelopmentStorage=true"}, {},
     "backend_unusable", "every request raises TypeError"),
    ("object_store", "gcs", {"project": "p", "bucket": "b"}, {}, "backend_unusable",
     "cannot serve a request at the engines' commit 012ac5d"),
    # DynamoDB: botocore refuses a region that is not a host label before any call
    ("chat_store", "dynamodb", {"region": "eu west 1"}, {}, "config_value_invalid",
     "dynamodb's region (`region` in its config) is not a region name"),
    # the timeline ignores its route's config: the project comes from the variables only
    ("event_stream", "firestore", {"project": "p"}, {"GCP_PROJECT_ID": None},
     "variable_missing", "firestore needs GCP_PROJECT_ID or GCP_PROJECT set"),
])
def test_first_use_failures_the_engines_really_have(
        stack: Stack, durable: dict[str, str], kind: str, backend: str,
        config: dict[str, Any], env: dict[str, str | None], code: str, said: str) -> None:
    documents = serving_registry(**{kind: (backend, config)}) if kind != "event_stream" \
        else serving_registry()
    if kind == "event_stream":
        documents["event_stream-t_system-dev"].update(backend_type=backend, config=config)
    stack.seed(documents)
    extra = ("--project", stack.project) if env.get("GCP_PROJECT_ID", "") is None else ()
    result = run(stack, durable, *extra, **env)
    found = [f for f in findings(result, "routing.backends") if f["code"] == code]
    assert len(found) == 1, result.describe()
    assert said in found[0]["message"]
    assert (found[0]["effect"], found[0]["outcome"]) == ("first_use", "warn")
    assert result.status("routing.backends") == "warn"
    assert COSMOS_KEY not in result.everything()
    # --strict blocks on it, and its code is a row of docs/STRICTNESS.md's table
    assert code in strictness.CODES
    strict = run(stack, durable, "--strict", *extra, **env)
    assert strict.returncode == 1, strict.describe()
    assert code in [f["code"] for f in findings(strict, "routing.backends")]


def test_an_env_the_engines_do_not_serve_fails_raw_storage(stack: Stack,
                                                           durable: dict[str, str]) -> None:
    scope = "t_acme/qa/p_main"
    stack.seed(serving_registry(scope))
    result = stack.run("--serve-scope", scope, env=stack.env(**durable))
    (found,) = [f for f in findings(result, "routing.backends") if f["code"] == "env_not_served"]
    assert found["subject"].startswith(f"object_store at {scope}")
    assert "refuses every request in env 'qa'" in found["message"]


@pytest.mark.parametrize("env", [
    {"REDIS_HOST": None},  # 2: the engines build the bus on localhost, where a Redis answers
    {"SEO_BACKEND": None},  # 3: the routed SEO repository is durable
    {"PAGE_CONTENT_BACKEND": "memory"},  # read by no code the app imports
    {"KNOWLEDGE_BACKEND": None},  # files under the working folder
])
def test_no_false_block_where_the_engines_work(stack: Stack, durable: dict[str, str],
                                               env: dict[str, str | None]) -> None:
    stack.seed(serving_registry())
    result = run(stack, durable, "--strict", **env)
    assert result.returncode == 0, result.describe()
    assert result.status("env.backends") == "pass"
    assert result.status("backends.reachable") == "pass"  # the Redis on localhost answered


def test_variables_read_once_at_import_say_every_request(stack: Stack,
                                                         durable: dict[str, str]) -> None:
    stack.seed(serving_registry())
    result = run(stack, durable, RATE_LIMIT_BACKEND=None, REALTIME_REGISTRY_BACKEND="firestore ")
    messages = {v["variable"]: v["message"] for v in
                result.check("env.backends")["details"]["violations"]}
    assert set(messages) == {"RATE_LIMIT_BACKEND", "REALTIME_REGISTRY_BACKEND"}
    for message in messages.values():
        assert "from start, every request uses memory, silently" in message
        assert "first use" not in message


def test_firestore_backends_without_a_project(stack: Stack, durable: dict[str, str]) -> None:
    """MEMORY_BACKEND and IDENTITY_BACKEND raise without a project; the silent ones fall back
    to memory; either way env.backends says which variable is missing."""
    stack.seed(serving_registry())
    result = run(stack, durable, "--project", stack.project, GCP_PROJECT_ID=None)
    effects = {v["variable"]: v["effect"] for v in
               result.check("env.backends")["details"]["violations"]}
    assert effects == {"MEMORY_BACKEND": "first_use", "IDENTITY_BACKEND": "first_use",
                       "RATE_LIMIT_BACKEND": "silent", "REALTIME_REGISTRY_BACKEND": "silent",
                       "ANALYTICS_EVENTS_BACKEND": "silent", "PRIVACY_BACKEND": "silent",
                       "THREE_WISE_BACKEND": "silent"}
    assert result.status("env.policy") == "fail"  # the registry needs the project at start-up
