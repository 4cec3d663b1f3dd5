"""The floor `preflight audit` is measured against: the same client streaming the collection.

The same query as the audit's read (preflight/observe/collection.py: the route fields,
ordered by tenant_id then document id, pages of the same size, each after the last
document), handing every document to a function that does nothing. Prints the number of
documents read.
Environment: FIRESTORE_EMULATOR_HOST, GCP_PROJECT_ID.
"""

from __future__ import annotations

import os
from typing import Any

from google.cloud import firestore

from preflight.observe.collection import TenantRangeScan

# One page's call, here and for the audit it is compared with (bench/run.py): the emulator
# scans the whole collection for every page, seconds at 100,000 documents (Firestore does not).
CALL_TIMEOUT = 300.0


def main() -> None:
    client = firestore.Client(project=os.environ["GCP_PROJECT_ID"])
    scan = TenantRangeScan("routing_registry", None, None)

    def nothing(doc_id: str, data: dict[str, Any]) -> None:
        return None

    scan.read(client, lambda: CALL_TIMEOUT, nothing)
    print(scan.documents)


if __name__ == "__main__":
    main()
