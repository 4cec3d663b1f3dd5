"""routing.serving: each serving (and fixed) scope has a valid route for its request-time kinds.

Request-time lookups use the caller's tenant/env/project — the serving scopes this
deployment is told about (--serve-scope) — with an exact project and no fall-back to a
project-less route; a few kinds are looked up at a fixed scope (event_stream at
t_system/dev). None of the start-up kinds is looked up by these names, so a start-up pass
says nothing about them. Built in, these findings warn: the engines start, and the requests
that need the route fail.
"""

from __future__ import annotations

from dataclasses import replace

from preflight.checks.base import RegistryCheck
from preflight.config import Config
from preflight.core.result import Outcome, Status
from preflight.judge import routes
from preflight.judge import serving as judge
from preflight.run.context import Context


class RoutingServing(RegistryCheck):
    name = "routing.serving"
    phase = "first_use"

    def skip_reason(self, config: Config) -> str | None:
        if not config.request_time_scopes():
            return "the profile has no request-time kinds and no --serve-scope was given"
        return None

    def judge_registry(self, ctx: Context) -> Outcome:
        config = ctx.config
        scopes = config.request_time_scopes()
        outcome = judge.judge(config.profile, scopes, ctx.routes(), len(config.serving_scopes))
        # Near misses cost reads: only for a failing verdict, as routing.entries does.
        missing = [scope for scope in scopes if outcome.status is Status.FAIL
                   and outcome.details["scopes"][scope.label]["missing"]][:routes.MAX_HINTS]
        hints = [hint for scope in missing for hint in routes.near_misses(
            scope, outcome.details["scopes"][scope.label]["missing"],
            ctx.nearby(scope).docs)]
        if hints:
            outcome = replace(outcome, details={**outcome.details,
                                                "hints": hints[:routes.MAX_HINTS]})
        return outcome
