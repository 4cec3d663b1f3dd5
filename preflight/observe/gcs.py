"""List at most one object of the bucket with google-cloud-storage, as the engines build it.

`storage.Client(project=project)` (docs/ENGINES.md §5.8): the library resolves Application
Default Credentials, or takes none when STORAGE_EMULATOR_HOST is set, as the engines' does.
One call, bounded by the call timeout, the library's retries off.
"""

from __future__ import annotations

from preflight.contract.targets.gcs import GcsEndpoint
from preflight.observe.clients import Clients
from preflight.observe.google_api import ApiAnswer, answer, no_retry, refusal


def observe(endpoint: GcsEndpoint, timeout: float, clients: Clients) -> ApiAnswer:
    from google.cloud import storage  # type: ignore[attr-defined]

    try:
        client = storage.Client(project=endpoint.project)
    except Exception as error:  # noqa: BLE001 - refusal() raises again what is not one
        return refusal(error)
    try:
        return answer(lambda: next(iter(client.list_blobs(
            endpoint.bucket, max_results=1, timeout=timeout, retry=no_retry()).pages), None))
    finally:
        client.close()
