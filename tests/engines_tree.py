"""A small engines-like source tree in the engines' own shapes, and a profile it agrees
with: what `preflight profile check-engines` is proven on (tests/test_check_engines.py)
and timed on, padded to the engines' size (bench/run.py).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

# The engines' shapes, small: a start-up check looping over kinds and refusing backend
# types; registry lookups with literal kinds, through a tabular helper that keeps the kind
# in self._resource_kind; resolvers comparing backend_type and reading config.get(...),
# followed into constructors with `or` stand-ins; *_BACKEND variables; an entry module
# importing at module level, inside a function and through importlib.
TREE = {
    "engines/__init__.py": "",
    "engines/web.py": """
        class Router:
            def get(self, path):
                return lambda function: function

            def post(self, path):
                return lambda function: function
        """,
    "engines/app/__init__.py": "",
    "engines/app/server.py": """
        from __future__ import annotations

        import importlib

        from engines import kpi, locks, notes
        from engines.routing.manager import startup_validation_check
        from engines.storage import objects


        def create_app() -> dict:
            startup_validation_check()
            from engines.chat import get_bus
            importlib.import_module("engines.timeline")
            return {
                "bus": get_bus,
                "notes": notes.router,
                "objects": objects.ObjectStoreService().resolve,
                "locks": locks.get_lock_config(),
                "kpi": kpi.kpi_repo,
            }


        app = create_app()
        """,
    "engines/config.py": """
        import os


        def _get_env(name, default=None):
            return os.getenv(name, default)


        def get_raw_bucket():
            return _get_env("RAW_BUCKET")


        def get_project():
            return _get_env("GCP_PROJECT_ID") or _get_env("GCP_PROJECT")
        """,
    "engines/routing/__init__.py": "",
    "engines/routing/registry.py": """
        class MissingRoutingConfig(Exception):
            pass


        class Registry:
            def get_route(self, resource_kind, tenant_id, env, project_id=None):
                return None


        _registry = Registry()


        def routing_registry():
            return _registry
        """,
    "engines/routing/manager.py": """
        from engines.routing.registry import MissingRoutingConfig, routing_registry

        REQUIRED_RESOURCE_KINDS = [
            "budget",
            "chat_bus",
        ]

        DISALLOWED_BACKENDS = {"memory", "noop"}


        def startup_validation_check() -> None:
            registry = routing_registry()
            for resource_kind in REQUIRED_RESOURCE_KINDS:
                route = registry.get_route(
                    resource_kind, tenant_id="t_system", env="dev", project_id=None)
                if not route:
                    raise MissingRoutingConfig(resource_kind)
                if route.backend_type and route.backend_type.lower() in DISALLOWED_BACKENDS:
                    raise ValueError(resource_kind)
        """,
    "engines/storage/__init__.py": "",
    "engines/storage/stores.py": """
        import os

        from engines import config


        class FirestoreStore:
            def __init__(self, project=None):
                self._project = project or config.get_project()


        class DynamoStore:
            def __init__(self, table_name=None, region=None):
                self._table_name = table_name or "tabular_store"
                self._region = region or "us-west-2"


        class S3Store:
            def __init__(self, bucket_name=None):
                self.bucket_name = bucket_name or config.get_raw_bucket()

            def get_object(self, key, context):
                return None


        class BlobStore:
            def __init__(self, account=None, secret=None):
                if not account or not secret:
                    account = os.getenv("BLOB_ACCOUNT")
                    secret = os.getenv("BLOB_SECRET")
                self._account = account

            def get_object(self, key, tenant_id, env):
                return None
        """,
    "engines/storage/tabular.py": """
        from engines.routing.registry import MissingRoutingConfig, routing_registry
        from engines.storage.stores import DynamoStore, FirestoreStore


        class TabularStoreService:
            def __init__(self, context, resource_kind="tabular_store"):
                self._context = context
                self._resource_kind = resource_kind
                self._adapter = self._resolve_adapter()

            def _resolve_adapter(self):
                route = routing_registry().get_route(
                    resource_kind=self._resource_kind,
                    tenant_id=self._context.tenant_id,
                    env=self._context.env,
                    project_id=self._context.project_id,
                )
                if not route:
                    raise MissingRoutingConfig(self._resource_kind)
                backend_type = (route.backend_type or "").lower()
                config = route.config or {}
                if backend_type == "firestore":
                    project = config.get("project")
                    return FirestoreStore(project=project)
                elif backend_type == "dynamodb":
                    table_name = config.get("table_name")
                    region = config.get("region", "us-west-2")
                    return DynamoStore(table_name=table_name, region=region)
                raise RuntimeError(f"Unsupported tabular_store backend_type={backend_type}")

            def upsert(self, item):
                return item
        """,
    "engines/storage/objects.py": """
        import os

        from engines.routing.registry import routing_registry
        from engines.storage.stores import BlobStore, S3Store


        class ObjectStoreService:
            def resolve(self, ctx):
                route = routing_registry().get_route(
                    resource_kind="object_store",
                    tenant_id=ctx.tenant_id,
                    env=ctx.env,
                    project_id=ctx.project_id,
                )
                backend_type = (route.backend_type or "").lower()
                config = route.config or {}
                if backend_type == "filesystem":
                    if ctx.mode not in ("lab",):
                        raise RuntimeError("filesystem is lab-only")
                    return None
                if backend_type == "s3":
                    bucket = config.get("bucket") or os.getenv("RAW_BUCKET")
                    return S3Store(bucket_name=bucket)
                if backend_type == "blob":
                    account = config.get("account")
                    secret = config.get("secret")
                    return BlobStore(account=account, secret=secret)
                raise RuntimeError(backend_type)

            def get(self, ctx, key):
                adapter = self.resolve(ctx)
                return adapter.get_object(key, ctx)
        """,
    "engines/notes.py": """
        from engines.storage.tabular import TabularStoreService
        from engines.web import Router

        router = Router()


        class NotesRepository:
            def _store(self, context):
                return TabularStoreService(context, resource_kind="notes_store")

            def create(self, context, item):
                return self._store(context).upsert(item)


        _repo = NotesRepository()


        @router.post("/notes")
        def create_note(context, item):
            return _repo.create(context, item)
        """,
    "engines/chat.py": """
        import os


        def get_bus():
            backend = os.getenv("CHAT_BUS_BACKEND", "memory").lower()
            if backend == "redis":
                host = os.getenv("REDIS_HOST", "localhost")
                return ("redis", host)
            raise RuntimeError(backend)
        """,
    "engines/timeline.py": """
        from engines.routing.registry import routing_registry
        from engines.web import Router

        router = Router()
        SELLABLE_MODES = {"saas", "t_system"}


        class FileTimeline:
            def append(self, event, ctx):
                if (ctx.mode or "lab").lower() in SELLABLE_MODES:
                    raise RuntimeError("filesystem is lab-only")


        def default_timeline_store():
            route = routing_registry().get_route(
                resource_kind="event_stream",
                tenant_id="t_system",
                env="dev",
            )
            backend_type = (route.backend_type or "").lower()
            if backend_type == "firestore":
                return "firestore"
            if backend_type == "filesystem":
                return FileTimeline()
            raise RuntimeError(backend_type)


        @router.get("/timeline")
        def timeline():
            return default_timeline_store()
        """,
    # Dormant: a module nothing imports, a class nothing builds, a lookup whose arguments
    # call a function the config module does not define.
    "engines/analytics.py": """
        from engines.storage.tabular import TabularStoreService


        def analytics_store(context):
            return TabularStoreService(context, resource_kind="analytics_store")
        """,
    "engines/locks.py": """
        from engines.storage.tabular import TabularStoreService


        class InMemoryLockConfig:
            pass


        class RoutedLockConfig:
            def _store(self, context):
                return TabularStoreService(context, resource_kind="lock_config")


        def get_lock_config():
            return InMemoryLockConfig()
        """,
    "engines/kpi.py": """
        from engines import config
        from engines.routing.registry import routing_registry


        def _default_repo():
            try:
                routing_registry().get_route(
                    resource_kind="metrics_store",
                    tenant_id="t_system",
                    env=config.env_name(),
                    project_id="p_internal",
                )
            except Exception:
                pass
            return "files"


        kpi_repo = _default_repo()
        """,
}

PROFILE = """\
schema: preflight.profile/v1
name: mini-engines
engines:
  repository: example/engines
  commit: 0123456789abcdef0123456789abcdef01234567
  entry: engines/app/server.py
