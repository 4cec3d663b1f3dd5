"""env.backends: each variable that picks a backend at first use names one the engines can build.

Several of them fall back to memory silently when unset or misspelt — exactly what the
real-infra contract forbids — and some need more variables (a Redis host and port, a
memory folder). The rules are the profile's `backend_variables`; built in, they warn.
"""

from __future__ import annotations

from preflight.core.result import Outcome
from preflight.judge import variables as judge
from preflight.run.check import Check
from preflight.run.context import Context


class EnvBackends(Check):
    name = "env.backends"
    phase = "first_use"

    def attempt(self, ctx: Context) -> Outcome:
        return judge.judge_backend_variables(ctx.config.profile, ctx.config.engines_env)
