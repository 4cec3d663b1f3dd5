"""Reads of a Cosmos DB database and container over its REST API, signed with the master key.

The signature is Cosmos's documented master-key token (HMAC-SHA256 over verb, resource
type, resource link and date); tests/test_backends_recorded.py checks it against the
example in Microsoft's documentation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import quote

from preflight.contract.targets.cosmos import CosmosEndpoint
from preflight.observe.probing import Clients
from preflight.observe.rest import HttpObservation


@dataclass(frozen=True)
class CosmosObservation:
    database: HttpObservation
    container: HttpObservation | None = None  # read only when the database exists


API_VERSION = "2018-12-31"


def master_token(key: str, verb: str, resource_type: str, resource_link: str, date: str) -> str:
    payload = f"{verb.lower()}\n{resource_type.lower()}\n{resource_link}\n{date.lower()}\n\n"
    digest = hmac.new(base64.b64decode(key), payload.encode("utf-8"), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode("ascii")
    return quote(f"type=master&ver=1.0&sig={signature}", safe="")


def _headers(endpoint: CosmosEndpoint, resource_type: str, link: str) -> dict[str, str]:
    date = formatdate(usegmt=True)
    return {"Authorization": master_token(endpoint.key, "GET", resource_type, link, date),
            "x-ms-date": date, "x-ms-version": API_VERSION, "Accept": "application/json"}


def read(endpoint: CosmosEndpoint, timeout: float) -> CosmosObservation:
    import requests

    from preflight.observe import rest

    with requests.Session() as session:
        link = f"dbs/{endpoint.database}"
        database = rest.get(session, f"{endpoint.url}/{quote(link)}", timeout,
                            headers=_headers(endpoint, "dbs", link))
        if database.status != 200 or endpoint.container is None:
            return CosmosObservation(database)
        link = f"{link}/colls/{endpoint.container}"
        container = rest.get(session, f"{endpoint.url}/{quote(link)}", timeout,
                             headers=_headers(endpoint, "colls", link))
        return CosmosObservation(database, container)


def observe(endpoint: CosmosEndpoint, timeout: float, clients: Clients) -> CosmosObservation:
    return read(endpoint, timeout)
