"""The oracle: what the engines do, written from ENGINES.md sections 1-3, not from preflight.

- `OracleRoute` is the engines' route model as ENGINES.md section 2 describes it, field for
  field, in pydantic v2's default (lax) mode, with the engines' constructor: an
  `__init__(self, **data)` that normalises a truthy `surface_id` through a dict of aliases
  before validating.
- `engines_get_route` / `engines_start_up` are the engines' start-up validation (section 3):
  per required kind, the first document in id order among those whose lookup fields equal
  the scope's (a null project matches only a present null), built with the model; a
  `backend_type` whose `.lower()` is refused crashes them.
- `engines_env_start_up` is section 1: whether the engines' start-up survives an
  environment.

Everything here answers "would the engines start?", nothing about preflight's own rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Dict, Optional  # noqa: UP035 - written the way the engines write it

from pydantic import BaseModel, Field, ValidationError

STARTUP_TENANT, STARTUP_ENV = "t_system", "dev"
STARTUP_KINDS = (
    "feature_flags", "strategy_lock", "kpi", "budget", "maybes", "memory", "analytics_events",
    "rate_limit", "firearms", "page_content", "seo", "realtime_registry", "chat_bus",
    "nexus_backend", "media_v2_storage", "raw_storage", "timeline",
)
REFUSED = {"memory", "noop", "local", "tmp", "localhost"}
SURFACE_ALIASES = {"squared": "squared2", "SQUARED": "squared2", "SQUARED²": "squared2",
                   "squared²": "squared2", "squared2": "squared2", "SQUARED2": "squared2"}


def _normalise_surface(surface: Any) -> Any:
    if surface is None:
        return None
    if surface in SURFACE_ALIASES:  # a dict lookup: an unhashable value raises TypeError
        return SURFACE_ALIASES[surface]
    return surface


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)  # noqa: UP017


class OracleRoute(BaseModel):
    id: str
    resource_kind: str
    tenant_id: str
    env: str
    project_id: Optional[str] = None  # noqa: UP045
    surface_id: Optional[str] = None  # noqa: UP045
    backend_type: str
    config: Dict[str, Any] = Field(default_factory=dict)  # noqa: UP006
    required: bool = True
    created_at: datetime = Field(default_factory=_utc_now)
    updated_at: datetime = Field(default_factory=_utc_now)
    tier: str = Field(default="free")
    cost_notes: Optional[str] = Field(None)  # noqa: UP045
    health_status: str = Field(default="unknown")
    last_switch_time: Optional[datetime] = Field(None)  # noqa: UP045
    previous_backend_type: Optional[str] = Field(None)  # noqa: UP045
    switch_rationale: Optional[str] = Field(None)  # noqa: UP045

    def __init__(self, **data: Any) -> None:
        if "surface_id" in data and data["surface_id"]:  # noqa: RUF019 - as the engines do
            data["surface_id"] = _normalise_surface(data["surface_id"])
        super().__init__(**data)


def build(document: Mapping[str, Any]) -> OracleRoute | None:
    """`ResourceRoute(**doc.to_dict())`: the route, or None where the engines would raise."""
    try:
        return OracleRoute(**document)
    except (ValidationError, TypeError):
        return None


def failing_fields(document: Mapping[str, Any]) -> set[str]:
    """The fields the engines' model complains about (for checking preflight's messages)."""
    try:
        OracleRoute(**document)
    except ValidationError as error:
        return {str(e["loc"][0]) for e in error.errors() if e["loc"]}
    except TypeError:
        return {"self", "surface_id"} | {str(k) for k in document if not isinstance(k, str)}
    return set()


def found_by_lookup(document: Mapping[str, Any], kind: str, tenant: str, env: str,
                    project: str | None) -> bool:
    """Firestore equality on the four lookup fields: strings equal strings; null only null."""
    for name, wanted in (("resource_kind", kind), ("tenant_id", tenant), ("env", env)):
        value = document.get(name)
        if not isinstance(value, str) or value != wanted:
            return False
    if "project_id" not in document:
        return False
    value = document["project_id"]
    return value is None if not project else isinstance(value, str) and value == project


def engines_get_route(documents: Mapping[str, Mapping[str, Any]], kind: str,
                      tenant: str = STARTUP_TENANT, env: str = STARTUP_ENV,
                      project: str | None = None) -> tuple[str | None, OracleRoute | None]:
    """(the id of the document `limit(1)` returns, its route or None if the model raises)."""
    ids = sorted(doc_id for doc_id, doc in documents.items()
                 if found_by_lookup(doc, kind, tenant, env, project))
    if not ids:
        return None, None
    return ids[0], build(documents[ids[0]])


def engines_start_up(documents: Mapping[str, Mapping[str, Any]],
                     kinds: Sequence[str] = STARTUP_KINDS) -> bool:
    """The engines' start-up validation over the routing registry (t_system/dev, no project)."""
    for kind in kinds:
        doc_id, route = engines_get_route(documents, kind)
        if doc_id is None or route is None:
            return False
        if route.backend_type and route.backend_type.lower() in REFUSED:
            return False
    return True


def engines_env_start_up(env: Mapping[str, str]) -> bool:
    """ENGINES.md section 1: does the engines' start-up survive this environment?"""
    project = env.get("GCP_PROJECT_ID") or env.get("GCP_PROJECT")
    registry = env.get("ROUTING_REGISTRY_BACKEND", "filesystem").lower()
    if registry not in ("firestore", "filesystem"):  # memory: an empty registry fails too
        return False
    if registry == "firestore" and not project:
        return False
    flags = (env.get("FEATURE_FLAGS_BACKEND") or "").lower()
    if flags not in ("", "firestore", "memory", "in_memory"):
        return False
    return not (flags in ("", "firestore") and not project)

