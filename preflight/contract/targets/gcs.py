"""gcs: the bucket exists and its objects can be listed (one object at most).

The engines build `storage.Client(project=config["project"])` and `client.bucket(
config.get("bucket") or GCS_BUCKET)` (engines/nexus/raw_storage/cloud_adapters.py). Their
fallback for a missing `project` calls `runtime_config.get_gcs_project`, which does not
exist: without `project` they fail, so it is required here. STORAGE_EMULATOR_HOST points
the client at an emulator without credentials, as google-cloud-storage does. The probe is
the JSON API's objects.list (needs storage.objects.list, which the engines' reads need
too), not buckets.get (storage.buckets.get, which object roles lack).
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
    key_or_variable,
    passed,
    text,
)

API_ROOT = "https://storage.googleapis.com"


@dataclass(frozen=True, repr=False)
class GcsEndpoint(Endpoint):
    backend = "gcs"
    bucket: str = field(repr=False)
    api_root: str = field(default=API_ROOT, repr=False)
    emulator: bool = False


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> GcsEndpoint | Finding:
    project = text(subject.config, "project")
    if isinstance(project, Finding):
        return project
    if project is None:
        return Finding("no `project` in its config (the engines' GCS adapter has no working "
                       "fallback and fails without it)",
                       "set `project` in the route's config to the bucket's project")
    found = key_or_variable(subject.config, "bucket", environ, "GCS_BUCKET")
    if isinstance(found, Finding):
        return found
    if found is None:
        return Finding("no `bucket` in its config, and GCS_BUCKET is not set",
                       "set `bucket` in the route's config, or GCS_BUCKET")
    bucket, source = found
    emulator = env_text(environ, "STORAGE_EMULATOR_HOST")
    return GcsEndpoint(bucket=bucket, api_root=(emulator or API_ROOT).rstrip("/"),
                       emulator=emulator is not None, where=f"the bucket in {source}")


def observe(endpoint: GcsEndpoint, timeout: float, shared: Shared) -> HttpObservation:
    from urllib.parse import quote

    from google.auth.exceptions import DefaultCredentialsError

    from preflight.observe import rest

    credentials = None
    if not endpoint.emulator:
        try:
            credentials, _project = shared("google.rest.credentials", rest.google_credentials)
        except DefaultCredentialsError:
            return HttpObservation(0, no_credentials=True)
    url = f"{endpoint.api_root}/storage/v1/b/{quote(endpoint.bucket, safe='')}/o"
    return rest.get(rest.google_session(credentials), url, timeout,
                    params={"maxResults": "1", "fields": "kind"})


def judge(endpoint: GcsEndpoint, seen: HttpObservation) -> ProbeResult:
    where = endpoint.where
    trouble = http_trouble("GCS", where, seen)
    if trouble:
        return trouble
    if seen.status == 200:
        return passed(f"{where} exists and its objects can be listed")
    if seen.status == 404:
        return failed(f"{where} does not exist",
                      "create the bucket, or fix `bucket` in the route's config / GCS_BUCKET")
    if seen.status == 403:
        return failed(f"this principal may not list the objects of {where} (403"
                      f"{', ' + seen.reason if seen.reason else ''})",
                      "grant the workload's service account roles/storage.objectAdmin (the "
                      "engines read and write objects) on the bucket")
    if seen.status == 400:
        return failed(f"GCS refused the name of {where} (400)",
                      "fix the bucket name in the route's config / GCS_BUCKET")
    return failed(f"GCS answered {seen.status} for {where}",
                  "check the bucket, the project and the credentials")
