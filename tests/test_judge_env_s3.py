"""env.policy and s3.bucket judgments: pure functions, every rule."""

from __future__ import annotations

import pytest

from preflight.checks import env_policy, s3_bucket
from preflight.probes.s3 import BucketObservation
from preflight.verdict import Status

GOOD = {"ROUTING_REGISTRY_BACKEND": "firestore", "GCP_PROJECT_ID": "p", "GCP_PROJECT": None,
        "RAW_BUCKET": "raw", "NEXUS_BACKEND": None, "FEATURE_FLAGS_BACKEND": None}


def violated(**changes: str | None) -> list[str]:
    outcome = env_policy.judge({**GOOD, **changes})
    return [v["variable"] for v in outcome.details["violations"]]


def effect(**changes: str | None) -> list[tuple[str, str | None]]:
    """(variable, strictness code or None for "the engines will not start") per violation."""
    outcome = env_policy.judge({**GOOD, **changes})
    violations = outcome.details["violations"]
    for v in violations:
        assert v["engines_start"] is (v["code"] is not None)
    stricter = [(v["variable"], v["code"]) for v in violations if v["code"]]
    listed = [(entry["message"].split()[0], entry["code"])
              for entry in outcome.details.get("stricter_than_engines", [])]
    assert listed == stricter
    return [(v["variable"], v["code"]) for v in violations]


def test_good_environment_passes() -> None:
    assert env_policy.judge(GOOD).status is Status.PASS


@pytest.mark.parametrize("value", ["firestore", "FIRESTORE", "FireStore"])
def test_routing_backend_case_insensitive(value: str) -> None:
    assert violated(ROUTING_REGISTRY_BACKEND=value) == []


@pytest.mark.parametrize(("value", "code"), [
    (None, "routing_registry_not_firestore"),  # the engines use a filesystem registry
    ("filesystem", "routing_registry_not_firestore"),
    ("FileSystem", "routing_registry_not_firestore"),
    ("", None),  # not unset for the engines: "" is an unsupported value, they crash
    ("memory", None),  # an empty in-memory registry: their start-up validation fails
    (" firestore", None), ("firestore ", None), ("bogus", None),
])
def test_routing_backend_must_be_firestore(value: str | None, code: str | None) -> None:
    assert effect(ROUTING_REGISTRY_BACKEND=value) == [("ROUTING_REGISTRY_BACKEND", code)]


def test_project_from_either_variable_an_empty_one_falls_through() -> None:
    assert violated(GCP_PROJECT_ID=None, GCP_PROJECT="p") == []
    assert violated(GCP_PROJECT_ID="", GCP_PROJECT="p") == []
    assert effect(GCP_PROJECT_ID=None) == [("GCP_PROJECT_ID", None)]
    assert effect(GCP_PROJECT_ID="") == [("GCP_PROJECT_ID", None)]
    assert effect(GCP_PROJECT_ID="", GCP_PROJECT="") == [("GCP_PROJECT_ID", None)]


def test_no_project_is_stricter_only_when_no_firestore_backend_needs_one() -> None:
    assert effect(GCP_PROJECT_ID=None, ROUTING_REGISTRY_BACKEND="filesystem",
                  FEATURE_FLAGS_BACKEND="memory") == [
        ("ROUTING_REGISTRY_BACKEND", "routing_registry_not_firestore"),
        ("GCP_PROJECT_ID", "project_required"),
        ("FEATURE_FLAGS_BACKEND", "feature_flags_memory")]
    # feature flags default to firestore: the engines need the project even so
    assert effect(GCP_PROJECT_ID=None, ROUTING_REGISTRY_BACKEND="filesystem") == [
        ("ROUTING_REGISTRY_BACKEND", "routing_registry_not_firestore"),
        ("GCP_PROJECT_ID", None)]


@pytest.mark.parametrize(("changes", "variable"), [
    ({"GCP_PROJECT_ID": " p"}, "GCP_PROJECT_ID"),
    ({"GCP_PROJECT_ID": "", "GCP_PROJECT": "p\n"}, "GCP_PROJECT"),
    ({"RAW_BUCKET": "raw "}, "RAW_BUCKET"),
])
def test_whitespace_the_engines_keep_is_stricter(changes: dict[str, str],
                                                 variable: str) -> None:
    assert effect(**changes) == [(variable, "value_untrimmed")]


@pytest.mark.parametrize("value", [None, ""])
def test_raw_bucket_required_a_contract_rule(value: str | None) -> None:
    assert effect(RAW_BUCKET=value) == [("RAW_BUCKET", "raw_bucket_required")]
    outcome = env_policy.judge({**GOOD, "RAW_BUCKET": value})
    assert outcome.details["stricter_than_engines"] == [{
        "code": "raw_bucket_required", "message": "RAW_BUCKET must name the S3 bucket for raw "
        "storage and media uploads: the engines would start; they read it at first use only"}]


@pytest.mark.parametrize("value", [None, "", "firestore", "BigQuery", "bq", "BQ"])
def test_nexus_allowed(value: str | None) -> None:
    assert violated(NEXUS_BACKEND=value) == []


@pytest.mark.parametrize("value", ["noop", "Memory", "in-memory", "redis", " firestore", "bq "])
def test_nexus_refused_at_first_use_is_stricter(value: str) -> None:
    outcome = env_policy.judge({**GOOD, "NEXUS_BACKEND": value})
    (violation,) = outcome.details["violations"]
    assert violation["variable"] == "NEXUS_BACKEND"
    assert violation["code"] == "nexus_backend_refused"
    assert "the engines would start, but refuse it at first use" in violation["rule"]
    assert outcome.status is Status.FAIL
    assert outcome.remediation
    assert outcome.message == ("1 environment rule(s) broken: NEXUS_BACKEND (stricter than the "
                               "engines: they would start)")


