"""S3: the one judgement of a HeadBucket answer, for s3.bucket and for the S3 routes' probes.

A bucket in another region than the client's passes: botocore follows S3's redirect, and
the engines' calls succeed. A 403 is told apart by its error code (the extra ListObjectsV2
of preflight.observe.s3): a key S3 does not know, a wrong secret or an expired token is a
credentials fix; anything else is a missing permission.
"""

from __future__ import annotations

import re
from dataclasses import replace
from enum import StrEnum
from typing import Any

from preflight.contract.targets.s3 import valid_bucket_name
from preflight.core import strictness
from preflight.core.result import Outcome, Status
from preflight.judge.aws import KEYLESS_HELP
from preflight.observe.s3 import BucketObservation

# botocore (1.44, the lock file's) reads the region from AWS_DEFAULT_REGION or the profile's
# `region`; AWS_REGION is read only for the "auto" defaults mode on AWS compute.
REGION_VARIABLE = "AWS_DEFAULT_REGION"
_CODE = re.compile(r"[A-Za-z0-9.]{1,40}")


def region_fix(region: str) -> str:
    return f"set {REGION_VARIABLE}={region} (botocore does not read AWS_REGION for this)"


class BucketState(StrEnum):
    """What a HeadBucket answer says about the bucket."""

    NO_CREDENTIALS = "no_credentials"
    OK = "ok"
    MOVED = "moved"  # exists, in another region than the client's: botocore follows
    MISSING = "missing"
    FORBIDDEN = "forbidden"
    WRONG_REGION = "wrong_region"
    OTHER = "other"


def classify(seen: BucketObservation) -> BucketState:
    if seen.no_credentials:
        return BucketState.NO_CREDENTIALS
    if seen.http_status == 200:
        moved = (seen.bucket_region and seen.client_region
                 and seen.bucket_region != seen.client_region)
        return BucketState.MOVED if moved else BucketState.OK
    if seen.http_status == 404:
        return BucketState.MISSING
    if seen.http_status == 403:
        return BucketState.FORBIDDEN
    if seen.http_status in (301, 307, 400) and seen.bucket_region:
        return BucketState.WRONG_REGION
    return BucketState.OTHER


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


def judge_bucket(seen: BucketObservation, where: str, named_by: str,
                 shown: str | None = None) -> Outcome:
    """The one judgement. `where` names the bucket ("bucket raw-prod", "the bucket in
    `bucket` of its config"); `named_by` is what a fix should change (RAW_BUCKET, the
    route's `bucket`); `shown` is the bucket's name where it may be shown (never a route's
    config value). Details carry no config value beyond what `where` shows."""
    details: dict[str, Any] = {"http_status": seen.http_status, "endpoint": seen.endpoint,
                               "bucket_region": seen.bucket_region,
                               "client_region": seen.client_region,
                               "error_code": seen.error_code}
    state = classify(seen)
    if state is BucketState.NO_CREDENTIALS:
        return Outcome(Status.FAIL, "no AWS credentials found", remediation=KEYLESS_HELP,
                       details=details)
    if state is BucketState.OK:
        return Outcome(Status.PASS, f"{where} exists and is readable", details=details)
    if state is BucketState.MOVED:
        return Outcome(Status.PASS, f"{where} exists and is readable (in region "
                       f"{seen.bucket_region}, not the client's {seen.client_region}: botocore "
                       "follows S3's redirect)", details=details)
    if state is BucketState.MISSING:
        return Outcome(Status.FAIL, f"{where} does not exist at {seen.endpoint}",
                       remediation=f"create the bucket, or fix {named_by} / the S3 endpoint "
                       "(AWS_ENDPOINT_URL_S3)", details=details)
    if state is BucketState.FORBIDDEN:
        refusal = CREDENTIAL_REFUSALS.get(seen.error_code or "")
        if refusal:
            message, fix = refusal
            return Outcome(Status.FAIL, message, remediation=fix, details=details)
        return Outcome(Status.FAIL, f"{where} exists, but this principal may not read it "
                       f"(403 {seen.error_code or 'Forbidden'})",
                       remediation=f"allow s3:ListBucket on "
                       f"{f'arn:aws:s3:::{shown}' if shown else 'that bucket'} (and the "
                       "engines' object calls) for the workload's role", details=details)
    if state is BucketState.WRONG_REGION:
        return Outcome(Status.FAIL, f"{where} is in region {seen.bucket_region}, not "
                       f"{seen.client_region}", remediation=region_fix(str(seen.bucket_region)),
                       details=details)
    code = seen.error_code if seen.error_code and _CODE.fullmatch(seen.error_code) else ""
    return Outcome(Status.FAIL, f"HeadBucket on {where} answered {seen.http_status} "
                   f"{code}".rstrip(), remediation="check the bucket name, the S3 endpoint and "
                   "the credentials", details=details)


# ---------------------------------------------------------------------------- s3.bucket

def stricter(outcome: Outcome) -> Outcome:
    """Every failure of s3.bucket is a contract rule: the engines use the bucket at first
    use only."""
    if outcome.status is not Status.FAIL:
        return outcome
    return replace(outcome, details={**outcome.details, "stricter_than_engines": [
        strictness.finding("raw_bucket_must_exist", "the engines would start; they use the "
                           "bucket RAW_BUCKET names at first use only (raw storage, media "
                           "uploads)")]})


def judge_no_bucket(bucket: str | None) -> Outcome | None:
    if bucket:
        return None
    return Outcome(Status.FAIL, "not checked: no bucket: set RAW_BUCKET (or --bucket) "
                   f"({strictness.STRICTER}: they would start)",
                   remediation="set RAW_BUCKET to the raw-storage bucket's name",
                   details={"unconfigured": "bucket", "stricter_than_engines": [
                       strictness.finding("raw_bucket_required", "no bucket to check: the "
                                          "engines would start; they read RAW_BUCKET at "
                                          "first use only")]})


def judge_name(bucket: str) -> Outcome | None:
    if valid_bucket_name(bucket):
        return None
    return stricter(Outcome(Status.FAIL, f"{bucket!r} is not a valid S3 bucket name",
                            remediation="set RAW_BUCKET to the bucket's name: 3-63 characters, "
                            "lower-case letters, digits, '.' and '-'",
                            details={"bucket": bucket}))


def judge(seen: BucketObservation) -> Outcome:
    """s3.bucket: the one judgement of RAW_BUCKET's bucket, as a contract rule."""
    outcome = judge_bucket(seen, f"bucket {seen.bucket}", "RAW_BUCKET", seen.bucket)
    return stricter(replace(outcome, details={"bucket": seen.bucket, **outcome.details}))
