"""A realistic routing registry, written the way the engines' own dev seeding writes it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tests.harness import ENGINES_KINDS

FILESYSTEM_KINDS = ("budget", "raw_storage", "media_v2_storage")


def route(kind: str, tenant: str = "t_system", env: str = "dev", project: str | None = None,
          backend: str | None = None, **extra: Any) -> dict[str, Any]:
    """One route document as the engines write it (ENGINES.md, dev seeding)."""
    if backend is None:
        backend = ("filesystem" if kind in FILESYSTEM_KINDS
                   else "redis" if kind == "chat_bus" else "firestore")
    config: dict[str, Any] = {}
    if backend == "filesystem":
        config = {"root": f"/var/lib/engines/{kind}"}
    elif backend == "redis":
        config = {"host": "127.0.0.1", "port": 6379}  # loopback: a probe may follow it
    now = datetime(2026, 11, 1, tzinfo=UTC)
    document = {
        "id": f"{kind}-{tenant}-{env}", "resource_kind": kind, "tenant_id": tenant, "env": env,
        "project_id": project, "surface_id": None, "backend_type": backend, "config": config,
        "required": True, "created_at": now, "updated_at": now,
    }
    document.update(extra)
    return document


def registry(tenant: str = "t_system", env: str = "dev", project: str | None = None,
             kinds: Iterable[str] = ENGINES_KINDS) -> dict[str, dict[str, Any]]:
    """Document id -> fields, with the `{kind}-{tenant}-{env}` ids the engines use."""
    suffix = f"-{project}" if project else ""
    return {f"{kind}-{tenant}-{env}{suffix}": route(kind, tenant, env, project)
            for kind in kinds}


# The request-time kinds of ENGINES.md section 5 (copied, not imported from preflight), and
# the scope the first-use tests and the bench serve.
SERVING_KINDS = ("object_store", "firearms_policy_store", "strategy_policy_store",
                 "strategy_lock_store", "notes_store", "seo_config_store", "config_store",
                 "component_registry", "canvas_command_store", "flow_store", "graph_store",
                 "overlay_store", "chat_store", "event_spine")
SERVED = "t_acme/prod/p_main"


def serving_registry(scope: str = SERVED, /, **overrides: tuple[str, dict[str, Any]]
                     ) -> dict[str, dict[str, Any]]:
    """Start-up routes, event_stream, and a request-time route per kind at `scope`: s3 for
    object_store (bucket from RAW_BUCKET), firestore for the rest, unless overridden."""
    documents = registry()
    documents["event_stream-t_system-dev"] = route("event_stream", backend="firestore")
    tenant, env, project = scope.split("/")
    for kind in SERVING_KINDS:
        backend, config = overrides.get(kind, ("s3" if kind == "object_store" else "firestore",
                                               {}))
        documents[f"{kind}-{tenant}-{env}-{project}"] = route(
            kind, tenant, env, project, backend=backend, config=config or {})
    return documents


def firestore_client(emulator: str, project: str) -> Any:
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator
    from google.cloud import firestore

    return firestore.Client(project=project)


def write(client: Any, documents: Mapping[str, Mapping[str, Any]],
          collection: str = "routing_registry") -> None:
    batch = client.batch()
    for count, (doc_id, fields) in enumerate(documents.items(), start=1):
        batch.set(client.collection(collection).document(doc_id), dict(fields))
        if count % 400 == 0:
            batch.commit()
            batch = client.batch()
    batch.commit()


def snapshot(client: Any, collection: str = "routing_registry") -> dict[str, dict[str, Any]]:
    return {doc.id: doc.to_dict() or {} for doc in client.collection(collection).stream()}


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
