"""The error every layer may raise for input preflight cannot work with: exit 2."""

from __future__ import annotations


class ConfigError(Exception):
    """A value preflight cannot work with: exit 2, one line naming where it came from."""

    def __init__(self, where: str, expected: str, got: str | None = None) -> None:
        self.where = where
        self.expected = expected
        self.got = got
        shown = "" if got is None else f" (got {_show(got)})"
        super().__init__(f"{where}: expected {expected}{shown}")


def _show(value: str, limit: int = 60) -> str:
    text = value if len(value) <= limit else value[: limit - 1] + "…"
    return repr(text)
