"""What the S3 probe's answer means: s3.bucket's own judgement (preflight.judge.s3)."""

from __future__ import annotations

from preflight.contract.targets.s3 import S3Endpoint
from preflight.core.result import Outcome
from preflight.judge.s3 import judge_bucket
from preflight.observe.s3 import BucketObservation


def judge(endpoint: S3Endpoint, seen: BucketObservation) -> Outcome:
    return judge_bucket(seen, endpoint.where, "the route's `bucket` / RAW_BUCKET")
