"""cosmos: the database (and the container the store writes) exists, read with the key.

The engines build `CosmosClient(endpoint, credential=key).get_database_client(database)`
from the route's config, taking `endpoint` and `key` together from the config or together
from the variables where the profile groups them, and the database default from the
profile (docs/ENGINES.md §5.4, §5.8). The container is the profile's `probe.container`
(the spine's `events`); tabular stores name containers per table, so only the database is
read for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, resolve, texts

KEYS = ("endpoint", "key", "database")


@dataclass(frozen=True, repr=False)
class CosmosEndpoint(Endpoint):
    backend = "cosmos"
    url: str = field(repr=False)  # the account endpoint, as given
    key: str = field(repr=False)
    database: str = field(repr=False)
    container: str | None = None  # a profile fact, not config


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> CosmosEndpoint | Unbuildable:
    spec = subject.contract
    values = resolve(spec, subject.config, environ)
    if isinstance(values, Unbuildable):
        return values
    found = texts(values, *KEYS)
    if isinstance(found, Unbuildable):
        return found
    url, key, database = found
    account = values["endpoint"].source
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return Unbuildable(f"the Cosmos endpoint in {account} is not an https:// URL",
                           "set it to the account's URI, https://ACCOUNT.documents.azure.com:443/")
    container = spec.probe.container
    container_phrase = f", container {container}," if container else ""
    return CosmosEndpoint(url=url, key=key, database=database, container=container,
                          where=f"{values['database'].named('database')}{container_phrase} of "
                          f"the account in {account}")