registry: {collection: routing_registry, database: (default)}
envs: [dev, prod]
startup:
  scope: {tenant: t_system, env: dev}
  severity: fail
serving: {severity: warn, modes: [saas]}
refused_backends:
  all: [memory, noop]
  by_env: {}
kinds:
  budget: {at: startup}
  chat_bus: {at: startup}
  object_store:
    at: serving
    backends:
      s3:
        config:
          bucket: {stand_in: [RAW_BUCKET]}
      filesystem: {modes: [lab]}
      blob:
        config:
          account: {}
          secret: {}
        together:
          - keys: [account, secret]
            stand_in: [BLOB_ACCOUNT, BLOB_SECRET]
        unusable:
          reason: the service calls get_object(key, ctx); BlobStore takes (key, tenant_id, env)
          since: "0123456"
  notes_store:
    at: serving
    backends:
      firestore:
        config:
          project: {stand_in: [GCP_PROJECT_ID, GCP_PROJECT]}
      dynamodb:
        config:
          table_name: {default: tabular_store}
          region: {default: us-west-2}
  event_stream:
    at: {tenant: t_system, env: dev}
    backends:
      firestore: {}
      filesystem: {modes: [lab]}
environment:
  GCP_PROJECT_ID:
    empty: unset
    fallback: GCP_PROJECT
    engines: {reads: first_use}
    code: project_required
    fix: set GCP_PROJECT_ID