@pytest.mark.parametrize(("value", "code"), [
    (None, "ok"), ("", "ok"), ("firestore", "ok"), ("FIRESTORE", "ok"),
    ("memory", "feature_flags_memory"), ("In_Memory", "feature_flags_memory"),
    ("launchdarkly", None), (" firestore", None), ("in-memory", None),
])
def test_feature_flags_backend(value: str | None, code: str | None) -> None:
    expected = [] if code == "ok" else [("FEATURE_FLAGS_BACKEND", code)]
    assert effect(FEATURE_FLAGS_BACKEND=value) == expected


def test_every_broken_rule_is_listed_with_its_fix_and_its_effect() -> None:
    outcome = env_policy.judge({name: None for name in GOOD} | {"NEXUS_BACKEND": "noop",
                                                                 "FEATURE_FLAGS_BACKEND": "x"})
    variables = [v["variable"] for v in outcome.details["violations"]]
    assert variables == ["ROUTING_REGISTRY_BACKEND", "GCP_PROJECT_ID", "RAW_BUCKET",
                         "NEXUS_BACKEND", "FEATURE_FLAGS_BACKEND"]
    assert all(v["fix"] for v in outcome.details["violations"])
    assert outcome.message == (
        "5 environment rule(s) broken: ROUTING_REGISTRY_BACKEND, GCP_PROJECT_ID, RAW_BUCKET, "
        "NEXUS_BACKEND, FEATURE_FLAGS_BACKEND (the engines will not start: "
        "FEATURE_FLAGS_BACKEND; stricter than the engines: ROUTING_REGISTRY_BACKEND, "
        "GCP_PROJECT_ID, RAW_BUCKET, NEXUS_BACKEND)")
    crash = [v["rule"] for v in outcome.details["violations"] if not v["engines_start"]]
    assert all("the engines will not start" in rule for rule in crash)


def test_url_credentials_in_a_value_are_not_shown() -> None:
    outcome = env_policy.judge({**GOOD, "NEXUS_BACKEND": "redis://user:CANARY-pw@host"})
    assert "CANARY-pw" not in repr(outcome)


def test_bucket_failures_are_a_contract_rule() -> None:
    outcome = s3_bucket.judge(seen(404, error_code="404"))
    assert outcome.details["stricter_than_engines"] == [{
        "code": "raw_bucket_must_exist", "message": "the engines would start; they use the "
        "bucket RAW_BUCKET names at first use only (raw storage, media uploads)"}]
    named = s3_bucket.judge_name("Raw")
    assert named is not None
    assert [e["code"] for e in named.details["stricter_than_engines"]] == [
        "raw_bucket_must_exist"]
    assert "stricter_than_engines" not in s3_bucket.judge(seen(200)).details


def seen(status: int, **extra: object) -> BucketObservation:
    values = {"bucket": "raw", "http_status": status, "error_code": None,
              "bucket_region": "us-east-1", "client_region": "us-east-1",
              "endpoint": "http://s3"} | extra
    return BucketObservation(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("observation", "status", "words"), [
    (seen(200), Status.PASS, "exists"),
    (seen(200, bucket_region="eu-west-1"), Status.WARN, "eu-west-1"),
    (seen(404, error_code="404"), Status.FAIL, "does not exist"),
    (seen(403, error_code="403"), Status.FAIL, "may not read"),
    (seen(301, bucket_region="eu-west-1"), Status.FAIL, "region eu-west-1"),
    (seen(0, no_credentials=True), Status.FAIL, "no AWS credentials"),
    (seen(400, bucket_region=None, error_code="400"), Status.FAIL, "answered 400"),
])
def test_bucket_answers(observation: BucketObservation, status: Status, words: str) -> None:
    outcome = s3_bucket.judge(observation)
    assert outcome.status is status
    assert words in outcome.message
    assert (outcome.remediation is None) is (status is Status.PASS)


@pytest.mark.parametrize("status", [200, 301])
def test_wrong_region_fix_names_the_variable_botocore_reads(status: int) -> None:
    outcome = s3_bucket.judge(seen(status, bucket_region="eu-west-1"))
    assert (outcome.remediation or "").startswith("set AWS_DEFAULT_REGION=eu-west-1"), outcome


@pytest.mark.parametrize(("code", "named"), [
    ("InvalidAccessKeyId", "AWS_ACCESS_KEY_ID"), ("SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"),
    ("InvalidToken", "AWS_SESSION_TOKEN"), ("ExpiredToken", "AWS_SESSION_TOKEN"),
    ("AccessDenied", "s3:ListBucket"), ("403", "s3:ListBucket"),
])
def test_403_fix_follows_the_error_code(code: str, named: str) -> None:
    outcome = s3_bucket.judge(seen(403, error_code=code))
    assert outcome.status is Status.FAIL
    assert named in (outcome.remediation or ""), outcome


def test_403_remediation_names_list_bucket() -> None:
    assert "s3:ListBucket" in (s3_bucket.judge(seen(403)).remediation or "")


@pytest.mark.parametrize("name", ["ab", "Raw", "raw_bucket", "-raw", "raw..b", "x" * 64, "raw/x"])
def test_invalid_bucket_names(name: str) -> None:
    outcome = s3_bucket.judge_name(name)
    assert outcome is not None
    assert outcome.status is Status.FAIL


@pytest.mark.parametrize("name", ["raw", "raw-bucket", "raw.bucket.1", "a" * 63])
def test_valid_bucket_names(name: str) -> None:
    assert s3_bucket.judge_name(name) is None
