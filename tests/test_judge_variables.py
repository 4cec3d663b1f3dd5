"""env.policy and env.backends against the engines' own reading of each variable.

`engines_effects` is an oracle written from the engines' code (ENGINES.md §1 and §5 cite
the lines): it reads the environment exactly as they do — os.getenv with their defaults,
`or` where they use it (so an empty value falls through), lower-cased where they
lower-case, never trimmed — and says what happens: a start-up crash, a failure at first
use, a silent fall-back to memory, or a start the real-infra contract forbids. The built-in
profile, judged by preflight, must say the same thing for every environment Hypothesis
makes up.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.contract.profile import load
from preflight.core.result import Status
from preflight.judge.variables import judge_backend_variables, judge_environment

PROFILE = load("engines")
Env = Mapping[str, str | None]

STARTUP, FIRST_USE, SILENT, CONTRACT = "startup", "first_use", "silent", "contract"


def getenv(env: Env, name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    return default if value is None else value


def engines_effects(env: Env) -> dict[str, str]:
    """Variable -> what the engines do about it; variables they are fine with are absent."""
    effects: dict[str, str] = {}
    registry = (getenv(env, "ROUTING_REGISTRY_BACKEND", "filesystem") or "").lower()
    if registry == "filesystem":
        effects["ROUTING_REGISTRY_BACKEND"] = CONTRACT  # they start; the contract says firestore
    elif registry != "firestore":
        effects["ROUTING_REGISTRY_BACKEND"] = STARTUP  # memory: an empty registry fails start-up
    flags = (getenv(env, "FEATURE_FLAGS_BACKEND", "") or "").lower()
    budget = (getenv(env, "BUDGET_BACKEND", "") or "").lower()
    project = getenv(env, "GCP_PROJECT_ID") or getenv(env, "GCP_PROJECT")
    if not project:
        firestore_needed = registry == "firestore" or flags in ("firestore", "") \
            or budget == "firestore"
        effects["GCP_PROJECT_ID"] = STARTUP if firestore_needed else CONTRACT
    elif project != project.strip():
        effects["GCP_PROJECT_ID"] = CONTRACT  # preflight checks the trimmed name
    bucket = getenv(env, "RAW_BUCKET")
    if not bucket or bucket != bucket.strip():
        effects["RAW_BUCKET"] = CONTRACT  # read at first use; the contract wants it up front
    nexus = (getenv(env, "NEXUS_BACKEND") or "").lower() or None
    if (nexus or "firestore") not in ("firestore", "bigquery", "bq"):
        effects["NEXUS_BACKEND"] = FIRST_USE
    if flags in ("memory", "in_memory"):
        effects["FEATURE_FLAGS_BACKEND"] = CONTRACT
    elif flags not in ("firestore", ""):
        effects["FEATURE_FLAGS_BACKEND"] = STARTUP
    if budget not in ("firestore", "filesystem"):
        effects["BUDGET_BACKEND"] = STARTUP
    if (getenv(env, "BUDGET_POLICY_BACKEND", "filesystem") or "").lower() not in (
            "filesystem", "inmemory"):
        effects["BUDGET_POLICY_BACKEND"] = STARTUP

    bus = (getenv(env, "CHAT_BUS_BACKEND", "memory") or "").lower()
    if bus == "redis":  # REDIS_HOST unset: localhost, no error (a probe tells the rest)
        try:
            port = int(getenv(env, "REDIS_PORT", "6379") or "")
        except ValueError:
            port = 0
        if not 0 < port < 65536:  # int() reads 0 or 70000, but no socket connects there
            effects["REDIS_PORT"] = FIRST_USE
    else:
        effects["CHAT_BUS_BACKEND"] = FIRST_USE
    memory = (getenv(env, "MEMORY_BACKEND", "") or "").lower()
    if memory in ("filesystem", "fs"):
        if not getenv(env, "MEMORY_DIR"):
            effects["MEMORY_DIR"] = FIRST_USE
    elif memory != "firestore" or not project:
        effects["MEMORY_BACKEND"] = FIRST_USE
    if (getenv(env, "IDENTITY_BACKEND", "") or "").lower() != "firestore" or not project:
        effects["IDENTITY_BACKEND"] = FIRST_USE
    # firestore, or (also for firestore without a project) memory, silently
    for name in ("RATE_LIMIT_BACKEND", "REALTIME_REGISTRY_BACKEND", "ANALYTICS_EVENTS_BACKEND",
                 "PRIVACY_BACKEND", "THREE_WISE_BACKEND"):
        if (getenv(env, name) or "").lower() != "firestore" or not project:
            effects[name] = SILENT
    if (getenv(env, "KNOWLEDGE_BACKEND") or "filesystem").lower() not in (
            "firestore", "filesystem", "fs"):
        effects["KNOWLEDGE_BACKEND"] = FIRST_USE
    # PAGE_CONTENT_BACKEND: read by nothing the app imports; SEO_BACKEND: a durable fall-back
    return effects


def preflight_effects(env: Env) -> dict[str, str]:
    found: dict[str, str] = {}
    for outcome in (judge_environment(PROFILE, env), judge_backend_variables(PROFILE, env)):
        for violation in outcome.details["violations"]:
            assert violation["variable"] not in found, violation
            found[violation["variable"]] = violation["effect"]
    return found


VALUES = [None, "", "firestore", "Firestore", " firestore", "firestore ", "FIRESTORE",
          "memory", "Memory", "in_memory", "in-memory", "inmemory", "noop", "bq", "BigQuery",
          "filesystem", "fs", "redis", "REDIS", "bogus", "6379", " 6379", "63x9", "0",
          "70000", "-1", "/var/lib/engines", "p-project"]
VARIABLES = ("ROUTING_REGISTRY_BACKEND", "GCP_PROJECT_ID", "GCP_PROJECT", "RAW_BUCKET",
             "NEXUS_BACKEND", "FEATURE_FLAGS_BACKEND", "BUDGET_BACKEND", "BUDGET_POLICY_BACKEND",
             "CHAT_BUS_BACKEND", "REDIS_HOST", "REDIS_PORT", "MEMORY_BACKEND", "MEMORY_DIR",
             "IDENTITY_BACKEND", "RATE_LIMIT_BACKEND", "REALTIME_REGISTRY_BACKEND",
             "ANALYTICS_EVENTS_BACKEND", "PAGE_CONTENT_BACKEND", "SEO_BACKEND",
             "PRIVACY_BACKEND", "THREE_WISE_BACKEND", "KNOWLEDGE_BACKEND")
environments = st.fixed_dictionaries({name: st.sampled_from(VALUES) for name in VARIABLES})


@settings(max_examples=3000, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(environments)
def test_every_environment_is_judged_as_the_engines_read_it(env: Env) -> None:
    assert preflight_effects(env) == engines_effects(env)


HEALTHY = {"ROUTING_REGISTRY_BACKEND": "firestore", "GCP_PROJECT_ID": "p", "RAW_BUCKET": "raw",
           "BUDGET_BACKEND": "filesystem"}


def effects(**changes: str | None) -> dict[str, str]:
    env = {**HEALTHY, **changes}
    return {name: effect for name, effect in preflight_effects(env).items()
            if name in env_policy_variables()}


def env_policy_variables() -> set[str]:
    return set(PROFILE.environment)


def test_the_healthy_start_up_environment_passes() -> None:
    assert judge_environment(PROFILE, HEALTHY).status is Status.PASS


@pytest.mark.parametrize(("changes", "expected"), [
    # empty means unset where the engines use `or` or test truthiness (ENGINES.md §1)
    ({"NEXUS_BACKEND": ""}, {}),
    ({"FEATURE_FLAGS_BACKEND": ""}, {}),
    ({"GCP_PROJECT_ID": "", "GCP_PROJECT": "other"}, {}),
    ({"GCP_PROJECT_ID": None, "GCP_PROJECT": "other"}, {}),
    ({"GCP_PROJECT_ID": "", "GCP_PROJECT": ""}, {"GCP_PROJECT_ID": STARTUP}),
    # lower-cased, never trimmed
    ({"ROUTING_REGISTRY_BACKEND": "FireStore"}, {}),
    ({"ROUTING_REGISTRY_BACKEND": " firestore"}, {"ROUTING_REGISTRY_BACKEND": STARTUP}),
    ({"ROUTING_REGISTRY_BACKEND": None}, {"ROUTING_REGISTRY_BACKEND": CONTRACT}),
    ({"ROUTING_REGISTRY_BACKEND": ""}, {"ROUTING_REGISTRY_BACKEND": STARTUP}),
    ({"ROUTING_REGISTRY_BACKEND": "memory"}, {"ROUTING_REGISTRY_BACKEND": STARTUP}),
    ({"ROUTING_REGISTRY_BACKEND": "filesystem", "FEATURE_FLAGS_BACKEND": "memory",
      "GCP_PROJECT_ID": None}, {"ROUTING_REGISTRY_BACKEND": CONTRACT,
                                "FEATURE_FLAGS_BACKEND": CONTRACT, "GCP_PROJECT_ID": CONTRACT}),
    ({"ROUTING_REGISTRY_BACKEND": "filesystem", "GCP_PROJECT_ID": None},
     {"ROUTING_REGISTRY_BACKEND": CONTRACT, "GCP_PROJECT_ID": STARTUP}),
    ({"GCP_PROJECT_ID": " p"}, {"GCP_PROJECT_ID": CONTRACT}),
    ({"GCP_PROJECT_ID": "", "GCP_PROJECT": "p\n"}, {"GCP_PROJECT_ID": CONTRACT}),
    ({"RAW_BUCKET": "raw "}, {"RAW_BUCKET": CONTRACT}),
    ({"NEXUS_BACKEND": "noop"}, {"NEXUS_BACKEND": FIRST_USE}),
    ({"FEATURE_FLAGS_BACKEND": "in_memory"}, {"FEATURE_FLAGS_BACKEND": CONTRACT}),
    ({"FEATURE_FLAGS_BACKEND": "launchdarkly"}, {"FEATURE_FLAGS_BACKEND": STARTUP}),
    ({"RAW_BUCKET": ""}, {"RAW_BUCKET": CONTRACT}),
    ({"BUDGET_BACKEND": None}, {"BUDGET_BACKEND": STARTUP}),
    ({"BUDGET_BACKEND": "Firestore"}, {}),
    ({"BUDGET_POLICY_BACKEND": ""}, {"BUDGET_POLICY_BACKEND": STARTUP}),
    ({"BUDGET_POLICY_BACKEND": "inmemory"}, {}),
])
def test_start_up_rules(changes: dict[str, str | None], expected: dict[str, str]) -> None:
    assert effects(**changes) == expected


def test_stricter_rules_carry_their_code_and_reason() -> None:
    outcome = judge_environment(PROFILE, {**HEALTHY, "ROUTING_REGISTRY_BACKEND": None,
                                         "RAW_BUCKET": None, "NEXUS_BACKEND": "noop",
                                         "FEATURE_FLAGS_BACKEND": "memory"})
    stricter = {item["code"] for item in outcome.details["stricter_than_engines"]}
    assert stricter == {"routing_registry_not_firestore", "raw_bucket_required",
                        "nexus_backend_refused", "feature_flags_memory"}
    assert outcome.status is Status.FAIL


def test_an_engines_crash_is_not_listed_as_stricter() -> None:
    outcome = judge_environment(PROFILE, {**HEALTHY, "BUDGET_BACKEND": "memory"})
    assert outcome.status is Status.FAIL
    assert "stricter_than_engines" not in outcome.details
    assert "the engines will not start" in outcome.message


def test_backend_variables_warn_by_default() -> None:
    outcome = judge_backend_variables(PROFILE, {})
    assert outcome.status is Status.WARN
    assert "stricter_than_engines" not in outcome.details


def test_a_durable_set_of_backend_variables_passes() -> None:
    env = {"CHAT_BUS_BACKEND": "redis", "REDIS_PORT": "6380", "GCP_PROJECT_ID": "p",
           "MEMORY_BACKEND": "firestore", "IDENTITY_BACKEND": "firestore",
           **{name: "firestore" for name in ("RATE_LIMIT_BACKEND", "REALTIME_REGISTRY_BACKEND",
                                             "ANALYTICS_EVENTS_BACKEND", "PRIVACY_BACKEND",
                                             "THREE_WISE_BACKEND")}}
    assert judge_backend_variables(PROFILE, env).status is Status.PASS


@pytest.mark.parametrize(("variable", "said"), [
    ("RATE_LIMIT_BACKEND", "from start, every request uses memory, silently (the engines "
     "read it once, at import)"),
    ("THREE_WISE_BACKEND", "from start, every request uses memory"),
    ("ANALYTICS_EVENTS_BACKEND", "the engines fall back to memory silently"),
])
def test_a_variable_read_once_at_import_says_every_request(variable: str, said: str) -> None:
    (found,) = [v for v in judge_backend_variables(PROFILE, {})
                .details["violations"] if v["variable"] == variable]
    assert (found["effect"], found["code"]) == ("silent", PROFILE.backend_variables[
        variable].code)
    assert said in found["message"]
    assert "at first use" not in found["message"]


@pytest.mark.parametrize(("variable", "effect"), [
    ("MEMORY_BACKEND", "first_use"), ("IDENTITY_BACKEND", "first_use"),
    ("RATE_LIMIT_BACKEND", "silent"), ("PRIVACY_BACKEND", "silent"),
])
def test_firestore_without_a_project(variable: str, effect: str) -> None:
    outcome = judge_backend_variables(PROFILE, {variable: "firestore", "GCP_PROJECT_ID": ""})
    (found,) = [v for v in outcome.details["violations"] if v["variable"] == variable]
    assert found["effect"] == effect
    assert "neither GCP_PROJECT_ID nor GCP_PROJECT is set" in found["message"]
    fine = judge_backend_variables(PROFILE, {variable: "firestore", "GCP_PROJECT": "p"})
    assert variable not in {v["variable"] for v in fine.details["violations"]}


@pytest.mark.parametrize("environ", [{"CHAT_BUS_BACKEND": "redis"},
                                     {"CHAT_BUS_BACKEND": "redis", "REDIS_HOST": ""}])
def test_redis_host_unset_or_empty_is_not_a_finding(environ: dict[str, str]) -> None:
    """The engines build the bus on localhost (or the empty host) without an error; whether a
    Redis answers there is the probe's to say."""
    outcome = judge_backend_variables(PROFILE, environ)
    assert not [v for v in outcome.details["violations"]
                if v["variable"] in ("REDIS_HOST", "CHAT_BUS_BACKEND")]


