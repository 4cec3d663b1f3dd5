"""env.policy: the engines' start-up environment rules, judged before any I/O.

The rules are the profile's `environment` section (ENGINES.md §1 in the built-in one):
values are compared as the engines read them — empty as unset where they treat it so,
lower-cased where they lower-case, never trimmed, a fall-through variable honoured.
"""

from __future__ import annotations

from collections.abc import Mapping

from preflight.checks.base import Check, Context
from preflight.contract.profile import Profile
from preflight.core.findings import summarise
from preflight.judge.variables import judge as judge_variables
from preflight.report.verdict import Outcome


def judge(profile: Profile, env: Mapping[str, str | None]) -> Outcome:
    findings = judge_variables(profile.environment, env, severity="fail")
    return summarise(findings, what="environment rule(s) broken",
                     passed="the engines' environment rules hold", key="violations")


class EnvPolicy(Check):
    name = "env.policy"

    def attempt(self, ctx: Context) -> Outcome:
        return judge(ctx.config.profile, ctx.config.engines_env)
