"""What the gcs probe's answer means for the engines."""

from __future__ import annotations

from preflight.contract.targets.gcs import GcsEndpoint
from preflight.core.result import Outcome
from preflight.judge.backends import failed, google_trouble, passed
from preflight.observe.google_api import ApiAnswer

SERVICE = "GCS"  # in "no answer from …"


def judge(endpoint: GcsEndpoint, seen: ApiAnswer) -> Outcome:
    where = endpoint.where
    trouble = google_trouble("GCS", where, seen)
    if trouble:
        return trouble
    if seen.status == 200:
        return passed(f"{where} exists and its objects can be listed")
    if seen.status == 404:
        return failed(f"{where} does not exist",
                      "create the bucket, or fix the bucket the route's config names")
    if seen.status == 403:
        return failed(f"this principal may not list the objects of {where} (403"
                      f"{', ' + seen.reason if seen.reason else ''})",
                      "grant the workload's service account roles/storage.objectAdmin (the "
                      "engines read and write objects) on the bucket")
    if seen.status == 400:
        return failed(f"GCS refused the name of {where} (400)",
                      "fix the bucket name the route's config names")
    return failed(f"GCS answered {seen.status} for {where}",
                  "check the bucket, the project and the credentials")
