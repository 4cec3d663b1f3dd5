"""env.policy: the engines' start-up environment rules hold, read as the engines read them.

The rules are the profile's `environment` section: values are compared as the engines read
them — empty as unset where they treat it so, lower-cased where they lower-case, never
trimmed, a fall-through variable honoured.
"""

from __future__ import annotations

from preflight.core.result import Outcome
from preflight.judge import variables as judge
from preflight.run.check import Check
from preflight.run.context import Context


class EnvPolicy(Check):
    name = "env.policy"

    def attempt(self, ctx: Context) -> Outcome:
        return judge.judge_environment(ctx.config.profile, ctx.config.engines_env)
