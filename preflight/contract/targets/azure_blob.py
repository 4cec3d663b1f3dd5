"""azure_blob: the container exists, reached through the engines' connection string.

The engines build `BlobServiceClient.from_connection_string(cs).get_container_client(
container)` from the route's config, its stand-in variable and default (docs/ENGINES.md
§5.2). The probe parses the connection string with the same library and reads the
container's properties: the account answers, the key or SAS is accepted, the container
exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, resolve, texts

KEYS = ("connection_string", "container")


@dataclass(frozen=True, repr=False)
class AzureBlobEndpoint(Endpoint):
    backend = "azure_blob"
    connection_string: str = field(repr=False)
    container: str = field(repr=False)


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> AzureBlobEndpoint | Unbuildable:
    values = resolve(subject.contract, subject.config, environ)
    if isinstance(values, Unbuildable):
        return values
    found = texts(values, *KEYS)
    if isinstance(found, Unbuildable):
        return found
    connection_string, container = found
    where = (f"{values['container'].named('container')} of the account in "
             f"{values['connection_string'].source}")
    return AzureBlobEndpoint(connection_string=connection_string, container=container,
                             where=where)
