"""dynamodb: DescribeTable, in the engines' region, with the engines' defaults.

The engines build `boto3.resource("dynamodb", region_name=region).Table(table)` from the
route's config and the profile's defaults (docs/ENGINES.md §5.3, §5.5). What the table must
look like is the profile's `probe` of the backend: the key schema the store writes
(`table_keys`), or the string attributes its items carry, among which the table's keys
must be, and the index it queries (`string_keys`, `index`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.profile import ProbeFacts
from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, resolve, texts

TABLE, REGION = "table_name", "region"
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")  # botocore's host label


@dataclass(frozen=True, repr=False)
class DynamoEndpoint(Endpoint):
    backend = "dynamodb"
    table: str = field(repr=False)
    region: str = field(repr=False)
    endpoint_url: str | None = field(default=None, repr=False)
    # What the kind's store expects (the profile's probe facts): not part of the identity,
    # so two kinds on one table are one probe, each judged by its own expectation.
    expects: ProbeFacts = field(default=ProbeFacts(), compare=False)


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> DynamoEndpoint | Unbuildable:
    spec = subject.contract
    values = resolve(spec, subject.config, environ)
    if isinstance(values, Unbuildable):
        return values
    found = texts(values, TABLE, REGION)
    if isinstance(found, Unbuildable):
        return found
    table, region = found
    if not _TABLE_NAME.fullmatch(table):
        return Unbuildable(f"the table name in {values[TABLE].source} is not a DynamoDB table "
                           "name", "set `table_name` to 3-255 letters, digits, '_', '-' or '.'")
    if not _REGION.fullmatch(region):
        return Unbuildable(f"the region in {values[REGION].source} is not an AWS region name",
                           "set `region` in the route's config to an AWS region's name")
    where_region = (f"in the {values[REGION].source}" if values[REGION].from_config
                    else f"in {region} ({values[REGION].source})")
    return DynamoEndpoint(
        table=table, region=region,
        endpoint_url=environ.get("AWS_ENDPOINT_URL_DYNAMODB") or environ.get("AWS_ENDPOINT_URL")
        or None, expects=spec.probe, where=f"{values[TABLE].named('table')} {where_region}")
