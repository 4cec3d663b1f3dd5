"""firestore.access: a real read of the routing registry: reachable, permitted, database exists."""

from __future__ import annotations

from preflight.config import Config
from preflight.core.result import Outcome
from preflight.judge import firestore as judge
from preflight.observe import firestore
from preflight.observe.errors import Refused
from preflight.run.check import Check
from preflight.run.context import Context


class FirestoreAccess(Check):
    name = "firestore.access"
    needs = ("gcp.credentials",)

    def unconfigured(self, config: Config) -> Outcome | None:
        return judge.judge_no_project(config)

    def attempt(self, ctx: Context) -> Outcome:
        config = ctx.config
        try:
            seen = firestore.sample(ctx.firestore_client(), config.collection,
                                    ctx.call_timeout())
        except Refused as refusal:
            return judge.judge_refusal(refusal, config, ctx.principal())
        return judge.judge(seen, config)
