"""Get a container's properties with azure-storage-blob: retries off, every call bounded.

The library parses the connection string exactly as the engines' client does. Its own
logging (request URLs, headers) is silenced; its exception texts are never used.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from preflight.contract.targets.azure_blob import AzureBlobEndpoint
from preflight.observe.clients import Clients
from preflight.observe.errors import classify, is_transient


@dataclass(frozen=True)
class ContainerObservation:
    status: int  # 200, or the refusal's status; 0 when the client refused the string itself
    error_code: str | None = None  # Azure's x-ms-error-code, e.g. ContainerNotFound
    malformed: bool = False  # the library refused the connection string itself


def observe(endpoint: AzureBlobEndpoint, timeout: float, clients: Clients,
            ) -> ContainerObservation:
    logging.getLogger("azure").setLevel(logging.CRITICAL)
    from azure.core.exceptions import HttpResponseError
    from azure.storage.blob import BlobServiceClient

    try:
        service = BlobServiceClient.from_connection_string(
            endpoint.connection_string, retry_total=0, connection_timeout=timeout,
            read_timeout=timeout)
    except (ValueError, KeyError, TypeError, IndexError):
        return ContainerObservation(0, malformed=True)
    try:
        service.get_container_client(endpoint.container).get_container_properties(
            timeout=max(1, math.ceil(timeout)))
        return ContainerObservation(200)
    except HttpResponseError as error:
        if is_transient(error):
            raise classify(error) from error
        return ContainerObservation(int(error.status_code or 0),
                                    error_code=str(getattr(error, "error_code", "") or "") or None)
    except Exception as error:
        raise classify(error) from error
    finally:
        service.close()
