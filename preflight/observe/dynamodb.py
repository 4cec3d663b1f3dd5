"""DescribeTable, with botocore's own retries off: the runner owns retries and the deadline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from preflight.contract.targets.dynamodb import DynamoEndpoint
from preflight.observe import aws
from preflight.observe.clients import Clients
from preflight.observe.errors import Transient, classify, is_transient


@dataclass(frozen=True)
class TableObservation:
    http_status: int  # 200, or the status of the refusal
    status: str | None = None  # TableStatus
    key_schema: tuple[tuple[str, str], ...] = ()  # (attribute, HASH | RANGE)
    attribute_types: Mapping[str, str] = field(default_factory=dict)
    indexes: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    error_code: str | None = None
    credentials_source: str | None = None  # botocore's method name for the credentials used


def make_client(region: str, endpoint_url: str | None, session: Any) -> Any:
    """On the run's botocore session (observe/aws.py): its credentials, one bounded try."""
    return session.create_client("dynamodb", region_name=region, endpoint_url=endpoint_url)


def describe_table(client: Any, table: str) -> TableObservation:
    """Definitive answers come back as data; the rest is raised as `classify` says."""
    from botocore.exceptions import ClientError

    try:
        response = client.describe_table(TableName=table)
    except ClientError as error:
        if is_transient(error):
            raise Transient(error) from error
        meta = error.response.get("ResponseMetadata", {})
        return TableObservation(int(meta.get("HTTPStatusCode") or 0),
                                error_code=str(error.response.get("Error", {}).get("Code")
                                               or "") or None)
    except Exception as error:
        raise classify(error) from error
    described = response.get("Table", {})
    indexes = {str(index.get("IndexName")): tuple((str(k["AttributeName"]), str(k["KeyType"]))
                                                  for k in index.get("KeySchema", []))
               for index in described.get("GlobalSecondaryIndexes", [])}
    return TableObservation(
        http_status=200,
        status=str(described.get("TableStatus") or ""),
        key_schema=tuple((str(k["AttributeName"]), str(k["KeyType"]))
                         for k in described.get("KeySchema", [])),
        attribute_types={str(a["AttributeName"]): str(a["AttributeType"])
                         for a in described.get("AttributeDefinitions", [])},
        indexes=indexes)


def observe(endpoint: DynamoEndpoint, timeout: float, clients: Clients,
            ) -> TableObservation | aws.Identity:
    """The table, or the credential chain's failure (aws.credentials' observation)."""
    session = clients.aws_session()
    chain = aws.resolve_chain(session)
    if chain.failed:
        return chain
    client = clients.cached(f"dynamodb.client:{endpoint.region}:{endpoint.endpoint_url}",
                            lambda: make_client(endpoint.region, endpoint.endpoint_url, session))
    return replace(describe_table(client, endpoint.table), credentials_source=chain.source)
