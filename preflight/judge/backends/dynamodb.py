"""What the dynamodb probe's answer means for the engines."""

from __future__ import annotations

import re

from preflight.contract.targets.dynamodb import (
    EVENT_SPINE_INDEX,
    EVENT_SPINE_STRINGS,
    PK_SK,
    DynamoEndpoint,
)
from preflight.core.result import Outcome
from preflight.judge.backends import failed, passed, transient
from preflight.observe.dynamodb import TableObservation

_CODE = re.compile(r"[A-Za-z0-9.]{1,60}")


SERVING = ("ACTIVE", "UPDATING")


def _schema_problem(endpoint: DynamoEndpoint, seen: TableObservation) -> str | None:
    keys = ", ".join(f"{name} ({role}, {seen.attribute_types.get(name, '?')})"
                     for name, role in seen.key_schema) or "none"
    if endpoint.schema == "pk_sk":
        if seen.key_schema != PK_SK or any(seen.attribute_types.get(name) != "S"
                                           for name, _ in PK_SK):
            return (f"its keys are {keys}; the engines write string `pk` (HASH) and `sk` "
                    "(RANGE)")
        return None
    strings = [name for name, _ in seen.key_schema
               if name in EVENT_SPINE_STRINGS and seen.attribute_types.get(name) == "S"]
    if len(strings) != len(seen.key_schema) or not seen.key_schema:
        return (f"its keys are {keys}; the engines' events carry only string keys such as "
                "event_id")
    index = seen.indexes.get(EVENT_SPINE_INDEX)
    if not index or index[0] != (EVENT_SPINE_INDEX, "HASH"):
        return (f"it has no global secondary index {EVENT_SPINE_INDEX} keyed by "
                f"{EVENT_SPINE_INDEX}, which the engines query")
    return None


def judge(endpoint: DynamoEndpoint, seen: TableObservation) -> Outcome:
    where = endpoint.where
    if seen.no_credentials:
        return failed("no AWS credentials found",
                      "provide AWS credentials: IRSA / web identity on EKS, or "
                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from a Secret")
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
                      "create the table in that region (string pk HASH, sk RANGE for tabular "
                      "stores), or fix `table_name` / `region` in the route's config")
    if code == "AccessDeniedException":
        return failed(f"this principal may not describe {where}",
                      "allow dynamodb:DescribeTable (and the engines' item calls) on the table "
                      "for the workload's role")
    if code in ("UnrecognizedClientException", "InvalidSignatureException",
                "ExpiredTokenException", "IncompleteSignature", "InvalidClientTokenId"):
        return failed(f"AWS rejected the credentials when describing {where} ({code})",
                      "check the workload's AWS credentials")
    shown = f" {code}" if code and code != str(seen.http_status) else ""
    if seen.http_status == 403:
        return failed(f"AWS refused to describe {where} (403{shown})",
                      "check the workload's AWS credentials, and allow dynamodb:DescribeTable "
                      "(and the engines' item calls) on the table")
    return failed(f"DescribeTable on {where} answered {seen.http_status}{shown}",
                  "check the table, the region and the credentials")
