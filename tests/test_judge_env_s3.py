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


def test_good_environment_passes() -> None:
    assert env_policy.judge(GOOD).status is Status.PASS


@pytest.mark.parametrize("value", ["firestore", "FIRESTORE", "FireStore"])
def test_routing_backend_case_insensitive(value: str) -> None:
    assert violated(ROUTING_REGISTRY_BACKEND=value) == []


@pytest.mark.parametrize("value", [None, "", "memory", " firestore", "firestore "])
def test_routing_backend_must_be_firestore(value: str | None) -> None:
    assert violated(ROUTING_REGISTRY_BACKEND=value) == ["ROUTING_REGISTRY_BACKEND"]


def test_project_from_either_variable() -> None:
    assert violated(GCP_PROJECT_ID=None, GCP_PROJECT="p") == []
    assert violated(GCP_PROJECT_ID=None) == ["GCP_PROJECT_ID"]
    assert violated(GCP_PROJECT_ID="", GCP_PROJECT="p") == ["GCP_PROJECT_ID"]


@pytest.mark.parametrize("value", [None, ""])
def test_raw_bucket_required(value: str | None) -> None:
    assert violated(RAW_BUCKET=value) == ["RAW_BUCKET"]


@pytest.mark.parametrize("value", [None, "firestore", "BigQuery", "bq", "BQ"])
def test_nexus_allowed(value: str | None) -> None:
    assert violated(NEXUS_BACKEND=value) == []


@pytest.mark.parametrize(("value", "word"), [("noop", "refused"), ("Memory", "refused"),
                                             ("in-memory", "refused"), ("redis", "unsupported"),
                                             ("", "unsupported")])
def test_nexus_refused_or_unsupported(value: str, word: str) -> None:
    outcome = env_policy.judge({**GOOD, "NEXUS_BACKEND": value})
    (violation,) = outcome.details["violations"]
    assert violation["variable"] == "NEXUS_BACKEND"
    assert word in violation["rule"]
    assert outcome.status is Status.FAIL
    assert outcome.remediation


@pytest.mark.parametrize(("value", "ok"), [(None, True), ("firestore", True), ("FIRESTORE", True),
                                           ("launchdarkly", False), ("", False)])
def test_feature_flags_backend(value: str | None, ok: bool) -> None:
    assert (violated(FEATURE_FLAGS_BACKEND=value) == []) is ok


def test_every_broken_rule_is_listed_with_its_fix() -> None:
    outcome = env_policy.judge({name: None for name in GOOD} | {"NEXUS_BACKEND": "noop",
                                                                 "FEATURE_FLAGS_BACKEND": "x"})
    variables = [v["variable"] for v in outcome.details["violations"]]
    assert variables == ["ROUTING_REGISTRY_BACKEND", "GCP_PROJECT_ID", "RAW_BUCKET",
                         "NEXUS_BACKEND", "FEATURE_FLAGS_BACKEND"]
    assert all(v["fix"] for v in outcome.details["violations"])


def test_url_credentials_in_a_value_are_not_shown() -> None:
    outcome = env_policy.judge({**GOOD, "NEXUS_BACKEND": "redis://user:CANARY-pw@host"})
    assert "CANARY-pw" not in repr(outcome)


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
