"""What the bigquery probe's answer means for the engines."""

from __future__ import annotations

from preflight.contract.targets.bigquery import BigQueryEndpoint
from preflight.core.result import Outcome
from preflight.judge.backends import failed, google_trouble, passed
from preflight.observe.bigquery import TableObservation

SERVICE = "BigQuery"  # in "no answer from …"


def judge(endpoint: BigQueryEndpoint, seen: TableObservation) -> Outcome:
    where = endpoint.where
    names = " / ".join((*endpoint.named_by, "the project"))
    if seen.no_project:
        return failed(f"no project for the {where}: neither the environment nor the "
                      "credentials name one",
                      "set GOOGLE_CLOUD_PROJECT (the BigQuery client does not read "
                      "GCP_PROJECT_ID), or use credentials that carry a project")
    answer = seen.table
    if answer.status == 404 and seen.dataset is not None and seen.dataset.status == 200:
        return failed(f"the {where} does not exist (its dataset does)",
                      f"create the table, or fix {names}")
    if answer.status == 404 and seen.dataset is not None and seen.dataset.status == 404:
        return failed(f"the dataset of the {where} does not exist",
                      f"create the dataset and the table, or fix {names}")
    if answer.status == 404 and seen.dataset is not None:
        answer = seen.dataset
    trouble = google_trouble("BigQuery", f"the {where}", answer)
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
                      f"create the dataset and the table, or fix {names}")
    return failed(f"BigQuery answered {answer.status} for the {where}",
                  "check the project, dataset and table names and the credentials")
