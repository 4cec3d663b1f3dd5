"""gcs: the bucket exists and its objects can be listed (one object at most).

The engines build `storage.Client(project=project).bucket(bucket)` from the route's config
and its stand-in variable (docs/ENGINES.md §5.2). google-cloud-storage itself reads
STORAGE_EMULATOR_HOST (then it takes no credentials). The probe is objects.list (needs
storage.objects.list, which the engines' reads need too), not buckets.get
(storage.buckets.get, which object roles lack).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, resolve, texts

KEYS = ("project", "bucket")


@dataclass(frozen=True, repr=False)
class GcsEndpoint(Endpoint):
    backend = "gcs"
    project: str = field(repr=False)
    bucket: str = field(repr=False)


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> GcsEndpoint | Unbuildable:
    values = resolve(subject.contract, subject.config, environ)
    if isinstance(values, Unbuildable):
        return values
    found = texts(values, *KEYS)
    if isinstance(found, Unbuildable):
        return found
    project, bucket = found
    return GcsEndpoint(project=project, bucket=bucket, where=values["bucket"].named("bucket"))
