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

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, env_text, text

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


@dataclass(frozen=True, repr=False)
class DynamoEndpoint(Endpoint):
    backend = "dynamodb"
    table: str = field(repr=False)
    region: str = field(repr=False)
    endpoint_url: str | None = field(default=None, repr=False)
    schema: str = field(default="pk_sk", compare=False)  # or "event_spine"


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> DynamoEndpoint | Unbuildable:
    config = subject.config
    table = text(config, "table_name")
    region = text(config, "region")
    for value in (table, region):
        if isinstance(value, Unbuildable):
            return value
    assert not isinstance(table, Unbuildable)
    assert not isinstance(region, Unbuildable)
    default_table = TABLE_DEFAULTS.get(subject.kind, DEFAULT_TABLE)
    if table is None:
        table_phrase = f"table {default_table} (the engines' default)"
        table = default_table
    elif not _TABLE_NAME.fullmatch(table):
        return Unbuildable("`table_name` in its config is not a DynamoDB table name",
                           "set `table_name` to 3-255 letters, digits, '_', '-' or '.'")
    else:
        table_phrase = "the table in `table_name` of its config"
    if region is None:
        region_phrase = f"in {DEFAULT_REGION} (the engines' default)"
        region = DEFAULT_REGION
    elif not _REGION.fullmatch(region):
        return Unbuildable("`region` in its config is not an AWS region name",
                           "set `region` in the route's config to a region such as us-west-2")
    else:
        region_phrase = "in the `region` of its config"
    return DynamoEndpoint(
        table=table, region=region,
        endpoint_url=env_text(environ, "AWS_ENDPOINT_URL_DYNAMODB")
        or env_text(environ, "AWS_ENDPOINT_URL"),
        schema="event_spine" if subject.kind in EVENT_SPINE_KINDS else "pk_sk",
        where=f"{table_phrase} {region_phrase}")


