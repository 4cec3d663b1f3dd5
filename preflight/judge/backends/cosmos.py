"""What the cosmos probe's answer means for the engines."""

from __future__ import annotations

from preflight.contract.targets.cosmos import CosmosEndpoint
from preflight.core.result import Outcome
from preflight.judge.backends import failed, http_trouble, passed
from preflight.observe.cosmos import CosmosObservation


def judge(endpoint: CosmosEndpoint, seen: CosmosObservation) -> Outcome:
    where = endpoint.where
    answer = seen.database if seen.container is None else seen.container
    trouble = http_trouble("Cosmos DB", where, answer)
    if trouble:
        return trouble
    if answer.status == 200:
        return passed(f"{where}: it exists and the key reads it")
    if answer.status == 404 and seen.container is None:
        return failed(f"{where}: the database does not exist",
                      "create the database, or fix `database` in the route's config")
    if answer.status == 404:
        return failed(f"{where}: the container {endpoint.container} does not exist",
                      f"create the container {endpoint.container} in that database")
    if answer.status == 403:
        return failed(f"{where}: access forbidden (403"
                      f"{', ' + answer.reason if answer.reason else ''})",
                      "allow this pod through the account's firewall / private endpoint, and "
                      "check the key")
    return failed(f"{where}: Cosmos DB answered {answer.status}",
                  "check the endpoint, the key and the database")
