"""s3.bucket judgments: pure functions, every rule (env rules: test_judge_variables.py)."""

from __future__ import annotations

import pytest

from preflight.core.result import Status
from preflight.judge import s3 as judge_s3
from preflight.observe.s3 import BucketObservation


def test_bucket_failures_are_a_contract_rule() -> None:
    outcome = judge_s3.judge(seen(404, error_code="404"))
    assert outcome.details["stricter_than_engines"] == [{
        "code": "raw_bucket_must_exist", "message": "the engines would start; they use the "
        "bucket RAW_BUCKET names at first use only (raw storage, media uploads)"}]
    named = judge_s3.judge_name("Raw")
    assert named is not None
    assert [e["code"] for e in named.details["stricter_than_engines"]] == [
        "raw_bucket_must_exist"]
    assert "stricter_than_engines" not in judge_s3.judge(seen(200)).details


def seen(status: int, **extra: object) -> BucketObservation:
    values = {"bucket": "raw", "http_status": status, "error_code": None,
              "bucket_region": "us-east-1", "client_region": "us-east-1",
              "endpoint": "http://s3"} | extra
    return BucketObservation(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("observation", "status", "words"), [
    (seen(200), Status.PASS, "exists"),
    (seen(200, bucket_region="eu-west-1"), Status.PASS, "eu-west-1"),
    (seen(404, error_code="404"), Status.FAIL, "does not exist"),
    (seen(403, error_code="403"), Status.FAIL, "may not read"),
    (seen(301, bucket_region="eu-west-1"), Status.FAIL, "region eu-west-1"),
    (seen(0, no_credentials=True), Status.FAIL, "no AWS credentials"),
    (seen(400, bucket_region=None, error_code="400"), Status.FAIL, "answered 400"),
])
def test_bucket_answers(observation: BucketObservation, status: Status, words: str) -> None:
    outcome = judge_s3.judge(observation)
    assert outcome.status is status
    assert words in outcome.message
    assert (outcome.remediation is None) is (status is Status.PASS)


@pytest.mark.parametrize("status", [301])
def test_wrong_region_fix_names_the_variable_botocore_reads(status: int) -> None:
    outcome = judge_s3.judge(seen(status, bucket_region="eu-west-1"))
    assert (outcome.remediation or "").startswith("set AWS_DEFAULT_REGION=eu-west-1"), outcome


@pytest.mark.parametrize(("code", "named"), [
    ("InvalidAccessKeyId", "AWS_ACCESS_KEY_ID"), ("SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"),
    ("InvalidToken", "AWS_SESSION_TOKEN"), ("ExpiredToken", "AWS_SESSION_TOKEN"),
    ("AccessDenied", "s3:ListBucket"), ("403", "s3:ListBucket"),
])
def test_403_fix_follows_the_error_code(code: str, named: str) -> None:
    outcome = judge_s3.judge(seen(403, error_code=code))
    assert outcome.status is Status.FAIL
    assert named in (outcome.remediation or ""), outcome


def test_403_remediation_names_list_bucket() -> None:
    assert "s3:ListBucket" in (judge_s3.judge(seen(403)).remediation or "")


@pytest.mark.parametrize("name", ["ab", "Raw", "raw_bucket", "-raw", "raw..b", "x" * 64, "raw/x"])
def test_invalid_bucket_names(name: str) -> None:
    outcome = judge_s3.judge_name(name)
    assert outcome is not None
    assert outcome.status is Status.FAIL


@pytest.mark.parametrize("name", ["raw", "raw-bucket", "raw.bucket.1", "a" * 63])
def test_valid_bucket_names(name: str) -> None:
    assert judge_s3.judge_name(name) is None
