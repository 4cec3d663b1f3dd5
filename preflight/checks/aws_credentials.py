"""aws.credentials: the AWS credential chain resolves, and STS GetCallerIdentity accepts it.

The twin of gcp.credentials. It reports the principal and which link of the chain supplied
it, and tells apart "no credentials" and "refused" (definitive, each with its fix) from an
STS or metadata server that cannot be reached (raised as transient by the probe).
"""

from __future__ import annotations

from collections.abc import Mapping

from preflight.config import Config
from preflight.core.result import Outcome
from preflight.judge import aws as judge
from preflight.observe import aws
from preflight.run.check import Check
from preflight.run.context import Context


def endpoint_skip(endpoints: Mapping[str, str]) -> str | None:
    """An S3-compatible store has no STS: its keys cannot be checked there."""
    ignored = endpoints.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true"
    if ignored or not endpoints.get("AWS_ENDPOINT_URL_S3") or any(
            endpoints.get(name) for name in ("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL")):
        return None
    return ("AWS_ENDPOINT_URL_S3 names an S3-compatible endpoint and no STS endpoint is set "
            "(AWS_ENDPOINT_URL_STS): s3.bucket checks the keys with HeadBucket instead")


class AwsCredentials(Check):
    name = "aws.credentials"

    def skip_reason(self, config: Config) -> str | None:
        if not config.bucket:
            return "no bucket: AWS credentials serve only RAW_BUCKET (set it, or --bucket)"
        return endpoint_skip(config.aws_endpoints)

    def attempt_budget(self, config: Config) -> float:
        """Up to three bounded calls: an ID token or a credential_process, the exchange
        with STS, and GetCallerIdentity."""
        return 3 * config.attempt_timeout + 1.0

    def attempt(self, ctx: Context) -> Outcome:
        return judge.judge(aws.caller_identity(ctx.aws_session()))
