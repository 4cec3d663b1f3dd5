"""The gcs probe's one read-only call, its answer as data."""

from __future__ import annotations

from preflight.contract.targets.gcs import GcsEndpoint
from preflight.observe.probing import Clients
from preflight.observe.rest import HttpObservation


def observe(endpoint: GcsEndpoint, timeout: float, clients: Clients,
            ) -> HttpObservation:
    from urllib.parse import quote

    from google.auth.exceptions import DefaultCredentialsError

    from preflight.observe import rest

    credentials = None
    if not endpoint.emulator:
        try:
            credentials, _project = clients.cached("google.rest.credentials",
                                                  rest.google_credentials)
        except DefaultCredentialsError:
            return HttpObservation(0, no_credentials=True)
    url = f"{endpoint.api_root}/storage/v1/b/{quote(endpoint.bucket, safe='')}/o"
    return rest.get(rest.google_session(credentials), url, timeout,
                    params={"maxResults": "1", "fields": "kind"})
