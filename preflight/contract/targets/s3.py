"""s3: HeadBucket on the route's `bucket`, else RAW_BUCKET (S3RawStorageRepository).

The client is the engines' `boto3.client("s3")`: region, credentials and endpoint from the
AWS chain of the pod's environment, shared with the s3.bucket check. Answers are told
apart by s3.bucket's own `classify`: 404, 403 and a wrong region are different fixes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.checks.aws_credentials import KEYLESS_HELP
from preflight.checks.s3_bucket import Answer, classify, judge_name, region_fix
from preflight.contract.targets import (
    Endpoint,
    Finding,
    ProbeResult,
    ProbeSubject,
    Shared,
    failed,
    key_or_variable,
    passed,
)

_CODE = re.compile(r"[A-Za-z0-9.]{1,40}")


@dataclass(frozen=True, repr=False)
class S3Endpoint(Endpoint):
    backend = "s3"
    bucket: str = field(repr=False)


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> S3Endpoint | Finding:
    found = key_or_variable(subject.config, "bucket", environ, "RAW_BUCKET")
    if isinstance(found, Finding):
        return found
    if found is None:
        return Finding("no `bucket` in its config, and RAW_BUCKET is not set",
                       "set `bucket` in the route's config, or RAW_BUCKET")
    bucket, source = found
    if judge_name(bucket) is not None:
        return Finding(f"the bucket name in {source} is not a valid S3 bucket name",
                       f"set {source} to the bucket's name: 3-63 characters, lower-case "
                       "letters, digits, '.' and '-' (no s3:// prefix)")
    return S3Endpoint(bucket=bucket, where=f"the bucket in {source}")


def observe(endpoint: S3Endpoint, timeout: float, shared: Shared) -> Any:
    """Raises transient trouble (the runner's rules); definitive answers come back as data."""
    from preflight.observe import s3

    client = shared("s3.client", lambda: s3.make_client(shared.client_timeout,
                                                        shared.aws_session()))
    return s3.head_bucket(client, endpoint.bucket)


def judge(endpoint: S3Endpoint, seen: Any) -> ProbeResult:
    where = endpoint.where
    answer = classify(seen)
    if answer is Answer.NO_CREDENTIALS:
        return failed("no AWS credentials found", KEYLESS_HELP)
    if answer is Answer.OK:
        return passed(f"{where} exists and is readable")
    if answer is Answer.MOVED:
        return passed(f"{where} exists and is readable (in region {seen.bucket_region}, not "
                      f"the client's {seen.client_region}: every call is redirected)")
    if answer is Answer.MISSING:
        return failed(f"{where} does not exist",
                      "create the bucket, or fix the route's `bucket` / RAW_BUCKET / the S3 "
                      "endpoint (AWS_ENDPOINT_URL_S3)")
    if answer is Answer.FORBIDDEN:
        return failed(f"{where} exists, but this principal may not read it (403)",
                      "allow s3:ListBucket (and the engines' object calls) on that bucket for "
                      "the workload's role")
    if answer is Answer.WRONG_REGION:
        return failed(f"{where} is in region {seen.bucket_region}, not {seen.client_region}",
                      region_fix(str(seen.bucket_region)))
    code = seen.error_code if seen.error_code and _CODE.fullmatch(seen.error_code) else ""
    return failed(f"HeadBucket on {where} answered {seen.http_status} {code}".rstrip(),
                  "check the bucket name, the S3 endpoint and the credentials")
