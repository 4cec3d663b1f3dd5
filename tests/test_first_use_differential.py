"""preflight's first-use findings against the independent first-use oracle, on generated
(registry x environment) states.

For every state Hypothesis makes up (routes at one or two serving scopes and at the
timeline's fixed scope, with duplicates, invalid documents, project-less near misses,
odd backend types and config values, and an environment of every variable §5 names), the
pure judges behind routing.serving, routing.backends, env.backends and env.policy's
first-use rule must name exactly the lookups and variables whose first use the oracle
(tests/first_use_oracle.py, written from docs/ENGINES.md §5) says fails, each with the
oracle's class; every other finding carries a code of the strictness table. Seeded and
bounded: no network, well under a minute.

The client libraries are taken as installed: an init container cannot see the engines'
image, so "azure-cosmos is missing" is `preflight exec`'s finding, not these judges'.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.config import Config, Raw, Source
from preflight.contract.profile import env_variables, load
from preflight.contract.route_model import RouteDoc
from preflight.core import strictness
from preflight.core.findings import Effect, Finding
from preflight.core.scope import Scope
from preflight.judge import reachable, route_backends, serving
from preflight.judge import variables as judge_variables
from tests import first_use_oracle as oracle
from tests.configs import config_of
from tests.first_use_oracle import Reason

PROFILE = load("engines")
STATES = int(os.environ.get("FIRST_USE_STATES", "2000"))

# Which oracle class each first-use finding of the route judges claims.
CLASS_OF = {
    "route_missing": Reason.NO_ROUTE,
    "route_invalid": Reason.INVALID_ROUTE,
    "backend_unsupported": Reason.UNSUPPORTED_BACKEND,
    "backend_mode_only": Reason.MODE_ONLY,
    "config_key_missing": Reason.MISSING_CONFIG,
    "variable_missing": Reason.MISSING_CONFIG,
    "config_group_incomplete": Reason.COSMOS_CREDENTIALS_INCOMPLETE,
    "config_value_invalid": Reason.INVALID_CONFIG,
    "env_not_served": Reason.ENV_NOT_SERVED,
    "backend_unusable": Reason.BACKEND_UNUSABLE_AT_THIS_VERSION,
}
# Variables the oracle names as the one that decides, reported by preflight on themselves.
NEEDED_VARIABLES = ("REDIS_PORT", "MEMORY_DIR")

SCOPES = (Scope("t_acme", "prod", "p_main"), Scope("t_beta", "qa", "p_x"),
          Scope("t_acme", "dev", "p_two"))
BLOB = ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;"
        "EndpointSuffix=core.windows.net")
ENDPOINT = "https://acct.documents.azure.com:443/"
KEY = "a2V5a2V5a2V5"

BACKENDS = {
    "object_store": ("s3", "S3", "gcs", "azure_blob", "filesystem", "memory", "", " s3",
                     "firestore"),
    "tabular": ("firestore", "FireStore", "dynamodb", "cosmos", "Cosmos", "filesystem",
                "memory", "redis", "firestore "),
    "spine": ("firestore", "dynamodb", "cosmos", "filesystem", "redis", "DynamoDB"),
    "event_stream": ("firestore", "filesystem", "s3", "memory", "Firestore"),
}
# Config keys each kind's resolvers read, with the values tried for each (ABSENT: no key).
ABSENT = object()
CONFIG_VALUES: dict[str, tuple[Any, ...]] = {
    "bucket": (ABSENT, "raw-b", "", 0), "project": (ABSENT, "p", "", False),
    "connection_string": (ABSENT, BLOB, ""), "container": (ABSENT, "c"),
    "table_name": (ABSENT, "tbl", "", 0),  # botocore's name rules: the probe tests
    "region": (ABSENT, "eu-west-1", "", "bad region", "123", None, 0, False),
    "endpoint": (ABSENT, ENDPOINT, "", False), "key": (ABSENT, KEY, "", "not base64!", "k", None),
    "database": (ABSENT, "d"),
}
KEYS = {"object_store": ("bucket", "project", "connection_string", "container"),
        "tabular": ("project", "table_name", "region", "endpoint", "key", "database"),
        "spine": ("project", "table_name", "region", "endpoint", "key", "database"),
        "event_stream": ("project",)}
# What can go wrong with a document besides its backend and config.
DAMAGE = ("none",) * 12 + ("invalid", "no_project", "null_project")
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "GCP_PROJECT_ID": ("", "proj"), "GCP_PROJECT": ("", "proj2"),
    "RAW_BUCKET": ("", "raw"), "GCS_BUCKET": ("", "gb"),
    "AZURE_STORAGE_CONNECTION_STRING": ("", BLOB),
    "AZURE_COSMOSDB_ENDPOINT": ("", ENDPOINT), "AZURE_COSMOSDB_KEY": ("", KEY, "not base64!"),
    "CHAT_BUS_BACKEND": ("", "redis", "REDIS", "memory", "kafka"),
    "REDIS_HOST": ("", "127.0.0.1"), "REDIS_PORT": ("", "6380", "six", " 6380 ", "0", "70000"),
    "MEMORY_BACKEND": ("", "firestore", "fs", "filesystem", "memory"),
    "MEMORY_DIR": ("", "/data"),
    "KNOWLEDGE_BACKEND": ("", "fs", "firestore", "memory", "firestore "),
    "NEXUS_BACKEND": ("", "firestore", "bq", "BigQuery", "noop", "memory"),
    "SEO_BACKEND": ("memory", "firestore"), "PAGE_CONTENT_BACKEND": ("memory", "firestore"),
    **{name: ("", "firestore", "Firestore", "memory", "firestore ") for name in (
        "IDENTITY_BACKEND", "RATE_LIMIT_BACKEND", "REALTIME_REGISTRY_BACKEND",
        "ANALYTICS_EVENTS_BACKEND", "PRIVACY_BACKEND", "THREE_WISE_BACKEND")},
}


def _group(kind: str) -> str:
    if kind in oracle.TABULAR_KINDS:
        return "tabular"
    return "spine" if kind in oracle.SPINE_KINDS else kind


def _configs(group: str) -> list[dict[str, Any]]:
    """Every config a document of this group may have: one draw, however many keys."""
    return [{key: value for key, value in zip(KEYS[group], values, strict=True)
             if value is not ABSENT}
            for values in itertools.product(*(CONFIG_VALUES[key] for key in KEYS[group]))]


# Strategies built once: sampled_from labels itself by hashing every element it holds.
DRAW_BACKEND = {group: st.sampled_from(backends) for group, backends in BACKENDS.items()}
DRAW_CONFIG = {group: st.sampled_from(_configs(group)) for group in BACKENDS}
DRAW_DAMAGE = st.sampled_from(DAMAGE)
DRAW_COUNT = st.sampled_from((0, 1, 1, 1, 1, 1, 2))
DRAW_SUFFIX = st.sampled_from("abcdef")
DRAW_VARIABLE = {name: st.sampled_from((None, *values)) for name, values in ENVIRONMENT.items()}


@st.composite
def documents_for(draw: st.DrawFn, kind: str, scope: Scope | oracle.Scope,
                  ) -> dict[str, dict[str, Any]]:
    """0, 1 or 2 documents answering one lookup; some invalid, some missing project_id."""
    found = {}
    group = _group(kind)
    for _ in range(draw(DRAW_COUNT)):
        backend, config = draw(DRAW_BACKEND[group]), draw(DRAW_CONFIG[group])
        damage = draw(DRAW_DAMAGE)
        doc_id = f"{kind}-{scope.tenant}-{scope.env}-{draw(DRAW_SUFFIX)}"
        document: dict[str, Any] = {
            "id": doc_id, "resource_kind": kind, "tenant_id": scope.tenant, "env": scope.env,
            "project_id": scope.project, "backend_type": backend, "config": dict(config)}
        if damage == "invalid":
            document["tier"] = None  # null refused: the engines' model raises
        elif damage == "no_project":
            del document["project_id"]  # found only by a project-less lookup with a null
        elif damage == "null_project" and scope.project is not None:
            document["project_id"] = None
        found[doc_id] = document
    return found


@st.composite
def states(draw: st.DrawFn) -> tuple[tuple[Scope, ...], dict[str, dict[str, Any]],
                                     dict[str, str], str | None]:
    scopes = tuple(draw(st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2,
                                 unique=True)))
    documents: dict[str, dict[str, Any]] = {}
    for scope in scopes:
        for kind in oracle.SERVING_KINDS:
            documents.update(draw(documents_for(kind, scope)))
    documents.update(draw(documents_for("event_stream", oracle.TIMELINE_SCOPE)))
    environ = {name: value for name, values in DRAW_VARIABLE.items()
               if (value := draw(values)) is not None}
    disallow = draw(st.sampled_from((None,) * 5 + ("dynamodb",)))
    return scopes, documents, environ, disallow


def configure(scopes: tuple[Scope, ...], environ: Mapping[str, str],
              disallow: str | None) -> Config:
    """The Config the CLI builds for --serve-scope (and --disallow), from this environment:
    built once per scopes and option, its snapshot of the environment taken as `build`
    takes it (test_the_environment_snapshot_is_builds)."""
    return dataclasses.replace(_configured(scopes, disallow), engines_env={
        name: environ.get(name) for name in env_variables(PROFILE)})


@functools.cache
def _configured(scopes: tuple[Scope, ...], disallow: str | None) -> Config:
    return _build(scopes, {}, disallow)


def _build(scopes: tuple[Scope, ...], environ: Mapping[str, str],
           disallow: str | None) -> Config:
    values = {"serving_scopes": Raw(",".join(scope.label for scope in scopes), Source.FLAG,
                                    "--serve-scope")}
    if disallow:
        values["disallow"] = Raw(disallow, Source.FLAG, "--disallow")
    return config_of(values, environ)


def found_by(document: Mapping[str, Any], scope: Scope) -> bool:
    """The registry read's query: field equality, a null project matching a present null."""
    if document.get("tenant_id") != scope.tenant or document.get("env") != scope.env:
        return False
    if scope.project is None:
        return "project_id" in document and document["project_id"] is None
    return document.get("project_id") == scope.project


