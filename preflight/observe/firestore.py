"""Reads of the routing collection, shaped like the engines' own lookups.

Every error the client raises leaves as `Transient` or `Refused` (observe/errors.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from preflight.contract.route_model import RouteDoc
from preflight.contract.targets.firestore import FirestoreEndpoint
from preflight.observe.clients import Clients
from preflight.observe.errors import Refused, classify
from preflight.observe.google_api import no_retry

PAGE_SIZE = 2000


@dataclass(frozen=True)
class FirestoreObservation:
    documents: int | None  # None when the read was refused
    error: str | None = None  # the refusal's kind, e.g. PermissionDenied

# Every field of the engines' route model, and `self`, the one extra field that crashes it
# (its `__init__(self, **data)`); a projection keeps unrelated payload off the wire.
ROUTE_FIELDS = (
    "id", "resource_kind", "tenant_id", "env", "backend_type", "project_id", "surface_id",
    "config", "required", "created_at", "updated_at", "tier", "health_status", "cost_notes",
    "previous_backend_type", "switch_rationale", "last_switch_time", "self",
)


# gRPC waits up to 120 s between reconnects to a server that went away, and channels share
# that back-off through the global subchannel pool. A dependency that comes back must be
# seen by the next attempt: reconnect within a second, on a channel of our own.
# Not grpc.min_reconnect_backoff_ms: gRPC also takes it as the minimum time it gives one
# connection to complete (MIN_CONNECT_TIMEOUT, 20 s by default). At 100 ms, a TLS
# handshake with a Firestore more than ~40 ms away, or a cold emulator, could never finish.
RECONNECT_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.use_local_subchannel_pool", 1),
)


def make_client(project: str, database: str | None, credentials: Any | None) -> Any:
    """database None: the client's default, as the engines' `firestore.Client(project=…)`."""
    from google.cloud.firestore_v1 import base_client
    from google.cloud.firestore_v1.client import Client

    # The client builds its channel from these module-level option lists (the emulator's and
    # Google's); it offers no parameter for channel options.
    for options in (base_client._GRPC_MSG_SIZE_OPTIONS, base_client._DEFAULT_CHANNEL_OPTIONS):
        options.extend(option for option in RECONNECT_OPTIONS if option not in options)
    return Client(project=project, database=database, credentials=credentials)


@contextmanager
def classified() -> Iterator[None]:
    """Firestore's answers as Transient (try again) or Refused (PermissionDenied, NotFound…)."""
    try:
        yield
    except Exception as error:
        raise classify(error) from error


def sample(client: Any, collection: str, timeout: float) -> int:
    """Reads at most one document id: proves reachability, permission and the database."""
    with classified():
        query = client.collection(collection).select([]).limit(1)
        return sum(1 for _ in query.stream(retry=no_retry(), timeout=timeout))


class Pages:
    """All documents matching the filters: (field, "==", value) — None means a present
    null — or (field, "in", values).

    Read in pages ordered by document id, each page one call bounded by its own timeout,
    so a large result never has to arrive within a single call's deadline, and the pages
    already read survive a retry.
    """

    def __init__(self, collection: str, filters: Sequence[tuple[str, str, Any]],
                 fields: Sequence[str] = ROUTE_FIELDS, page_size: int = PAGE_SIZE) -> None:
        self._collection = collection
        self._filters = tuple(filters)
        self._fields = list(fields)
        self._page_size = page_size
        self._last: Any = None
        self._lock = threading.Lock()
        self.docs: list[RouteDoc] = []
        self.done = False
        self.calls = 0

    def _query(self, client: Any) -> Any:
        from google.cloud.firestore_v1.base_query import FieldFilter
        from google.cloud.firestore_v1.field_path import FieldPath

        query = client.collection(self._collection)
        for name, operator, value in self._filters:
            query = query.where(filter=FieldFilter(
                name, operator, list(value) if operator == "in" else value))
        return query.select(self._fields).order_by(FieldPath.document_id())

    def read(self, client: Any, call_timeout: Callable[[], float]) -> list[RouteDoc]:
        """Reads the remaining pages with `client` (a retry may bring a fresh one)."""
        with self._lock, classified():
            base = self._query(client)
            while not self.done:
                query = base.limit(self._page_size)
                if self._last is not None:
                    query = query.start_after(self._last)
                page = list(query.stream(retry=no_retry(), timeout=call_timeout()))
                self.calls += 1
                self.docs.extend(RouteDoc(s.id, s.to_dict() or {}) for s in page)
                self.done = len(page) < self._page_size
                self._last = page[-1] if page else self._last
            return self.docs


def observe(endpoint: FirestoreEndpoint, timeout: float, clients: Clients,
            ) -> FirestoreObservation:
    """A refusal comes back as data; transient trouble is raised (observe/errors.py). Any
    collection proves access: the registry's, which the IAM documents name."""
    # No credentials given: the client resolves them as the engines' own client does.
    client = make_client(endpoint.project, None, None)
    try:
        return FirestoreObservation(sample(client, clients.config.collection, timeout))
    except Refused as refusal:
        return FirestoreObservation(None, refusal.kind)
    finally:
        client.close()
