"""s3: the route's `bucket`, else RAW_BUCKET (S3RawStorageRepository).

The client is the engines' `boto3.client("s3")`: region, credentials and endpoint from the
AWS chain of the pod's environment, shared with the s3.bucket check; the answer is judged
by s3.bucket's own judgement (preflight.judge.s3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, key_or_variable

# S3's naming rules for general-purpose buckets (3-63 chars, lower case, digits, '.', '-').
_BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def valid_bucket_name(name: str) -> bool:
    return bool(_BUCKET_NAME.match(name))


@dataclass(frozen=True, repr=False)
class S3Endpoint(Endpoint):
    backend = "s3"
    bucket: str = field(repr=False)


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> S3Endpoint | Unbuildable:
    found = key_or_variable(subject.config, "bucket", environ, "RAW_BUCKET")
    if isinstance(found, Unbuildable):
        return found
    if found is None:
        return Unbuildable("no `bucket` in its config, and RAW_BUCKET is not set",
                           "set `bucket` in the route's config, or RAW_BUCKET")
    bucket, source = found
    if not valid_bucket_name(bucket):
        return Unbuildable(f"the bucket name in {source} is not a valid S3 bucket name",
                           f"set {source} to the bucket's name: 3-63 characters, lower-case "
                           "letters, digits, '.' and '-' (no s3:// prefix)")
    return S3Endpoint(bucket=bucket, where=f"the bucket in {source}")


