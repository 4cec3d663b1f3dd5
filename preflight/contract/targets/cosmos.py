"""cosmos: the database (and the container the store writes) exists, read with the key.

What the engines build (engines/storage, engines/analytics, engines/event_spine):

- tabular stores: `endpoint`/`key` of the config, else (if either is missing) both from
  AZURE_COSMOSDB_ENDPOINT/AZURE_COSMOSDB_KEY; database `config.get("database",
  "tabular_store")`; containers are the callers' table names, so the database is probed;
- the analytics store: as tabular, database `analytics_store`, container `analytics`;
- the event spine (kinds `event_spine` and `chat_store`): `endpoint`/`key` of the config
  only (no variable), database `event_spine` / `chat_store`, container `events`.

The probe is two GETs of Cosmos's REST API signed with the master key (no client library:
azure-cosmos reads the account and discovers regions with retry policies of its own first).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, env_text, text

EVENT_SPINE_KINDS = frozenset({"chat_store", "event_spine"})
DATABASE_DEFAULTS = {"chat_store": "chat_store", "event_spine": "event_spine",
                     "analytics_store": "analytics_store"}
DEFAULT_DATABASE = "tabular_store"
CONTAINERS = {"chat_store": "events", "event_spine": "events", "analytics_store": "analytics"}


@dataclass(frozen=True, repr=False)
class CosmosEndpoint(Endpoint):
    backend = "cosmos"
    url: str = field(repr=False)  # the account endpoint, without a trailing slash
    key: str = field(repr=False)
    database: str = field(repr=False)
    container: str | None = None  # an engines' constant, not config


def _account(subject: ProbeSubject, environ: Mapping[str, str]
             ) -> tuple[str, str, str] | Unbuildable:
    """(endpoint, key, where they came from)."""
    endpoint = text(subject.config, "endpoint")
    key = text(subject.config, "key")
    for value in (endpoint, key):
        if isinstance(value, Unbuildable):
            return value
    assert not isinstance(endpoint, Unbuildable)
    assert not isinstance(key, Unbuildable)
    if endpoint and key:
        return endpoint, key, "`endpoint`/`key` of its config"
    if subject.kind in EVENT_SPINE_KINDS:
        return Unbuildable(f"no {'`key`' if endpoint else '`endpoint`'} in its config (the "
                           "engines' event store reads no variable for it)",
                           "set `endpoint` and `key` in the route's config")
    endpoint = env_text(environ, "AZURE_COSMOSDB_ENDPOINT")
    key = env_text(environ, "AZURE_COSMOSDB_KEY")
    if not endpoint or not key:
        return Unbuildable("no `endpoint`/`key` in its config, and AZURE_COSMOSDB_ENDPOINT/"
                           "AZURE_COSMOSDB_KEY are not both set",
                           "set `endpoint` and `key` in the route's config, or both variables")
    return endpoint, key, "AZURE_COSMOSDB_ENDPOINT/AZURE_COSMOSDB_KEY"


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> CosmosEndpoint | Unbuildable:
    account = _account(subject, environ)
    if isinstance(account, Unbuildable):
        return account
    url, key, source = account
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return Unbuildable(f"the Cosmos endpoint in {source} is not an https:// URL",
                           "set it to the account's URI, https://ACCOUNT.documents.azure.com:443/")
    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return Unbuildable(f"the Cosmos key in {source} is not a base64 key",
                           "set it to the account's primary or secondary key")
    default = DATABASE_DEFAULTS.get(subject.kind, DEFAULT_DATABASE)
    if "database" in subject.config:
        database = subject.config["database"]
        if not isinstance(database, str) or not database:
            return Unbuildable("`database` in its config is not a database name",
                               "set `database` in the route's config, or remove it for the "
                               f"default {default}")
        database_phrase = "the database in `database` of its config"
    else:
        database, database_phrase = default, f"database {default} (the engines' default)"
    container = CONTAINERS.get(subject.kind)
    container_phrase = f", container {container}," if container else ""
    return CosmosEndpoint(url=url.rstrip("/"), key=key, database=database, container=container,
                          where=f"{database_phrase}{container_phrase} of the account in {source}")


