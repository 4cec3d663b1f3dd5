"""Read a Cosmos DB database (and container) with azure-cosmos, as the engines build it.

`CosmosClient(endpoint, credential=key)` reads the database account while it is built
(docs/ENGINES.md §5.4), then `get_database_client(database).read()` and, for a container
the profile names, `get_container_client(container).read()`. Bounded by the call timeout:
every request and the operation as a whole, the client's throttling and connection retries
off, and its retries of the account read (AZURE_COSMOS_HEALTH_CHECK_MAX_RETRIES, read on
every request) set to none unless the environment says otherwise. The library's logging
and exception texts are never used.
"""

from __future__ import annotations

import binascii
import logging
import os
from dataclasses import dataclass
from typing import Any

from preflight.contract.targets.cosmos import CosmosEndpoint
from preflight.observe.clients import Clients
from preflight.observe.errors import classify, is_transient

ACCOUNT_READ_RETRIES = "AZURE_COSMOS_HEALTH_CHECK_MAX_RETRIES"


@dataclass(frozen=True)
class CosmosObservation:
    """The account's definitive answer: 200, or the refusal's status and where."""

    status: int
    read: str = "container"  # what answered last: account, database or container
    code: str | None = None  # the refusal's class, e.g. CosmosResourceNotFoundError
    malformed: bool = False  # the client refused the key itself: it is not base64


def _refusal(error: Exception, read: str) -> CosmosObservation:
    status = getattr(error, "status_code", None)
    if not isinstance(status, int) or is_transient(error):
        raise classify(error) from error
    return CosmosObservation(status, read, type(error).__name__)


def observe(endpoint: CosmosEndpoint, timeout: float, clients: Clients) -> CosmosObservation:
    logging.getLogger("azure").setLevel(logging.CRITICAL)
    os.environ.setdefault(ACCOUNT_READ_RETRIES, "0")
    from azure.cosmos import CosmosClient, documents
    from azure.cosmos._retry_options import RetryOptions

    policy = documents.ConnectionPolicy()
    policy.RetryOptions = RetryOptions(max_retry_attempt_count=0)
    bounds: dict[str, Any] = {"connection_timeout": timeout, "read_timeout": timeout,
                              "timeout": timeout}
    read = "account"
    try:
        with CosmosClient(endpoint.url, credential=endpoint.key, connection_policy=policy,
                          retry_total=0, **bounds) as client:
            read = "database"
            database = client.get_database_client(endpoint.database)
            database.read(**bounds)
            if endpoint.container is not None:
                read = "container"
                database.get_container_client(endpoint.container).read(**bounds)
            return CosmosObservation(200, read)
    except binascii.Error:
        return CosmosObservation(0, read, malformed=True)
    except Exception as error:  # noqa: BLE001 - _refusal() raises again what is not one
        return _refusal(error, read)
