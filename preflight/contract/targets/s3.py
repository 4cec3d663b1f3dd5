"""s3: the route's bucket as raw storage reads it (its config, else the stand-in variable).

The client is the engines' `boto3.client("s3")`: region, credentials and endpoint from the
AWS chain of the pod's environment, shared with the s3.bucket check; the answer is judged
by s3.bucket's own judgement (preflight.judge.s3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, resolve, texts

# S3's naming rules for general-purpose buckets (3-63 chars, lower case, digits, '.', '-').
_BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
KEY = "bucket"


def valid_bucket_name(name: str) -> bool:
    return bool(_BUCKET_NAME.match(name))


@dataclass(frozen=True, repr=False)
class S3Endpoint(Endpoint):
    backend = "s3"
    bucket: str = field(repr=False)


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> S3Endpoint | Unbuildable:
    values = resolve(subject.contract, subject.config, environ)
    if isinstance(values, Unbuildable):
        return values
    found = texts(values, KEY)
    if isinstance(found, Unbuildable):
        return found
    [bucket] = found
    source = values[KEY].source
    if not valid_bucket_name(bucket):
        return Unbuildable(f"the bucket name in {source} is not a valid S3 bucket name",
                           f"set {source} to the bucket's name: 3-63 characters, lower-case "
                           "letters, digits, '.' and '-' (no s3:// prefix)")
    return S3Endpoint(bucket=bucket, where=values[KEY].named("bucket"))
