"""gcp.credentials: Application Default Credentials resolve and a token can be obtained."""

from __future__ import annotations

from preflight.config import Config
from preflight.core.result import Outcome
from preflight.judge import gcp as judge
from preflight.observe import gcp
from preflight.observe.errors import Refused
from preflight.run.check import Check
from preflight.run.context import Context


class GcpCredentials(Check):
    name = "gcp.credentials"

    def skip_reason(self, config: Config) -> str | None:
        if config.emulator_host:
            return f"FIRESTORE_EMULATOR_HOST is set ({config.emulator_host}): no credentials needed"
        return None

    def attempt(self, ctx: Context) -> Outcome:
        try:
            observation = gcp.refresh_default_credentials(ctx.call_timeout())
        except Refused as refusal:
            return judge.judge_refusal(refusal)
        ctx.gcp_credentials = observation.credentials
        return judge.judge(observation)
