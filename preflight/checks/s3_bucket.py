"""s3.bucket: HeadBucket on the raw-storage bucket."""

from __future__ import annotations

import re
from dataclasses import replace
from enum import StrEnum

from preflight.checks.aws_credentials import KEYLESS_HELP, aws_session
from preflight.checks.base import Check, Context
from preflight.config import Config
from preflight.core import strictness
from preflight.observe import s3
from preflight.report.verdict import Outcome, Status

# botocore (1.44, the lock file's) reads the region from AWS_DEFAULT_REGION or the profile's
# `region`; AWS_REGION is read only for the "auto" defaults mode on AWS compute.
REGION_VARIABLE = "AWS_DEFAULT_REGION"


def region_fix(region: str) -> str:
    return f"set {REGION_VARIABLE}={region} (botocore does not read AWS_REGION for this)"


# S3's naming rules for general-purpose buckets (3-63 chars, lower case, digits, '.', '-').
_BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def stricter(outcome: Outcome) -> Outcome:
    """Every failure here is a contract rule: the engines use the bucket at first use only."""
    if outcome.status is not Status.FAIL:
        return outcome
    return replace(outcome, details={**outcome.details, "stricter_than_engines": [
        strictness.finding("raw_bucket_must_exist", "the engines would start; they use the "
                           "bucket RAW_BUCKET names at first use only (raw storage, media "
                           "uploads)")]})


def judge_name(bucket: str) -> Outcome | None:
    if _BUCKET_NAME.match(bucket):
        return None
    return stricter(Outcome(Status.FAIL, f"{bucket!r} is not a valid S3 bucket name",
                   remediation="set RAW_BUCKET to the bucket's name: 3-63 characters, "
                   "lower-case letters, digits, '.' and '-'",
                   details={"bucket": bucket}))


# What a 403's error code means, and its fix: the credentials themselves, or a permission.
CREDENTIAL_REFUSALS = {
    "InvalidAccessKeyId": (
        "S3 does not know this access key id (403 InvalidAccessKeyId)",
        "fix the AWS credentials: AWS_ACCESS_KEY_ID (or the role behind the web identity) "
        "names no key S3 knows — deleted, deactivated, or for another account or endpoint"),
    "SignatureDoesNotMatch": (
        "S3 rejected the request's signature: the secret access key does not match the key id "
        "(403 SignatureDoesNotMatch)",
        "fix AWS_SECRET_ACCESS_KEY: it must be the secret of the key in AWS_ACCESS_KEY_ID"),
    "InvalidToken": (
        "S3 rejected the session token (403 InvalidToken)",
        "fix AWS_SESSION_TOKEN, or let the role / web identity provide temporary credentials"),
    "ExpiredToken": (
        "the temporary credentials have expired (403 ExpiredToken)",
        "use credentials that refresh themselves (IRSA / web identity, an instance role) "
        "instead of a fixed AWS_SESSION_TOKEN"),
}


def judge_forbidden(seen: s3.BucketObservation, details: dict[str, object]) -> Outcome:
    refusal = CREDENTIAL_REFUSALS.get(seen.error_code or "")
    if refusal:
        message, fix = refusal
        return Outcome(Status.FAIL, message, remediation=fix, details=details)
    return Outcome(Status.FAIL, f"bucket {seen.bucket} exists, but this principal may not "
                   f"read it (403 {seen.error_code or 'Forbidden'})",
                   remediation=f"allow s3:ListBucket on arn:aws:s3:::{seen.bucket} for the "
                   "workload's role", details=details)


class Answer(StrEnum):
    """What a HeadBucket observation means; shared with the probes of s3 routes."""

    NO_CREDENTIALS = "no_credentials"
    OK = "ok"
    MOVED = "moved"  # exists, but in another region than the client's: calls are redirected
    MISSING = "missing"
    FORBIDDEN = "forbidden"
    WRONG_REGION = "wrong_region"
    OTHER = "other"


def classify(seen: s3.BucketObservation) -> Answer:
    if seen.no_credentials:
        return Answer.NO_CREDENTIALS
    if seen.http_status == 200:
        moved = (seen.bucket_region and seen.client_region
                 and seen.bucket_region != seen.client_region)
        return Answer.MOVED if moved else Answer.OK
    if seen.http_status == 404:
        return Answer.MISSING
    if seen.http_status == 403:
        return Answer.FORBIDDEN
    if seen.http_status in (301, 307, 400) and seen.bucket_region:
        return Answer.WRONG_REGION
    return Answer.OTHER


def judge(seen: s3.BucketObservation) -> Outcome:
    return stricter(_judge(seen))


def _judge(seen: s3.BucketObservation) -> Outcome:
    details = {"bucket": seen.bucket, "http_status": seen.http_status, "endpoint": seen.endpoint,
               "bucket_region": seen.bucket_region, "client_region": seen.client_region,
               "error_code": seen.error_code}
    name = seen.bucket
    answer = classify(seen)
    if answer is Answer.NO_CREDENTIALS:
        return Outcome(Status.FAIL, "no AWS credentials found", remediation=KEYLESS_HELP,
                       details=details)
    if answer is Answer.MOVED:
        return Outcome(
            Status.WARN, f"bucket {name} exists in {seen.bucket_region}, but the client is "
            f"configured for {seen.client_region}: every call is redirected",
            remediation=region_fix(str(seen.bucket_region)), details=details)
    if answer is Answer.OK:
        return Outcome(Status.PASS, f"bucket {name} exists and is readable", details=details)
    if answer is Answer.MISSING:
        return Outcome(Status.FAIL, f"bucket {name} does not exist at {seen.endpoint}",
                       remediation=f"create bucket {name}, or fix RAW_BUCKET / the endpoint "
                       "(AWS_ENDPOINT_URL_S3)", details=details)
    if answer is Answer.FORBIDDEN:
        return judge_forbidden(seen, details)
    if answer is Answer.WRONG_REGION:
        return Outcome(Status.FAIL, f"bucket {name} is in region {seen.bucket_region}, not "
                       f"{seen.client_region}", remediation=region_fix(str(seen.bucket_region)),
                       details=details)
    return Outcome(Status.FAIL, f"HeadBucket {name} answered {seen.http_status} "
                   f"{seen.error_code or ''}".rstrip(),
                   remediation="check the bucket name, endpoint and credentials", details=details)


class S3Bucket(Check):
    name = "s3.bucket"
    needs = ("aws.credentials",)

    def unconfigured(self, config: Config) -> Outcome | None:
        if config.bucket:
            return None
        return Outcome(Status.FAIL, "not checked: no bucket: set RAW_BUCKET (or --bucket) "
                       f"({strictness.STRICTER}: they would start)",
                       remediation="set RAW_BUCKET to the raw-storage bucket's name",
                       details={"unconfigured": "bucket", "stricter_than_engines": [
                           strictness.finding("raw_bucket_required", "no bucket to check: the "
                                              "engines would start; they read RAW_BUCKET at "
                                              "first use only")]})

    def attempt(self, ctx: Context) -> Outcome:
        bucket = ctx.config.bucket
        assert bucket is not None
        invalid = judge_name(bucket)
        if invalid:
            return invalid
        client = ctx.shared("s3.client", lambda: s3.make_client(ctx.config.attempt_timeout,
                                                                aws_session(ctx)))
        return judge(s3.head_bucket(client, bucket))