def test_values_that_are_not_backend_names_are_never_echoed() -> None:
    env = {"CHAT_BUS_BACKEND": "redis", "REDIS_PORT": "CANARY-port",
           "MEMORY_BACKEND": "fs", "MEMORY_DIR": ""}
    outcome = judge_backend_variables(PROFILE, env)
    assert "CANARY" not in repr(outcome)
    port = next(v for v in outcome.details["violations"] if v["variable"] == "REDIS_PORT")
    assert port["value"] is None


def test_url_credentials_in_a_backend_name_are_not_shown() -> None:
    outcome = judge_environment(PROFILE, {**HEALTHY,
                                         "NEXUS_BACKEND": "redis://user:CANARY-pw@host"})
    assert "CANARY-pw" not in repr(outcome)


def test_every_finding_has_a_fix_and_a_consequence() -> None:
    for outcome in (judge_environment(PROFILE, {}), judge_backend_variables(PROFILE, {})):
        for violation in outcome.details["violations"]:
            assert violation["fix"]
            assert violation["consequence"]


def test_whitespace_the_engines_keep_is_named_with_its_own_code() -> None:
    outcome = judge_environment(PROFILE, {**HEALTHY, "GCP_PROJECT_ID": "", "GCP_PROJECT": " p"})
    (violation,) = outcome.details["violations"]
    assert (violation["code"], violation["read_from"]) == ("value_untrimmed", "GCP_PROJECT")
    assert [s["code"] for s in outcome.details["stricter_than_engines"]] == ["value_untrimmed"]


def test_every_stricter_code_of_the_built_in_profile_is_in_the_readme_table() -> None:
    from preflight.core import strictness

    for rule in PROFILE.environment.values():
        assert rule.code in strictness.CODES or (
            rule.allowed is None and not rule.required and rule.reads == "startup"
            and not rule.silent), f"{rule.code} can be stricter than the engines"
