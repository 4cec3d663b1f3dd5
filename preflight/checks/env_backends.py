"""env.backends: the variables that choose a backend when the engines first need it.

Several of them fall back to memory silently when unset or misspelt — exactly what the
real-infra contract forbids — and some need more variables (a Redis host and port, a
memory folder). The rules are the profile's `backend_variables`; built in, they warn.
"""

from __future__ import annotations

from collections.abc import Mapping

from preflight.checks.base import Check, Context
from preflight.contract.profile import Profile
from preflight.core.findings import summarise
from preflight.judge.variables import judge as judge_variables
from preflight.report.verdict import Outcome


def judge(profile: Profile, env: Mapping[str, str | None]) -> Outcome:
    findings = judge_variables(profile.backend_variables, env, severity="warn")
    return summarise(findings, what="backend variable(s) not durable",
                     passed="every backend variable names a durable backend", key="violations")


class EnvBackends(Check):
    name = "env.backends"
    phase = "first_use"

    def attempt(self, ctx: Context) -> Outcome:
        return judge(ctx.config.profile, ctx.config.engines_env)
