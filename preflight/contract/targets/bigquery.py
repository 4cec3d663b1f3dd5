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

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, env_text

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


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> BigQueryEndpoint | Unbuildable:
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


