"""The registry `preflight audit` is measured on, and a fast way to seed it (issue 13).

The healthy start-up scope (18 documents) and serving scopes of 17 documents each (100,000
documents: 5,881 scopes): the 14 request-time kinds, healthy, plus three agreeing
duplicates under the `{kind}#…` id convention, as the engines' upsert API leaves them (each
such scope warns). One scope in a
hundred has a refused backend (it fails), so the audit judges, renders and exits 1 as it
would on a real fleet, and the bench checks the counts it reports.

Seeding goes through the real Firestore client, as the tests do, but in batches committed
from a few threads at once: one thread commits 100,000 documents too slowly for a bench.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any

from tests import seed
from tests.audit_fleet import SERVING_KINDS, serving_route, startup_scope

PER_SCOPE = len(SERVING_KINDS) + 3
DUPLICATED = ("object_store", "chat_store", "notes_store")
BROKEN_EVERY = 100
BATCH = 400
WRITERS = 4


STARTUP = len(startup_scope())


def scope_count(documents: int) -> int:
    """Serving scopes in a fleet of about `documents` documents."""
    return (documents - STARTUP) // PER_SCOPE


def fleet(documents: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """About `documents` route documents (whole scopes), generated lazily."""
    yield from startup_scope().items()
    for number in range(scope_count(documents)):
        tenant = f"t_{number:05d}"
        for kind in SERVING_KINDS:
            doc_id, route = serving_route(kind, tenant)
            if kind == "notes_store" and number % BROKEN_EVERY == 0:
                route["backend_type"] = "memory"
            yield doc_id, route
            if kind in DUPLICATED:
                yield doc_id.replace("-", "#"), dict(route)


def expected(documents: int) -> dict[str, int]:
    """What the audit must report for `fleet(documents)`."""
    scopes = scope_count(documents)
    failing = len(range(0, scopes, BROKEN_EVERY))
    return {"documents": STARTUP + scopes * PER_SCOPE, "scopes": scopes + 1, "fail": failing,
            "warn": scopes - failing, "pass": 1}


def write(address: str, project: str, documents: int) -> int:
    """Seeds `fleet(documents)` into the project; returns how many documents it wrote."""
    client = seed.firestore_client(address, project)
    collection = client.collection("routing_registry")

    def commit(chunk: list[tuple[str, dict[str, Any]]]) -> int:
        batch = client.batch()
        for doc_id, fields in chunk:
            batch.set(collection.document(doc_id), fields)
        batch.commit()
        return len(chunk)

    source = fleet(documents)
    chunks = iter(lambda: list(islice(source, BATCH)), [])
    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            return sum(pool.map(commit, chunks))
    finally:
        client.close()
