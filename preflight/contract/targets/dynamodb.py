"""dynamodb: DescribeTable, in the engines' region, with the engines' defaults.

The engines build `boto3.resource("dynamodb", region_name=region).Table(table_name)` with
`table_name or <kind's default>` and `region or "us-west-2"` (engines/storage,
engines/analytics, engines/event_spine). What the table must look like depends on the
store that writes it:

- tabular and analytics stores put items keyed by string `pk` (HASH) and `sk` (RANGE) and
  query `pk = :pk AND sk BETWEEN …`;
- the event spine (kinds `event_spine` and `chat_store`) puts the event's string fields
  plus `tenant_run_idx` and queries the global secondary index `tenant_run_idx`, so the
  table's keys must be among those strings and that index must exist.
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
    env_text,
    failed,
    passed,
    text,
    transient,
)

DEFAULT_TABLE = "tabular_store"
TABLE_DEFAULTS = {"chat_store": "chat_store", "event_spine": "event_spine",
                  "analytics_store": "analytics_store"}
DEFAULT_REGION = "us-west-2"
EVENT_SPINE_KINDS = frozenset({"chat_store", "event_spine"})
EVENT_SPINE_INDEX = "tenant_run_idx"
# The string attributes every event item carries (SpineEvent.to_dict plus the index key).
EVENT_SPINE_STRINGS = frozenset({"event_id", "tenant_id", "mode", "timestamp", "event_type",
                                 "source", "run_id", "route", EVENT_SPINE_INDEX})
PK_SK = (("pk", "HASH"), ("sk", "RANGE"))
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
_CODE = re.compile(r"[A-Za-z0-9.]{1,60}")
SERVING = ("ACTIVE", "UPDATING")


@dataclass(frozen=True, repr=False)
class DynamoEndpoint(Endpoint):
    backend = "dynamodb"
    table: str = field(repr=False)
    region: str = field(repr=False)
    endpoint_url: str | None = field(default=None, repr=False)
    schema: str = field(default="pk_sk", compare=False)  # or "event_spine"


@dataclass(frozen=True)
class TableObservation:
    http_status: int  # 200, or the status of the refusal
    status: str | None = None  # TableStatus
    key_schema: tuple[tuple[str, str], ...] = ()  # (attribute, HASH | RANGE)
    attribute_types: Mapping[str, str] = field(default_factory=dict)
    indexes: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    error_code: str | None = None
    no_credentials: bool = False


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> DynamoEndpoint | Finding:
    config = subject.config
    table = text(config, "table_name")
    region = text(config, "region")
    for value in (table, region):
        if isinstance(value, Finding):
            return value
    assert not isinstance(table, Finding)
    assert not isinstance(region, Finding)
    default_table = TABLE_DEFAULTS.get(subject.kind, DEFAULT_TABLE)
    if table is None:
        table_phrase = f"table {default_table} (the engines' default)"
        table = default_table
    elif not _TABLE_NAME.fullmatch(table):
        return Finding("`table_name` in its config is not a DynamoDB table name",
                       "set `table_name` to 3-255 letters, digits, '_', '-' or '.'")
    else:
        table_phrase = "the table in `table_name` of its config"
    if region is None:
        region_phrase = f"in {DEFAULT_REGION} (the engines' default)"
        region = DEFAULT_REGION
    elif not _REGION.fullmatch(region):
        return Finding("`region` in its config is not an AWS region name",
                       "set `region` in the route's config to a region such as us-west-2")
    else:
        region_phrase = "in the `region` of its config"
    return DynamoEndpoint(
        table=table, region=region,
        endpoint_url=env_text(environ, "AWS_ENDPOINT_URL_DYNAMODB")
        or env_text(environ, "AWS_ENDPOINT_URL"),
        schema="event_spine" if subject.kind in EVENT_SPINE_KINDS else "pk_sk",
        where=f"{table_phrase} {region_phrase}")


def observe(endpoint: DynamoEndpoint, timeout: float, shared: Shared) -> TableObservation:
    from preflight.observe import dynamodb

    client = shared(f"dynamodb.client:{endpoint.region}:{endpoint.endpoint_url}",
                    lambda: dynamodb.make_client(endpoint.region, endpoint.endpoint_url,
                                                 shared.aws_session()))
    return dynamodb.describe_table(client, endpoint.table)


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


def judge(endpoint: DynamoEndpoint, seen: TableObservation) -> ProbeResult:
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
