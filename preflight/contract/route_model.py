"""Does a routing document build the engines' route model? Exactly as the engines decide.

The engines build `ResourceRoute(**document.to_dict())`: a pydantic v2 model in lax mode
(bytes for strings, "yes"/1/0 for the bool, ISO-8601 strings and Unix numbers for
timestamps; `tier`/`health_status` are non-null strings; unknown fields ignored), behind an
`__init__(self, **data)` that crashes on a field named `self` and hashes a truthy
`surface_id` to normalise it (docs/ENGINES.md §2).

Why two paths: importing pydantic and building the model costs a large share of a pod's
start (docs/BENCHMARKS.md, section 6, has the figures), while a hand-written lax validator
would re-implement pydantic's coercions (ISO-8601 variants, Unix seconds vs milliseconds,
boolean words), which is where a validator drifts from the engines. So:

- a fast path, importing nothing, accepts the documents the engines themselves write: every
  field absent or of its canonical type (str; None where Optional; bool; dict with string
  keys; datetime), no field named `self`. Every version of the model accepts these, and the
  fast path never rejects anything;
- any other document goes to `preflight.contract._route_pydantic`, the same model written in
  pydantic, imported on first need. It decides, so exactness for odd documents is
  pydantic's own, and the usual start-up never pays for the import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

REQUIRED_STRINGS = ("id", "resource_kind", "tenant_id", "env", "backend_type")
NULLABLE_STRINGS = ("project_id", "surface_id", "cost_notes", "previous_backend_type",
                    "switch_rationale")
DEFAULTED_STRINGS = ("tier", "health_status")  # a default, but null is not allowed
TIMESTAMPS = ("created_at", "updated_at")
NULLABLE_TIMESTAMPS = ("last_switch_time",)

_FIRESTORE_TYPES = {type(None): "null", bool: "boolean", int: "integer", float: "double",
                    str: "string", bytes: "bytes", dict: "map", list: "array"}
_CLASS_NAMES = {"GeoPoint": "geo point", "DocumentReference": "reference", "Vector": "vector"}


@dataclass(frozen=True, slots=True)
class Route:
    """What the judgement needs of a route the engines accept, as their model holds it."""

    backend_type: str
    config: Mapping[str, Any]


class InvalidRoute(ValueError):
    """The engines' model rejects the document; `reason` names the field, never a value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def firestore_type(value: object) -> str:
    """The Firestore type name of a value as the client returns it (never the value)."""
    name = _FIRESTORE_TYPES.get(type(value))
    if name is not None:
        return name
    if isinstance(value, datetime):
        return "timestamp"
    return _CLASS_NAMES.get(type(value).__name__, type(value).__name__.lower())


def parse(data: Mapping[str, Any]) -> Route:
    """The route as the engines' model would hold it, or InvalidRoute."""
    route = canonical(data)
    if route is not None:
        return route
    from preflight.contract import _route_pydantic

    return _route_pydantic.parse(data)


def reason(data: Mapping[str, Any]) -> str | None:
    """Why the engines' model rejects this document, or None if it accepts it."""
    try:
        parse(data)
    except InvalidRoute as invalid:
        return invalid.reason
    return None


def canonical(data: Mapping[str, Any]) -> Route | None:
    """The fast path: the route if every field is absent or canonical, else None (undecided)."""
    if "self" in data:
        return None
    for key in data:
        if type(key) is not str:
            return None
    for name in REQUIRED_STRINGS:
        if type(data.get(name)) is not str:
            return None
    for name in NULLABLE_STRINGS:
        value = data.get(name)
        if value is not None and type(value) is not str:
            return None
    for name in DEFAULTED_STRINGS:
        if name in data and type(data[name]) is not str:
            return None
    config = data.get("config", _ABSENT)
    if config is not _ABSENT:
        if type(config) is not dict:
            return None
        for key in config:
            if type(key) is not str:
                return None
    if "required" in data and type(data["required"]) is not bool:
        return None
    for name in TIMESTAMPS:
        if name in data and not isinstance(data[name], datetime):
            return None
    for name in NULLABLE_TIMESTAMPS:
        value = data.get(name)
        if value is not None and not isinstance(value, datetime):
            return None
    return Route(data["backend_type"], {} if config is _ABSENT else config)


class RouteDoc(NamedTuple):
    """One document of the registry as read: its id and its fields."""

    doc_id: str
    data: dict[str, Any]


_ABSENT: Any = object()

