"""routing.entries: each start-up scope has a valid, allowed route for every required kind.

Routes are found exactly as the engines find them: by field equality on resource_kind,
tenant_id, env and project_id (a null project matches only a present null field), never by
document id, one query per (env, project) group of scopes' tenants (observe/registry.py).
The documents are judged as the engines' start-up judges them (judge/routes.py).
"""

from __future__ import annotations

from typing import Any

from preflight.checks.base import RegistryCheck
from preflight.core.result import Outcome
from preflight.judge import routes as judge
from preflight.run.context import Context


class RoutingEntries(RegistryCheck):
    name = "routing.entries"

    def judge_registry(self, ctx: Context) -> Outcome:
        config = ctx.config
        profile = config.profile
        docs = ctx.routes()
        engines_refused = frozenset(profile.refused_all)
        startup_kinds = frozenset(profile.kinds_at("startup"))
        findings = {scope: judge.judge_scope(
            config.kinds, docs.get(scope, ()), config.disallowed_for(scope.env),
            startup_kinds if scope == profile.startup_scope else frozenset(),
            engines_refused) for scope in config.scopes}
        queries = ctx.registry().calls
        # Near misses: read only for failing scopes, only their own tenant's routes.
        for scope in [s for s in config.scopes if findings[s].missing][:judge.MAX_HINTS]:
            nearby = ctx.nearby(scope)
            findings[scope].hints = judge.near_misses(scope, findings[scope].missing,
                                                      nearby.docs)
            queries += nearby.calls
        more: dict[str, Any] = {}
        if config.disallowed_by_env:
            more["per_env_rules"], unmatched = config.per_env_rules(config.scopes)
            if unmatched:
                more["per_env_rules_unmatched"] = unmatched
        return judge.summarise_scopes(config.kinds, findings, queries, more)
