"""What the azure_blob probe's answer means for the engines."""

from __future__ import annotations

import re

from preflight.contract.targets.azure_blob import AzureBlobEndpoint
from preflight.core.result import Outcome
from preflight.judge.backends import failed, passed
from preflight.observe.azure_blob import ContainerObservation

SERVICE = "Azure Blob Storage"  # in "no answer from …"

_CODE = re.compile(r"[A-Za-z0-9]{1,60}")


def judge(endpoint: AzureBlobEndpoint, seen: ContainerObservation) -> Outcome:
    where = endpoint.where
    code = seen.error_code if seen.error_code and _CODE.fullmatch(seen.error_code) else None
    if seen.malformed:
        return failed(f"the connection string for {where} is not one the Azure client "
                      "accepts", "set it to the storage account's connection string "
                      "(DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…)")
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
