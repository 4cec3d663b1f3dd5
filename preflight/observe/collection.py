"""The audit's reads: a collection in pages, one bounded call each, resumable; and counts.

`preflight audit` reads every route document. A page is one query (`order_by(__name__)`,
`limit`, `start_after` the last document handed over), so no call has to carry the whole
collection inside one deadline, and a transient error mid-page costs only the rest of that
page: the cursor moves with every document handed to the caller, so a retry restarts right
after the last one, never reading a document twice. Ordering by document id (not by a field)
matters: Firestore leaves out of an ordered query every document lacking the ordered field,
and documents lacking fields are exactly what an audit must see.

`TenantRangeScan` reads one range of the `tenant_id` index the same way (a shard of the
audit, preflight/audit/shards.py): ordered by tenant_id, then document id, from one cursor
value to another, so a tenant's documents arrive together. `TenantIndex` answers the
questions that range is found with: COUNT aggregations (billed one read per 1,000 index
entries they count) and single tenant ids (one read each); cursors in a COUNT carry values
only, one per ordered field.

Every error the client raises leaves as `Transient` or `Refused` (observe/errors.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from preflight.observe.firestore import ROUTE_FIELDS, classified
from preflight.observe.google_api import no_retry

PAGE_SIZE = 1000


class CollectionScan:
    """Hands every document to `each(doc_id, data)` once, across any number of attempts."""

    def __init__(self, collection: str, fields: Sequence[str] = ROUTE_FIELDS,
                 page_size: int = PAGE_SIZE) -> None:
        self._collection = collection
        self._fields = list(fields)
        self._page_size = page_size
        self._last: Any = None  # the snapshot of the last document handed over
        self._lock = threading.Lock()
        self.documents = 0
        self.calls = 0
        self.resumed = 0  # attempts that restarted after a document already handed over
        self.last_id: str | None = None
        self.done = False

    def _query(self, client: Any) -> Any:
        from google.cloud.firestore_v1.field_path import FieldPath

        return client.collection(self._collection).select(self._fields).order_by(
            FieldPath.document_id())

    def read(self, client: Any, call_timeout: Callable[[], float],
             each: Callable[[str, dict[str, Any]], None],
             on_page: Callable[[CollectionScan], None] | None = None,
             until: Callable[[], bool] = lambda: False) -> None:
        """Reads what is still unread (or until `until()` holds after a page); raises
        Transient mid-way, and resumes on the next call."""
        with self._lock, classified():
            base = self._query(client)
            if self._last is not None and not self.done:
                self.resumed += 1
            while not self.done and not until():
                query = base.limit(self._page_size)
                if self._last is not None:
                    query = query.start_after(self._last)
                count = 0
                self.calls += 1
                for snapshot in query.stream(retry=no_retry(), timeout=call_timeout()):
                    each(snapshot.id, snapshot.to_dict() or {})
                    self._last = snapshot
                    self.last_id = snapshot.id
                    self.documents += 1
                    count += 1
                self.done = count < self._page_size
                if on_page is not None:
                    on_page(self)


TENANT = "tenant_id"


class TenantRangeScan(CollectionScan):
    """The documents whose tenant_id is in [start, end) of the index, in its order.

    None as `start` is the index's beginning (values of every type before the strings), as
    `end` its end (bytes, references, geo points, arrays and maps after them). A document
    without tenant_id is in no range.
    """

    def __init__(self, collection: str, start: str | None, end: str | None) -> None:
        super().__init__(collection)
        self.start = start
        self.end = end

    def _query(self, client: Any) -> Any:
        query = client.collection(self._collection).select(self._fields).order_by(TENANT)
        if self.start is not None:
            query = query.start_at({TENANT: self.start})
        if self.end is not None:
            query = query.end_before({TENANT: self.end})
        return query


class TenantIndex:
    """The tenant_id index, asked what the shards' boundaries are found with.

    Bound to a client and a call timeout per attempt (`bind`); what it counted stays with
    the caller. `aggregations`, `counted` and `reads` say what the questions cost.
    """

    def __init__(self, collection: str) -> None:
        self._collection = collection
        self._client: Any = None
        self._timeout: Callable[[], float] = lambda: 5.0
        self._count_timeout: Callable[[], float] = lambda: 5.0
        self.aggregations = 0
        self.counted = 0  # index entries the COUNTs matched: billed one read per 1,000
        self.reads = 0  # single tenant ids read: one document read each

    def bind(self, client: Any, call_timeout: Callable[[], float],
             count_timeout: Callable[[], float]) -> TenantIndex:
        """A COUNT's latency grows with the entries it counts: it gets a bound of its own."""
        self._client, self._timeout, self._count_timeout = client, call_timeout, count_timeout
        return self

    def _count(self, query: Any) -> int:
        with classified():
            (result,), = query.count().get(retry=no_retry(), timeout=self._count_timeout())
        self.aggregations += 1
        self.counted += int(result.value)
        return int(result.value)

    def count(self, start: str | None, end: str | None) -> int:
        query = self._client.collection(self._collection).order_by(TENANT)
        if start is not None:
            query = query.start_at({TENANT: start})
        if end is not None:
            query = query.end_before({TENANT: end})
        return self._count(query)

    def count_all(self) -> int:
        """Every document of the collection, those without tenant_id included."""
        return self._count(self._client.collection(self._collection))

    def _one(self, query: Any) -> str | None:
        with classified():
            found = [snapshot.get(TENANT) for snapshot in query.select([TENANT]).limit(1).stream(
                retry=no_retry(), timeout=self._timeout())]
        self.reads += 1
        value = found[0] if found else None
        return value if isinstance(value, str) else None

    def _strings(self, at_least: str, below: str | None) -> Any:
        """Documents whose tenant_id is a string in [at_least, below): a range filter
        matches values of its own type only."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._client.collection(self._collection).where(
            filter=FieldFilter(TENANT, ">=", at_least))
        if below is not None:
            query = query.where(filter=FieldFilter(TENANT, "<", below))
        return query

    def first_string(self, at_least: str, end: str | None) -> str | None:
        return self._one(self._strings(at_least, end).order_by(TENANT))

    def last_string(self, below: str | None) -> str | None:
        return self._one(self._strings("", below).order_by(TENANT, direction="DESCENDING"))
