"""The bigquery probe's one read-only call, its answer as data."""

from __future__ import annotations

from dataclasses import dataclass

from preflight.contract.targets.bigquery import BigQueryEndpoint
from preflight.observe.probing import Clients
from preflight.observe.rest import HttpObservation


@dataclass(frozen=True)
class TableObservation:
    table: HttpObservation
    dataset: HttpObservation | None = None  # asked only when the table was not found
    no_project: bool = False


def observe(endpoint: BigQueryEndpoint, timeout: float, clients: Clients,
            ) -> TableObservation:
    from urllib.parse import quote

    from google.auth.exceptions import DefaultCredentialsError

    from preflight.observe import rest

    credentials, project = None, endpoint.project
    if not endpoint.emulator:
        try:
            credentials, adc_project = clients.cached("google.rest.credentials",
                                                  rest.google_credentials)
        except DefaultCredentialsError:
            return TableObservation(HttpObservation(0, no_credentials=True))
        project = project or adc_project
    if not project:
        return TableObservation(HttpObservation(0), no_project=True)
    session = rest.google_session(credentials)
    dataset_url = (f"{endpoint.api_root}/bigquery/v2/projects/{quote(project, safe='')}"
                   f"/datasets/{quote(endpoint.dataset, safe='')}")
    table = rest.get(session, f"{dataset_url}/tables/{quote(endpoint.table, safe='')}",
                     timeout, params={"fields": "id"})
    if table.status != 404:
        return TableObservation(table)
    return TableObservation(table, rest.get(session, dataset_url, timeout,
                                            params={"fields": "id"}))
