"""bigquery: the Nexus events table exists (NEXUS_BACKEND=bigquery or bq).

The engines build `bigquery.Client()` and write to `NEXUS_BQ_DATASET or "nexus_events"` .
`NEXUS_BQ_TABLE or "dataset_events"` (engines/nexus/backends/bigquery_backend.py). Their
client's project is google-cloud-core's: GOOGLE_CLOUD_PROJECT (or GCLOUD_PROJECT), else
the credentials' project; GCP_PROJECT_ID plays no part. BIGQUERY_EMULATOR_HOST points it
at an emulator, as google-cloud-bigquery does. The probe is tables.get; on a 404 it asks
for the dataset too, to say which of the two is missing. The engines swallow BigQuery
errors when they write (`{"status": "error"}`), so a missing table would go unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import (
    Endpoint,
    Finding,
    HttpObservation,
    ProbeResult,
    ProbeSubject,
    Shared,
    env_text,
    failed,
    http_trouble,
    passed,
)

API_ROOT = "https://bigquery.googleapis.com"
DEFAULT_DATASET = "nexus_events"
DEFAULT_TABLE = "dataset_events"


@dataclass(frozen=True, repr=False)
class BigQueryEndpoint(Endpoint):
    backend = "bigquery"
    project: str | None = field(repr=False)  # None: the credentials' project
    dataset: str = field(repr=False)
    table: str = field(repr=False)
    api_root: str = field(default=API_ROOT, repr=False)
    emulator: bool = False


@dataclass(frozen=True)
class TableObservation:
    table: HttpObservation
    dataset: HttpObservation | None = None  # asked only when the table was not found
    no_project: bool = False


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> BigQueryEndpoint | Finding:
    dataset = env_text(environ, "NEXUS_BQ_DATASET")
    table = env_text(environ, "NEXUS_BQ_TABLE")
    project = env_text(environ, "GOOGLE_CLOUD_PROJECT") or env_text(environ, "GCLOUD_PROJECT")
    emulator = env_text(environ, "BIGQUERY_EMULATOR_HOST")
    table_part = "in NEXUS_BQ_TABLE" if table else f"{DEFAULT_TABLE} (the default)"
    dataset_part = "in NEXUS_BQ_DATASET" if dataset else f"{DEFAULT_DATASET} (the default)"
    project_part = ("the credentials' project" if not project else "GOOGLE_CLOUD_PROJECT"
                    if env_text(environ, "GOOGLE_CLOUD_PROJECT") else "GCLOUD_PROJECT")
    where = f"table {table_part} of dataset {dataset_part} in {project_part}"
    return BigQueryEndpoint(project=project, dataset=dataset or DEFAULT_DATASET,
                            table=table or DEFAULT_TABLE,
                            api_root=(emulator or API_ROOT).rstrip("/"),
                            emulator=emulator is not None, where=where)


def observe(endpoint: BigQueryEndpoint, timeout: float, shared: Shared) -> TableObservation:
    from urllib.parse import quote

    from google.auth.exceptions import DefaultCredentialsError

    from preflight.observe import rest

    credentials, project = None, endpoint.project
    if not endpoint.emulator:
        try:
            credentials, adc_project = shared("google.rest.credentials", rest.google_credentials)
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


def judge(endpoint: BigQueryEndpoint, seen: TableObservation) -> ProbeResult:
    where = endpoint.where
    if seen.no_project:
        return failed(f"no project for the {where}: neither GOOGLE_CLOUD_PROJECT nor the "
                      "credentials name one",
                      "set GOOGLE_CLOUD_PROJECT (the BigQuery client does not read "
                      "GCP_PROJECT_ID), or use credentials that carry a project")
    answer = seen.table
    if answer.status == 404 and seen.dataset is not None and seen.dataset.status == 200:
        return failed(f"the {where} does not exist (its dataset does)",
                      "create the table, or fix NEXUS_BQ_TABLE")
    if answer.status == 404 and seen.dataset is not None and seen.dataset.status == 404:
        return failed(f"the dataset of the {where} does not exist",
                      "create the dataset and the table, or fix NEXUS_BQ_DATASET / the project")
    if answer.status == 404 and seen.dataset is not None:
        answer = seen.dataset
    trouble = http_trouble("BigQuery", f"the {where}", answer)
    if trouble:
        return trouble
    if answer.status == 200:
        return passed(f"the {where} exists")
    if answer.status == 403:
        return failed(f"this principal may not read the {where} (403"
                      f"{', ' + answer.reason if answer.reason else ''})",
                      "grant the workload's service account roles/bigquery.dataEditor on the "
                      "dataset (the engines insert rows) and enable the BigQuery API")
    if answer.status == 404:
        return failed(f"the {where} does not exist",
                      "create the dataset and the table, or fix NEXUS_BQ_DATASET / "
                      "NEXUS_BQ_TABLE / the project")
    return failed(f"BigQuery answered {answer.status} for the {where}",
                  "check the project, dataset and table names and the credentials")
