"""The published verdict schema (Draft 2020-12), enforced on every verdict the tests see."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = (Path(__file__).resolve().parent.parent / "preflight" / "report" / "schema"
               / "verdict-v1.json")


@cache
def schema_validator(path: Path) -> Any:
    """A published schema (itself checked), validating formats too."""
    import jsonschema

    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def validator() -> Any:
    return schema_validator(SCHEMA_PATH)


def validate_verdict(document: Any) -> None:
    validator().validate(document)
