"""routing.backends: each route the engines resolve names a backend its kind can build.

A kind's resolver accepts some backend types only (compared lower-cased and untrimmed, as
the engines compare them), some only for `lab` requests, and each backend reads config
keys, some of which an environment variable may stand in for. The route judged is the one
the engines would take at every lookup — the first document in id order — by the
profile's `kinds.<kind>.backends` (judge/route_backends.py). Only key names are reported,
never a config value.
"""

from __future__ import annotations

from preflight.checks.base import RegistryCheck
from preflight.core.result import Outcome
from preflight.judge import route_backends as judge
from preflight.run.context import Context


class RoutingBackends(RegistryCheck):
    name = "routing.backends"
    phase = "first_use"

    def judge_registry(self, ctx: Context) -> Outcome:
        return judge.judge(ctx.config, ctx.routes())
