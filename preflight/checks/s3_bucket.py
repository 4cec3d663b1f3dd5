"""s3.bucket: HeadBucket on the raw-storage bucket."""

from __future__ import annotations

import re
from enum import StrEnum

from preflight.checks.base import Check, Context
from preflight.config import Config
from preflight.probes import s3
from preflight.verdict import Outcome, Status

# S3's naming rules for general-purpose buckets (3-63 chars, lower case, digits, '.', '-').
_BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def judge_name(bucket: str) -> Outcome | None:
    if _BUCKET_NAME.match(bucket):
        return None
    return Outcome(Status.FAIL, f"{bucket!r} is not a valid S3 bucket name",
                   remediation="set RAW_BUCKET to the bucket's name: 3-63 characters, "
                   "lower-case letters, digits, '.' and '-'",
                   details={"bucket": bucket})


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


NO_CREDENTIALS_FIX = ("provide AWS credentials: IRSA / web identity on EKS, or "
                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from a Secret")


def judge(seen: s3.BucketObservation) -> Outcome:
    details = {"bucket": seen.bucket, "http_status": seen.http_status, "endpoint": seen.endpoint,
               "bucket_region": seen.bucket_region, "client_region": seen.client_region,
               "error_code": seen.error_code}
    name = seen.bucket
    answer = classify(seen)
    if answer is Answer.NO_CREDENTIALS:
        return Outcome(Status.FAIL, "no AWS credentials found", remediation=NO_CREDENTIALS_FIX,
                       details=details)
    if answer is Answer.MOVED:
        return Outcome(
            Status.WARN, f"bucket {name} exists in {seen.bucket_region}, but the client is "
            f"configured for {seen.client_region}: every call is redirected",
            remediation=f"set AWS_REGION={seen.bucket_region}", details=details)
    if answer is Answer.OK:
        return Outcome(Status.PASS, f"bucket {name} exists and is readable", details=details)
    if answer is Answer.MISSING:
        return Outcome(Status.FAIL, f"bucket {name} does not exist at {seen.endpoint}",
                       remediation=f"create bucket {name}, or fix RAW_BUCKET / the endpoint "
                       "(AWS_ENDPOINT_URL_S3)", details=details)
    if answer is Answer.FORBIDDEN:
        return Outcome(Status.FAIL, f"bucket {name} exists, but this principal may not read it "
                       "(403)", remediation=f"allow s3:ListBucket on arn:aws:s3:::{name} for "
                       "the workload's role", details=details)
    if answer is Answer.WRONG_REGION:
        return Outcome(Status.FAIL, f"bucket {name} is in region {seen.bucket_region}, not "
                       f"{seen.client_region}", remediation=f"set AWS_REGION="
                       f"{seen.bucket_region}", details=details)
    return Outcome(Status.FAIL, f"HeadBucket {name} answered {seen.http_status} "
                   f"{seen.error_code or ''}".rstrip(),
                   remediation="check the bucket name, endpoint and credentials", details=details)


class S3Bucket(Check):
    name = "s3.bucket"

    def skip_reason(self, config: Config) -> str | None:
        return None if config.bucket else "no bucket: set RAW_BUCKET (or --bucket)"

    def attempt(self, ctx: Context) -> Outcome:
        bucket = ctx.config.bucket
        assert bucket is not None
        invalid = judge_name(bucket)
        if invalid:
            return invalid
        client = ctx.shared("s3.client", lambda: s3.make_client(ctx.config.attempt_timeout))
        return judge(s3.head_bucket(client, bucket))
