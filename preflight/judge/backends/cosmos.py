"""What the cosmos probe's answer means for the engines."""

from __future__ import annotations

from preflight.contract.targets.cosmos import CosmosEndpoint
from preflight.core.result import Outcome
from preflight.judge.backends import failed, passed
from preflight.observe.cosmos import CosmosObservation

SERVICE = "Cosmos DB"  # in "no answer from …"


def judge(endpoint: CosmosEndpoint, seen: CosmosObservation) -> Outcome:
    where = endpoint.where
    if seen.malformed:
        return failed(f"{where}: the Cosmos client refused the key (it is not base64)",
                      "set the key to the account's primary or secondary key")
    if seen.status == 200:
        return passed(f"{where}: it exists and the key reads it")
    if seen.status == 401:
        return failed(f"Cosmos DB rejected the credentials for {where} (401)",
                      "use the account's current key (keys are rotated)")
    if seen.status == 404 and seen.read == "database":
        return failed(f"{where}: the database does not exist",
                      "create the database, or fix `database` in the route's config")
    if seen.status == 404 and seen.read == "container":
        return failed(f"{where}: the container {endpoint.container} does not exist",
                      f"create the container {endpoint.container} in that database")
    if seen.status == 403:
        return failed(f"{where}: access forbidden (403)",
                      "allow this pod through the account's firewall / private endpoint, and "
                      "check the key")
    return failed(f"{where}: Cosmos DB answered {seen.status} reading the {seen.read}",
                  "check the endpoint, the key and the database")