def registry_read(config: Config, documents: Mapping[str, Mapping[str, Any]],
                  ) -> dict[Scope, list[RouteDoc]]:
    return {scope: [RouteDoc(doc_id, dict(doc)) for doc_id, doc in sorted(documents.items())
                    if found_by(doc, scope)] for scope in config.request_time_scopes()}


def route_findings(config: Config, docs: Mapping[Scope, list[RouteDoc]],
                   ) -> Iterator[tuple[tuple[str, str], Finding | dict[str, Any]]]:
    """(kind, scope label) -> each finding of routing.serving and routing.backends."""
    outcome = serving.judge(PROFILE, config.request_time_scopes(), docs,
                            len(config.serving_scopes))
    for item in outcome.details.get("findings", ()):
        yield (item["kind"], item["scope"]), item
    outcome = route_backends.judge(config, docs)
    for item in outcome.details.get("findings", ()):
        yield (item["kind"], item["scope"]), item


def variable_findings(config: Config) -> dict[str, list[Finding]]:
    """Each backend-selecting variable (and NEXUS_BACKEND) -> env.backends' findings on it,
    including those on the variables it needs (REDIS_PORT, MEMORY_DIR)."""
    environ = config.engines_env
    rules = PROFILE.backend_variables
    needed = {name for rule in rules.values() for names in (rule.needs or {}).values()
              for name in names}
    found = {name: judge_variables.judge_rule(rule, rules, environ, "warn")
             for name, rule in rules.items() if name not in needed}
    nexus = PROFILE.environment["NEXUS_BACKEND"]
    found["NEXUS_BACKEND"] = judge_variables.judge_rule(nexus, PROFILE.environment, environ,
                                                        "fail")
    return found


