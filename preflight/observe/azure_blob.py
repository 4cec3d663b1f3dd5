"""Get a container's properties with azure-storage-blob: retries off, every call bounded.

The library parses the connection string exactly as the engines' client does. Its own
logging (request URLs, headers) is silenced; its exception texts are never used.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from preflight.contract.targets.azure_blob import AzureBlobEndpoint
from preflight.observe.probing import Clients


@dataclass(frozen=True)
class ContainerObservation:
    status: int  # 200, the refusal's status, or 0 when there was no answer
    error_code: str | None = None  # Azure's x-ms-error-code, e.g. ContainerNotFound
    transport_error: str | None = None  # the class of the error when there was no answer
    malformed: bool = False  # the library refused the connection string itself


def container_properties(endpoint: AzureBlobEndpoint, timeout: float) -> ContainerObservation:
    logging.getLogger("azure").setLevel(logging.CRITICAL)
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
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
        return ContainerObservation(int(error.status_code or 0) or 500,
                                    error_code=str(getattr(error, "error_code", "") or "") or None)
    except (ServiceRequestError, ServiceResponseError) as error:
        return ContainerObservation(0, transport_error=type(error).__name__)
    finally:
        service.close()


def observe(endpoint: AzureBlobEndpoint, timeout: float, clients: Clients) -> ContainerObservation:
    return container_properties(endpoint, timeout)
