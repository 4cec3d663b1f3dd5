"""s3.bucket: HeadBucket: the raw-storage bucket exists and these credentials may list it."""

from __future__ import annotations

from preflight.config import Config
from preflight.core.result import Outcome
from preflight.judge import s3 as judge
from preflight.observe import s3
from preflight.run.check import Check
from preflight.run.context import Context


class S3Bucket(Check):
    name = "s3.bucket"
    needs = ("aws.credentials",)

    def unconfigured(self, config: Config) -> Outcome | None:
        return judge.judge_no_bucket(config.bucket)

    def attempt(self, ctx: Context) -> Outcome:
        bucket = ctx.config.bucket
        assert bucket is not None
        return judge.judge_name(bucket) or judge.judge(s3.head_bucket(ctx.s3_client(), bucket))
