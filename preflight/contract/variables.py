"""How the engines read one environment variable: the value they end up comparing.

A rule (from the profile) says whether an empty value counts as unset, whether they
lower-case it (never trim it), which variable they fall through to, and their default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from preflight.contract.profile import VariableRule


class Reading(NamedTuple):
    """What the engines end up using for one variable."""

    variable: str  # where the value came from: the rule's variable or its fallback
    raw: str | None  # as set in the environment (None: unset, or empty read as unset)
    value: str | None  # as the engines compare it: default applied, case folded


def read(rule: VariableRule, environ: Mapping[str, str | None]) -> Reading:
    variable = rule.variable
    raw = environ.get(variable)
    if raw == "" and rule.empty_unset:
        raw = None
    if raw is None and rule.fallback:
        fallback = environ.get(rule.fallback)
        if fallback is not None and not (fallback == "" and rule.empty_unset):
            variable, raw = rule.fallback, fallback
    value = raw if raw is not None else rule.default
    if value is not None and rule.lower:
        value = value.lower()
    return Reading(variable, raw, value)


def integer(value: Any) -> int | None:
    """As the engines' int() reads a value (a bool is not a number here); None if it
    cannot."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def port(value: Any) -> int | None:
    """A TCP port their client can connect to: int() reads more (0, -1, 70000), and the
    connection then fails at first use."""
    number = integer(value)
    return number if number is not None and 0 < number < 65536 else None
