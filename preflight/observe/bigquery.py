"""Get the Nexus events table with google-cloud-bigquery, as the engines build the client.

`bigquery.Client()` with no argument (docs/ENGINES.md §5.8): the library chooses the
project, the credentials and (BIGQUERY_EMULATOR_HOST) the host. tables.get, bounded by the
call timeout with the library's retries off; on a 404, datasets.get says which is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.contract.targets.bigquery import BigQueryEndpoint
from preflight.observe.clients import Clients
from preflight.observe.google_api import ApiAnswer, answer, no_retry, refusal


@dataclass(frozen=True)
class TableObservation:
    table: ApiAnswer
    dataset: ApiAnswer | None = None  # asked only when the table was not found
    no_project: bool = False  # neither the environment nor the credentials name one


def observe(endpoint: BigQueryEndpoint, timeout: float, clients: Clients) -> TableObservation:
    from google.cloud import bigquery

    try:
        client = bigquery.Client()
    except Exception as error:  # noqa: BLE001 - refusal() raises again what is not one
        if type(error) is OSError:  # google-cloud-core: "Project was not passed and could
            return TableObservation(ApiAnswer(0), no_project=True)  # not be determined"
        return TableObservation(refusal(error))
    try:
        dataset = bigquery.DatasetReference(client.project, endpoint.dataset)
        table = answer(lambda: client.get_table(dataset.table(endpoint.table), retry=no_retry(),
                                                timeout=timeout))
        if table.status != 404:
            return TableObservation(table)
        return TableObservation(table, answer(lambda: client.get_dataset(
            dataset, retry=no_retry(), timeout=timeout)))
    finally:
        client.close()
