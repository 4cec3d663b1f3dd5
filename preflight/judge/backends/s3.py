"""What the S3 probe's answer means: s3.bucket's own judgement (preflight.judge.s3), and
aws.credentials' when the credential chain failed before the call."""

from __future__ import annotations

from preflight.contract.targets.s3 import S3Endpoint
from preflight.core.result import Outcome
from preflight.judge import aws
from preflight.judge.s3 import judge_bucket
from preflight.observe.aws import Identity
from preflight.observe.s3 import BucketObservation


def judge(endpoint: S3Endpoint, seen: BucketObservation | Identity) -> Outcome:
    if isinstance(seen, Identity):
        return aws.judge(seen)
    return judge_bucket(seen, endpoint.where, "the route's bucket or its stand-in variable")
