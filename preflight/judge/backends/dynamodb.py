"""What the dynamodb probe's answer means for the engines."""

from __future__ import annotations

import re

from preflight.contract.targets.dynamodb import DynamoEndpoint
from preflight.core.result import Outcome
from preflight.judge import aws
from preflight.judge.backends import failed, passed, transient
from preflight.observe.aws import Identity
from preflight.observe.dynamodb import TableObservation

_CODE = re.compile(r"[A-Za-z0-9.]{1,60}")
SERVING = ("ACTIVE", "UPDATING")
# DynamoDB's refusals of the credentials themselves (not of a permission).
CREDENTIAL_CODES = ("UnrecognizedClientException", "InvalidSignatureException",
                    "ExpiredTokenException", "IncompleteSignature", "InvalidClientTokenId")


def _schema_problem(endpoint: DynamoEndpoint, seen: TableObservation) -> str | None:
    expects = endpoint.expects
    keys = ", ".join(f"{name} ({role}, {seen.attribute_types.get(name, '?')})"
                     for name, role in seen.key_schema) or "none"
    if expects.table_keys:
        wanted = tuple((key.name, key.role) for key in expects.table_keys)
        if seen.key_schema != wanted or any(seen.attribute_types.get(key.name) != key.type
                                            for key in expects.table_keys):
            shape = " and ".join(f"`{key.name}` ({key.role}, {key.type})"
                                 for key in expects.table_keys)
            return f"its keys are {keys}; the engines write {shape}"
    if expects.string_keys:
        strings = [name for name, _ in seen.key_schema
                   if name in expects.string_keys and seen.attribute_types.get(name) == "S"]
        if len(strings) != len(seen.key_schema) or not seen.key_schema:
            return (f"its keys are {keys}; the engines' items carry only string keys such as "
                    f"{expects.string_keys[0]}")
    index = expects.query_index
    if index and (seen.indexes.get(index) or ((None, None),))[0] != (index, "HASH"):
        return (f"it has no global secondary index {index} keyed by {index}, which the "
                "engines query")
    return None


def judge(endpoint: DynamoEndpoint, seen: TableObservation | Identity) -> Outcome:
    if isinstance(seen, Identity):
        return aws.judge(seen)
    where = endpoint.where
    if seen.http_status == 200:
        if seen.status == "CREATING":
            return transient(f"{where} is still being created")
        if seen.status not in SERVING:
            return failed(f"{where} is {seen.status}, not ACTIVE",
                          "restore or recreate the table")
        problem = _schema_problem(endpoint, seen)
        if problem:
            return failed(f"{where} exists, but {problem}",
                          "create the table with the key schema the engines write, or route "
                          "the kind to one that has it")
        return passed(f"{where} exists with the keys the engines use")
    code = seen.error_code if seen.error_code and _CODE.fullmatch(seen.error_code) else None
    if code == "ResourceNotFoundException":
        return failed(f"{where} does not exist",
                      "create the table in that region with the keys the engines write, or "
                      "fix `table_name` / `region` in the route's config")
    if code == "AccessDeniedException":
        return failed(f"this principal may not describe {where}",
                      "allow dynamodb:DescribeTable (and the engines' item calls) on the table "
                      "for the workload's role")
    if code in CREDENTIAL_CODES:
        return failed(f"AWS rejected the credentials when describing {where} ({code})",
                      aws.credentials_fix(code, seen.credentials_source))
    shown = f" {code}" if code and code != str(seen.http_status) else ""
    if seen.http_status == 403:
        return failed(f"AWS refused to describe {where} (403{shown})",
                      "check the workload's AWS credentials, and allow dynamodb:DescribeTable "
                      "(and the engines' item calls) on the table")
    return failed(f"DescribeTable on {where} answered {seen.http_status}{shown}",
                  "check the table, the region and the credentials")
