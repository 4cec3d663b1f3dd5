"""Seed what the container test's pod checks, through the real clients.

    seed_registry.py registry    # the 17 routes of scope t_system/dev, as the engines seed them
    seed_registry.py drop KIND   # delete that kind's route(s) from the scope
    seed_registry.py bucket      # create RAW_BUCKET on the S3 server

Reads FIRESTORE_EMULATOR_HOST, GCP_PROJECT_ID, AWS_ENDPOINT_URL_S3, RAW_BUCKET. Not a
pytest module: tests/container/run.sh runs it with the project's .venv python.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any

COLLECTION = "routing_registry"
TENANT, ENV = "t_system", "dev"
# ENGINES.md: the kinds the engines' start-up validation demands.
KINDS = (
    "feature_flags", "strategy_lock", "kpi", "budget", "maybes", "memory",
    "analytics_events", "rate_limit", "firearms", "page_content", "seo",
    "realtime_registry", "chat_bus", "nexus_backend", "media_v2_storage", "raw_storage",
    "timeline",
)
FILESYSTEM_KINDS = ("budget", "raw_storage", "media_v2_storage")


def _route(kind: str) -> dict[str, Any]:
    """One route the way the engines' own dev seeding writes it (ENGINES.md)."""
    config: dict[str, Any] = {}
    backend = "firestore"
    if kind in FILESYSTEM_KINDS:
        backend, config = "filesystem", {"root": f"/var/lib/engines/{kind}"}
    elif kind == "chat_bus":
        backend, config = "redis", {"host": "redis.engines.internal", "port": 6379}
    now = datetime.now(UTC)
    return {
        "id": f"{kind}-{TENANT}-{ENV}", "resource_kind": kind, "tenant_id": TENANT, "env": ENV,
        "project_id": None, "surface_id": None, "backend_type": backend, "config": config,
        "required": True, "created_at": now, "updated_at": now,
    }


def _firestore() -> Any:
    from google.cloud import firestore

    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        raise SystemExit("FIRESTORE_EMULATOR_HOST is not set: refusing to write anywhere else")
    return firestore.Client(project=os.environ["GCP_PROJECT_ID"])


def seed_registry() -> None:
    client = _firestore()
    batch = client.batch()
    for kind in KINDS:
        route = _route(kind)
        batch.set(client.collection(COLLECTION).document(route["id"]), route)
    batch.commit()
    print(f"seeded {len(KINDS)} routes for {TENANT}/{ENV}")


def drop(kind: str) -> None:
    from google.cloud.firestore_v1.base_query import FieldFilter

    client = _firestore()
    query = (client.collection(COLLECTION)
             .where(filter=FieldFilter("resource_kind", "==", kind))
             .where(filter=FieldFilter("tenant_id", "==", TENANT))
             .where(filter=FieldFilter("env", "==", ENV)))
    dropped = 0
    for snapshot in query.stream():
        snapshot.reference.delete()
        dropped += 1
    if not dropped:
        raise SystemExit(f"no route of kind {kind!r} to drop")
    print(f"dropped {dropped} route(s) of kind {kind}")


def create_bucket() -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"],
                      region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=os.environ["RAW_BUCKET"])
    print(f"created bucket {os.environ['RAW_BUCKET']}")


def main(argv: list[str]) -> None:
    match argv:
        case ["registry"]:
            seed_registry()
        case ["drop", kind]:
            drop(kind)
        case ["bucket"]:
            create_bucket()
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
