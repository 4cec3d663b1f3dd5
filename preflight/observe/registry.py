"""The routing registry as this run sees it: read once per round, shared by every check.

routing.entries (start-up scopes), routing.serving (serving and fixed scopes),
routing.backends and backends.reachable all judge the same documents. They are read with
the engines' own lookup shape — field equality on tenant_id, env and project_id, a null
project matching only a present null — one query per group of scopes, never per kind, in
pages whose progress survives a retry. Which document the engines would use is decided
in preflight.contract.lookups: the first match in document-id order.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from preflight.contract.route_model import RouteDoc
from preflight.core.scope import Scope
from preflight.observe import firestore

QUERY_WORKERS = 8


# Tenants named by one `tenant_id in [...]` query. Firestore allows at most 30 (it turns
# `in` into disjunctions). Its indexes serve each value at the same cost, but the emulator
# scans the collection once per value: 10 keeps each call well inside the attempt timeout
# there, at the price of more (parallel, cheap) calls on real Firestore.
TENANTS_PER_QUERY = 10

Filter = tuple[str, str, Any]  # (field, "==" or "in", value; a tuple of values for "in")


@dataclass(frozen=True)
class QueryPlan:
    """One Firestore query and the scopes it answers for."""

    filters: tuple[Filter, ...]
    scopes: tuple[Scope, ...]

    def assign(self, docs: Sequence[RouteDoc]) -> dict[Scope, list[RouteDoc]]:
        if len(self.scopes) == 1:
            return {self.scopes[0]: list(docs)}
        by_tenant: dict[str, list[RouteDoc]] = defaultdict(list)
        for doc in docs:
            tenant = doc.data.get("tenant_id")
            if isinstance(tenant, str):
                by_tenant[tenant].append(doc)
        return {scope: by_tenant.get(scope.tenant, []) for scope in self.scopes}


def plan_queries(scopes: Sequence[Scope]) -> list[QueryPlan]:
    """One query per (env, project) and up to TENANTS_PER_QUERY of its tenants.

    Real Firestore bills per document returned: a query must return only the asked scopes'
    routes, never the env's other tenants. Equality on env and project_id with `tenant_id ==
    T` (one tenant) or `tenant_id in [...]` does that; calls grow with the (env, project)
    pairs and their tenants / TENANTS_PER_QUERY, never with the kinds.
    """
    groups: dict[tuple[str, str | None], list[Scope]] = defaultdict(list)
    for scope in scopes:
        groups[(scope.env, scope.project)].append(scope)
    plans = []
    for (env, project), members in groups.items():
        for start in range(0, len(members), TENANTS_PER_QUERY):
            chunk = tuple(members[start:start + TENANTS_PER_QUERY])
            tenants = tuple(dict.fromkeys(scope.tenant for scope in chunk))
            tenant: Filter = (("tenant_id", "==", tenants[0]) if len(tenants) == 1
                              else ("tenant_id", "in", tenants))
            plans.append(QueryPlan((tenant, ("env", "==", env), ("project_id", "==", project)),
                                   chunk))
    return plans


class RegistryRead:
    """Every route document of every scope the run asks about; one instance per round."""

    def __init__(self, collection: str, scopes: Sequence[Scope]) -> None:
        self._collection = collection
        self._pages = {plan: firestore.Pages(collection, plan.filters)
                       for plan in plan_queries(scopes)}
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        return sum(pages.calls for pages in self._pages.values())

    def nearby(self, client: Any, call_timeout: Callable[[], float], scope: Scope,
               ) -> firestore.Pages:
        """Every document of the scope's tenant and env, project or not: for near misses."""
        pages = firestore.Pages(self._collection, (("tenant_id", "==", scope.tenant),
                                                   ("env", "==", scope.env)),
                                fields=("resource_kind", "tenant_id", "env", "project_id"))
        pages.read(client, call_timeout)
        return pages

    def by_scope(self, client: Any, call_timeout: Callable[[], float],
                 ) -> dict[Scope, list[RouteDoc]]:
        """Reads what is still unread (raising what is transient), then splits by scope."""
        with self._lock:
            pending = [pages for pages in self._pages.values() if not pages.done]
            if pending:
                from concurrent.futures import ThreadPoolExecutor  # --help stays light

                with ThreadPoolExecutor(max_workers=min(QUERY_WORKERS, len(pending))) as pool:
                    for future in [pool.submit(pages.read, client, call_timeout)
                                   for pages in pending]:
                        future.result()
        found: dict[Scope, list[RouteDoc]] = {}
        for plan, pages in self._pages.items():
            found.update(plan.assign(pages.docs))
        return found




