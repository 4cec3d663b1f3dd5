"""aws.credentials: the AWS credential chain resolves, and STS GetCallerIdentity accepts it.

The twin of gcp.credentials. It reports the principal and which link of the chain supplied
it, and tells apart "no credentials" and "refused" (definitive, each with its fix) from an
STS or metadata server that cannot be reached (raised as transient by the probe).

It runs whenever a check will use AWS: s3.bucket, when a bucket is set; backends.reachable,
when a route the engines use is on S3 or DynamoDB. Only the routes can tell the latter, so
without a bucket it needs firestore.access and reads them; it is skipped only when nothing
uses AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from preflight.config import Config
from preflight.core.result import Outcome, Status
from preflight.judge import aws as judge
from preflight.judge import firestore, reachable
from preflight.observe import aws
from preflight.observe.errors import Refused
from preflight.run.check import Check
from preflight.run.context import Context

# The backends whose probes call AWS with the run's session (observe/s3.py, dynamodb.py).
AWS_BACKENDS = frozenset({"s3", "dynamodb"})
NO_BUCKET = "no bucket (--bucket) for s3.bucket"


def endpoint_skip(endpoints: Mapping[str, str]) -> str | None:
    """An S3-compatible store has no STS: its keys cannot be checked there."""
    ignored = endpoints.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true"
    if ignored or not endpoints.get("AWS_ENDPOINT_URL_S3") or any(
            endpoints.get(name) for name in ("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL")):
        return None
    return ("AWS_ENDPOINT_URL_S3 names an S3-compatible endpoint and no STS endpoint is set "
            "(AWS_ENDPOINT_URL_STS): s3.bucket checks the keys with HeadBucket instead")


def may_probe_aws(config: Config) -> bool:
    """Whether backends.reachable could probe S3 or DynamoDB with this configuration."""
    return (config.probes and "backends.reachable" in config.selected
            and any(config.profile.probe_backends.get(name, True) for name in AWS_BACKENDS))


class AwsCredentials(Check):
    name = "aws.credentials"

    def needs_for(self, config: Config) -> tuple[str, ...]:
        """`firestore.access` without a bucket: only the routes say whether a probe uses AWS."""
        return () if config.bucket or not may_probe_aws(config) else ("firestore.access",)

    def skip_reason(self, config: Config) -> str | None:
        if not config.bucket and not may_probe_aws(config):
            return (f"nothing uses AWS: {NO_BUCKET}, and backends.reachable probes no S3 or "
                    "DynamoDB route")
        return endpoint_skip(config.aws_endpoints)

    def attempt_budget(self, config: Config) -> float:
        """Up to three bounded calls: an ID token or a credential_process, the exchange
        with STS, and GetCallerIdentity; without a bucket, the registry's pages first."""
        calls = 3 * config.attempt_timeout + 1.0
        return calls if config.bucket else config.timeout

    def attempt(self, ctx: Context) -> Outcome:
        config = ctx.config
        if not config.bucket:
            try:
                subjects = reachable.probe_subjects(config, ctx.routes())
            except Refused as refusal:
                return firestore.judge_refusal(refusal, config, ctx.principal())
            planned = reachable.plan(subjects, os.environ)
            if not any(endpoint.backend in AWS_BACKENDS for endpoint in planned.endpoints):
                return Outcome(Status.SKIPPED, f"nothing uses AWS: {NO_BUCKET}, and no route "
                               "the engines use is on S3 or DynamoDB")
        return judge.judge(aws.caller_identity(ctx.aws_session()))