STATS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if STATS["states"]:
        print("\nfirst-use differential:", ", ".join(f"{k}={v}" for k, v in sorted(
            STATS.items())))


@settings(max_examples=STATES, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(states())
def test_first_use_findings_equal_the_oracles_failures(
        state: tuple[tuple[Scope, ...], dict[str, dict[str, Any]], dict[str, str], str | None],
) -> None:
    scopes, documents, environ, disallow = state
    config = configure(scopes, environ, disallow)
    served = [oracle.Scope(scope.tenant, scope.env, scope.project) for scope in scopes]
    outcomes = oracle.first_use(documents, environ, served, PROFILE.serving_modes,
                                oracle.EVERY_CLIENT)
    STATS["states"] += 1

    claimed: dict[tuple[str, str], set[Reason]] = {}
    for where, item in route_findings(config, registry_read(config, documents)):
        code, effect = (item["code"], item["effect"]) if isinstance(item, dict) else (
            item.code, item.effect.value)
        if effect == Effect.CONTRACT:
            assert code in strictness.CODES, f"{code}: a stricter finding without a code"
            STATS["contract findings"] += 1
            continue
        assert effect == Effect.FIRST_USE, item
        claimed.setdefault(where, set()).add(CLASS_OF[code])
    for outcome in outcomes:
        if outcome.scope is None:
            continue
        scope = outcome.scope
        where = (outcome.subject, Scope(scope.tenant, scope.env, scope.project).label)
        said = claimed.pop(where, set())
        STATS["lookups"] += 1
        if outcome.reason is None:
            assert not said, f"{where}: preflight says {said}, the engines do not fail " \
                f"({outcome.note or 'decided at the network'})"
            STATS["lookups passing"] += 1
        else:
            assert outcome.reason in said, f"{where}: the engines fail ({outcome.reason}, " \
                f"{outcome.key}); preflight says {said or 'nothing'}"
            STATS[f"lookup {outcome.reason.value}"] += 1
    assert not claimed, f"findings for lookups the engines do not make: {claimed}"
    # The probes build each route the judges passed as the engines would: one the judges
    # passed but the probe cannot build is a disagreement (a block the judges don't explain).
    docs = registry_read(config, documents)
    planned = reachable.plan(reachable.probe_subjects(config, docs), environ)
    assert not planned.unbuildable, [(subject.origin, found.message)
                                     for subject, found in planned.unbuildable]

    findings = variable_findings(config)
    for outcome in outcomes:
        if outcome.scope is not None:
            continue
        reported = findings.pop(outcome.subject, [])
        for finding in reported:
            if finding.effect is Effect.CONTRACT:
                assert finding.code in strictness.CODES, finding
        reported = [f for f in reported if f.effect is not Effect.CONTRACT]
        STATS["variables"] += 1
        if outcome.reason is None:
            assert not reported, f"{outcome.subject}: preflight says " \
                f"{[f.message for f in reported]}; the engines do not fail ({outcome.note})"
            continue
        STATS[f"variable {outcome.reason.value}"] += 1
        expected = outcome.key if outcome.key in NEEDED_VARIABLES else outcome.subject
        silent = outcome.reason is Reason.SILENT_MEMORY_FALLBACK
        assert [(f.subject, f.effect) for f in reported] == [
            (expected, Effect.SILENT if silent else Effect.FIRST_USE)], \
            f"{outcome.subject}: the engines {outcome.reason.value} ({outcome.key}); " \
            f"preflight says {[f.message for f in reported]}"
    assert all(not found for found in findings.values()), \
        f"findings on variables the oracle does not know: {findings}"


def test_the_environment_snapshot_is_builds() -> None:
    environ = {name: "x" for name in ENVIRONMENT} | {"UNRELATED": "y"}
    scopes = (SCOPES[0],)
    assert configure(scopes, environ, None) == _build(scopes, environ, None)


def test_the_differential_sees_every_class() -> None:
    """Each class of first-use failure is generated (a differential that never makes a
    state of some class proves nothing about it)."""
    if STATS["states"] < STATES:
        pytest.skip("runs after the differential (same module)")
    seen = {key.split(" ", 1)[1] for key in STATS if key.startswith(("lookup ", "variable "))}
    assert {reason.value for reason in Reason} - {"import_error_client_missing"} <= seen, seen
