"""What the bigquery probe's answer means for the engines."""

from __future__ import annotations

from preflight.contract.targets.bigquery import BigQueryEndpoint
from preflight.core.result import Outcome
from preflight.judge.backends import failed, http_trouble, passed
from preflight.observe.bigquery import TableObservation


def judge(endpoint: BigQueryEndpoint, seen: TableObservation) -> Outcome:
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
