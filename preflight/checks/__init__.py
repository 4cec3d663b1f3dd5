"""The checks, one module each; this registry is the one line to add a new one."""

from preflight.checks.aws_credentials import AwsCredentials
from preflight.checks.backends_reachable import BackendsReachable
from preflight.checks.base import Check
from preflight.checks.env_backends import EnvBackends
from preflight.checks.env_policy import EnvPolicy
from preflight.checks.firestore_access import FirestoreAccess
from preflight.checks.gcp_credentials import GcpCredentials
from preflight.checks.routing_backends import RoutingBackends
from preflight.checks.routing_entries import RoutingEntries
from preflight.checks.routing_serving import RoutingServing
from preflight.checks.s3_bucket import S3Bucket

REGISTRY: tuple[type[Check], ...] = (
    EnvPolicy,
    EnvBackends,
    GcpCredentials,
    FirestoreAccess,
    AwsCredentials,
    S3Bucket,
    RoutingEntries,
    RoutingServing,
    RoutingBackends,
    BackendsReachable,
)
NAMES = tuple(check.name for check in REGISTRY)


def fresh() -> list[Check]:
    """New instances for one run: checks may keep progress between their own attempts."""
    return [check() for check in REGISTRY]
