"""The engines' route model in pydantic v2, for the documents route_model's fast path leaves.

Imported only when such a document turns up: pydantic's import and the model's build cost a
few hundred milliseconds (docs/BENCHMARKS.md). Fields, types, defaults and nullability are
the engines' (docs/ENGINES.md §2), in pydantic's default lax mode, and so is the
constructor: `__init__(self, **data)` (a field named `self` collides with the parameter) and
a truthy `surface_id` looked up in a dict of aliases (unhashable values raise). The
normalised alias itself is not reproduced: it is always a string, so it never changes
whether the model accepts a document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from preflight.contract.route_model import InvalidRoute, Route, firestore_type


def _now() -> datetime:
    return datetime.now(UTC)


class EnginesRoute(BaseModel):
    id: str
    resource_kind: str
    tenant_id: str
    env: str
    project_id: str | None = None
    surface_id: str | None = None
    backend_type: str
    config: dict[str, Any] = Field(default_factory=dict)
    required: bool = True
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
    tier: str = "free"
    cost_notes: str | None = None
    health_status: str = "unknown"
    last_switch_time: datetime | None = None
    previous_backend_type: str | None = None
    switch_rationale: str | None = None

    def __init__(self, **data: Any) -> None:
        if data.get("surface_id"):
            hash(data["surface_id"])  # the engines' alias lookup: `surface_id in ALIASES`
        super().__init__(**data)


EXPECTED = {
    **{name: "a string" for name in ("id", "resource_kind", "tenant_id", "env", "backend_type",
                                     "tier", "health_status")},
    **{name: "a string or null" for name in ("project_id", "surface_id", "cost_notes",
                                             "previous_backend_type", "switch_rationale")},
    "config": "a map",
    "required": "a boolean",
    "created_at": "a timestamp",
    "updated_at": "a timestamp",
    "last_switch_time": "a timestamp or null",
}


def parse(data: Mapping[str, Any]) -> Route:
    try:
        model = EnginesRoute(**data)
    except ValidationError as error:
        raise InvalidRoute(_explain(error, data)) from None
    except TypeError:
        raise InvalidRoute(_explain_crash(data)) from None
    return Route(model.backend_type, model.config)


def _explain(error: ValidationError, data: Mapping[str, Any]) -> str:
    """The first failing field, what it must be and the type it has: no value is shown."""
    first = error.errors(include_url=False, include_input=False)[0]
    location = first["loc"]
    name = str(location[0]) if location else "?"
    kind = first["type"]
    if kind == "missing":
        return f"missing required field '{name}'"
    expected = EXPECTED.get(name, "valid")
    if name == "config" and len(location) > 1:
        return "field 'config' must be a map with string keys"
    value = data.get(name)
    got = firestore_type(value)
    if kind == "string_unicode":
        got += " that are not UTF-8"
    elif kind == "bool_parsing":
        got += (" that is not a boolean word (true/false, yes/no, on/off, 1/0)"
                if isinstance(value, str | bytes | bytearray) else " other than 0 or 1")
    elif kind.startswith("datetime") and kind != "datetime_type":
        got += (" that is not an ISO 8601 date-time or a Unix time"
                if isinstance(value, str | bytes | bytearray) else " that is not a valid time")
    return f"field '{name}' must be {expected}, got {got}"


def _explain_crash(data: Mapping[str, Any]) -> str:
    if "self" in data:
        return "field 'self' is not allowed: the engines' route model cannot be built with it"
    if any(not isinstance(key, str) for key in data):
        return "field names must be strings"
    return (f"field 'surface_id' must be a string or null, got "
            f"{firestore_type(data.get('surface_id'))}")
