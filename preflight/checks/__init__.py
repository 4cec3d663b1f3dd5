"""The checks, one module each. `CHECKS` is the one line to add a new one.

Names are known without importing any check module, so `--help`, `--version` and option
parsing stay light; `load()` imports the modules when a run needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from preflight.run.check import Check

# name -> "module:Class", in the order the verdict lists them.
CHECKS = {
    "env.policy": "preflight.checks.env_policy:EnvPolicy",
    "env.backends": "preflight.checks.env_backends:EnvBackends",
    "gcp.credentials": "preflight.checks.gcp_credentials:GcpCredentials",
    "firestore.access": "preflight.checks.firestore_access:FirestoreAccess",
    "aws.credentials": "preflight.checks.aws_credentials:AwsCredentials",
    "s3.bucket": "preflight.checks.s3_bucket:S3Bucket",
    "routing.entries": "preflight.checks.routing_entries:RoutingEntries",
    "routing.serving": "preflight.checks.routing_serving:RoutingServing",
    "routing.backends": "preflight.checks.routing_backends:RoutingBackends",
    "backends.reachable": "preflight.checks.backends_reachable:BackendsReachable",
}
NAMES = tuple(CHECKS)


def load() -> tuple[type[Check], ...]:
    """Every check class, imported now."""
    found = []
    for name, where in CHECKS.items():
        module, _, cls = where.partition(":")
        check: type[Check] = getattr(importlib.import_module(module), cls)
        assert check.name == name, f"{where} is named {check.name}, not {name}"
        found.append(check)
    return tuple(found)


def fresh() -> list[Check]:
    """New instances for one run: checks may keep progress between their own attempts."""
    return [check() for check in load()]
