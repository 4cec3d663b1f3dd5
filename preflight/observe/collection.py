"""A whole collection, read in document-id order, one bounded call per page, resumable.

`preflight audit` reads every route document. A page is one query (`order_by(__name__)`,
`limit`, `start_after` the last document handed over), so no call has to carry the whole
collection inside one deadline, and a transient error mid-page costs only the rest of that
page: the cursor moves with every document handed to the caller, so a retry restarts right
after the last one, never reading a document twice. Ordering by document id (not by a field)
matters: Firestore leaves out of an ordered query every document lacking the ordered field,
and documents lacking fields are exactly what an audit must see.

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
             on_page: Callable[[CollectionScan], None] | None = None) -> None:
        """Reads what is still unread; raises Transient mid-way, and resumes on the next call."""
        with self._lock, classified():
            base = self._query(client)
            if self._last is not None and not self.done:
                self.resumed += 1
            while not self.done:
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