backend_variables:
  CHAT_BUS_BACKEND:
    case: lower
    default: memory
    engines: {reads: first_use, accept: [redis]}
    code: chat_bus_not_redis
    fix: set CHAT_BUS_BACKEND=redis
  REDIS_HOST:
    default: localhost
    engines: {reads: first_use}
    code: redis_host_unset
    fix: set REDIS_HOST
probes: {enabled: false}
"""


def write_tree(root: Path, changes: dict[str, list[tuple[str, str]]] | None = None) -> Path:
    """The tree, with `changes` (file -> [(old, new)], each old text present once)."""
    for name, source in TREE.items():
        text = textwrap.dedent(source).lstrip("\n")
        for old, new in (changes or {}).get(name, []):
            assert text.count(old) == 1, f"{old!r} is not once in {name}"
            text = text.replace(old, new)
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def write_padded(root: Path, files: int, reached: int) -> Path:
    """The tree plus `files` generated modules (3.5 kB each, as the engines' average), the first
    `reached` of them imported by the entry module: the engines' repository's shape."""
    write_tree(root, {"engines/app/server.py": [
        ("from engines import kpi, locks, notes\n",
         "from engines import kpi, locks, notes, pad\n")]})
    pad = root / "engines/pad"
    pad.mkdir()
    (pad / "__init__.py").write_text("".join(
        f"from engines.pad import m{i:04d}\n" for i in range(reached)), encoding="utf-8")
    for i in range(files):
        (pad / f"m{i:04d}.py").write_text(PADDING.format(i=i), encoding="utf-8")
    return root


PADDING = '''"""Generated module {i}: code the check reads but that holds no lookup."""
from __future__ import annotations

import logging
import os
from typing import Any

from engines.web import Router

logger = logging.getLogger(__name__)
router = Router()
WORK_DIR = os.getenv("PAD_{i}_DIR", "/var/pad")
LIMITS = {{"items": 100, "depth": 4, "retries": 3}}


class Service{i}:
    """A service with a few methods, as the engines' modules have."""

    def __init__(self, context: Any, limit: int = 100) -> None:
        self.context = context
        self.limit = limit
        self.items: list[dict[str, Any]] = []

    def add(self, item: dict[str, Any]) -> dict[str, Any]:
        if len(self.items) >= self.limit:
            raise ValueError(f"too many items in {{self.context}}")
        record = {{"id": len(self.items), "payload": item, "tenant": self.context.tenant_id}}
        self.items.append(record)
        logger.info("added %s", record["id"])
        return record

    def find(self, key: str) -> list[dict[str, Any]]:
        return [item for item in self.items if key in str(item.get("payload", ""))]

    def summary(self) -> dict[str, Any]:
        sizes = [len(str(item)) for item in self.items]
        return {{"count": len(self.items), "largest": max(sizes, default=0),
                "work_dir": WORK_DIR, "limits": LIMITS}}


def transform_{i}(values: list[int], factor: int = 2) -> list[int]:
    result = []
    for value in values:
        if value % 2:
            result.append(value * factor)
        else:
            result.append(value // factor)
    return result


def merge_{i}(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_{i}(merged[key], value)
        else:
            merged[key] = value
    return merged


class Repository{i}:
    """Records by key, as the engines' in-memory repositories keep them."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {{}}

    def get(self, key: str) -> dict[str, Any] | None:
        return self._records.get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        if not key:
            raise ValueError("a key is required")
        self._records[key] = merge_{i}(self._records.get(key, {{}}), record)

    def delete(self, key: str) -> bool:
        return self._records.pop(key, None) is not None

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(key for key in self._records if key.startswith(prefix))


def paginate_{i}(items: list[Any], page: int, size: int = 20) -> dict[str, Any]:
    if page < 1 or size < 1:
        raise ValueError("page and size start at 1")
    start = (page - 1) * size
    chunk = items[start:start + size]
    return {{"page": page, "size": size, "items": chunk, "more": start + size < len(items)}}


@router.get("/pad/{i}")
def handle_{i}(context: Any) -> dict[str, Any]:
    service = Service{i}(context)
    service.add({{"values": transform_{i}([1, 2, 3, 4])}})
    repository = Repository{i}()
    repository.put("summary", service.summary())
    return merge_{i}(paginate_{i}(repository.keys(), 1), {{"module": {i}}})
'''

