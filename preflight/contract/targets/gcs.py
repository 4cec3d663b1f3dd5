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
    ProbeSubject,
    Unbuildable,
    env_text,
    key_or_variable,
    text,
)

API_ROOT = "https://storage.googleapis.com"


@dataclass(frozen=True, repr=False)
class GcsEndpoint(Endpoint):
    backend = "gcs"
    bucket: str = field(repr=False)
    api_root: str = field(default=API_ROOT, repr=False)
    emulator: bool = False


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> GcsEndpoint | Unbuildable:
    project = text(subject.config, "project")
    if isinstance(project, Unbuildable):
        return project
    if project is None:
        return Unbuildable("no `project` in its config (the engines' GCS adapter has no working "
                           "fallback and fails without it)",
                           "set `project` in the route's config to the bucket's project")
    found = key_or_variable(subject.config, "bucket", environ, "GCS_BUCKET")
    if isinstance(found, Unbuildable):
        return found
    if found is None:
        return Unbuildable("no `bucket` in its config, and GCS_BUCKET is not set",
                           "set `bucket` in the route's config, or GCS_BUCKET")
    bucket, source = found
    emulator = env_text(environ, "STORAGE_EMULATOR_HOST")
    return GcsEndpoint(bucket=bucket, api_root=(emulator or API_ROOT).rstrip("/"),
                       emulator=emulator is not None, where=f"the bucket in {source}")


