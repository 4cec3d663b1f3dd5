"""Reads of the routing collection, shaped like the engines' own lookups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

# Every field of the engines' route model; a projection keeps unrelated payload off the wire.
ROUTE_FIELDS = (
    "id", "resource_kind", "tenant_id", "env", "backend_type", "project_id", "surface_id",
    "config", "required", "created_at", "updated_at", "tier", "health_status", "cost_notes",
    "previous_backend_type", "switch_rationale", "last_switch_time",
)


class RouteDoc(NamedTuple):
    doc_id: str
    data: dict[str, Any]


def make_client(project: str, database: str, credentials: Any | None) -> Any:
    from google.cloud.firestore_v1.client import Client

    return Client(project=project, database=database, credentials=credentials)


def sample(client: Any, collection: str, timeout: float) -> int:
    """Reads at most one document id: proves reachability, permission and the database."""
    query = client.collection(collection).select([]).limit(1)
    return sum(1 for _ in query.stream(retry=None, timeout=timeout))


def fetch(client: Any, collection: str, equal: Sequence[tuple[str, Any]],
          timeout: float, fields: Sequence[str] = ROUTE_FIELDS) -> list[RouteDoc]:
    """All documents whose fields equal the given values (None means a present null)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = client.collection(collection)
    for name, value in equal:
        query = query.where(filter=FieldFilter(name, "==", value))
    query = query.select(list(fields))
    return [RouteDoc(snapshot.id, snapshot.to_dict() or {})
            for snapshot in query.stream(retry=None, timeout=timeout)]
