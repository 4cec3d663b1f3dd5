"""azure_blob: the container exists, reached through the engines' connection string.

The engines build `BlobServiceClient.from_connection_string(config.get(
"connection_string") or AZURE_STORAGE_CONNECTION_STRING).get_container_client(
config.get("container", "raw-objects"))` (engines/nexus/raw_storage/cloud_adapters.py).
The probe parses the connection string with the same library and reads the container's
properties (GET ?restype=container): the account answers, the key or SAS is accepted, the
container exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, key_or_variable

DEFAULT_CONTAINER = "raw-objects"


@dataclass(frozen=True, repr=False)
class AzureBlobEndpoint(Endpoint):
    backend = "azure_blob"
    connection_string: str = field(repr=False)
    container: str = field(repr=False)


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> AzureBlobEndpoint | Unbuildable:
    found = key_or_variable(subject.config, "connection_string", environ,
                            "AZURE_STORAGE_CONNECTION_STRING")
    if isinstance(found, Unbuildable):
        return found
    if found is None:
        return Unbuildable("no `connection_string` in its config, and "
                           "AZURE_STORAGE_CONNECTION_STRING is not set",
                           "set `connection_string` in the route's config, or "
                           "AZURE_STORAGE_CONNECTION_STRING")
    connection_string, source = found
    if "container" in subject.config:
        container = subject.config["container"]
        if not isinstance(container, str) or not container:
            return Unbuildable("`container` in its config is not a container name",
                               "set `container` in the route's config, or remove it for the "
                               f"default {DEFAULT_CONTAINER}")
        container_phrase = "the container in `container` of its config"
    else:
        container = DEFAULT_CONTAINER
        container_phrase = f"container {DEFAULT_CONTAINER} (the engines' default)"
    return AzureBlobEndpoint(connection_string=connection_string, container=container,
                             where=f"{container_phrase} of the account in {source}")


