"""azure_blob: the container exists, reached through the engines' connection string.

The engines build `BlobServiceClient.from_connection_string(config.get(
"connection_string") or AZURE_STORAGE_CONNECTION_STRING).get_container_client(
config.get("container", "raw-objects"))` (engines/nexus/raw_storage/cloud_adapters.py).
The probe parses the connection string with the same library and reads the container's
properties (GET ?restype=container): the account answers, the key or SAS is accepted, the
container exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import (
    Endpoint,
    Finding,
    ProbeResult,
    ProbeSubject,
    Shared,
    failed,
    key_or_variable,
    passed,
    transient,
)

DEFAULT_CONTAINER = "raw-objects"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_CODE = re.compile(r"[A-Za-z0-9]{1,60}")


@dataclass(frozen=True, repr=False)
class AzureBlobEndpoint(Endpoint):
    backend = "azure_blob"
    connection_string: str = field(repr=False)
    container: str = field(repr=False)


@dataclass(frozen=True)
class ContainerObservation:
    status: int  # 200, the refusal's status, or 0 when there was no answer
    error_code: str | None = None  # Azure's x-ms-error-code, e.g. ContainerNotFound
    transport_error: str | None = None  # the class of the error when there was no answer
    malformed: bool = False  # the library refused the connection string itself


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> AzureBlobEndpoint | Finding:
    found = key_or_variable(subject.config, "connection_string", environ,
                            "AZURE_STORAGE_CONNECTION_STRING")
    if isinstance(found, Finding):
        return found
    if found is None:
        return Finding("no `connection_string` in its config, and "
                       "AZURE_STORAGE_CONNECTION_STRING is not set",
                       "set `connection_string` in the route's config, or "
                       "AZURE_STORAGE_CONNECTION_STRING")
    connection_string, source = found
    if "container" in subject.config:
        container = subject.config["container"]
        if not isinstance(container, str) or not container:
            return Finding("`container` in its config is not a container name",
                           "set `container` in the route's config, or remove it for the "
                           f"default {DEFAULT_CONTAINER}")
        container_phrase = "the container in `container` of its config"
    else:
        container = DEFAULT_CONTAINER
        container_phrase = f"container {DEFAULT_CONTAINER} (the engines' default)"
    return AzureBlobEndpoint(connection_string=connection_string, container=container,
                             where=f"{container_phrase} of the account in {source}")


def observe(endpoint: AzureBlobEndpoint, timeout: float, shared: Shared) -> ContainerObservation:
    from preflight.observe import azure_blob

    return azure_blob.container_properties(endpoint, timeout)


def judge(endpoint: AzureBlobEndpoint, seen: ContainerObservation) -> ProbeResult:
    where = endpoint.where
    code = seen.error_code if seen.error_code and _CODE.fullmatch(seen.error_code) else None
    if seen.malformed:
        return failed(f"the connection string for {where} is not one the Azure client "
                      "accepts", "set it to the storage account's connection string "
                      "(DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…)")
    if seen.status == 0:
        return transient(f"no answer from Azure Blob Storage for {where} "
                         f"({seen.transport_error})",
                         "check that the account's blob endpoint is reachable from this pod")
    if seen.status in RETRY_STATUSES:
        return transient(f"Azure Blob Storage answered {seen.status} for {where}")
    if seen.status == 200:
        return passed(f"{where} exists and the credentials read it")
    if seen.status == 404:
        return failed(f"{where} does not exist ({code or 404})",
                      "create the container, or fix `container` in the route's config")
    if seen.status == 403 and code == "AuthorizationPermissionMismatch":
        return failed(f"the credentials for {where} may not read it (403, {code})",
                      "use a key or SAS that may read and write the container")
    if seen.status in (401, 403):
        return failed(f"Azure rejected the key or SAS of the connection string for {where} "
                      f"({seen.status}{', ' + code if code else ''})",
                      "use the account's current key (keys are rotated) or a valid SAS")
    return failed(f"Azure Blob Storage answered {seen.status}{' ' + code if code else ''} "
                  f"for {where}", "check the connection string and the container name")
