"""A Config built as the CLI builds it: every option at its default but those a test names."""

from __future__ import annotations

from collections.abc import Mapping

from preflight.checks import NAMES
from preflight.config import Config, Raw, Source, build

UNSET = ("project", "database", "bucket", "collection", "kinds", "disallow", "verdict_file",
         "termination_log")
DEFAULTS: dict[str, tuple[str | tuple[str, ...], str]] = {
    "scopes": ((), "--scope"), "timeout": ("60", "--timeout"),
    "attempt_timeout": ("5", "--attempt-timeout"), "format": ("json", "--format"),
    "log_level": ("info", "--log-level")}


def config_of(values: Mapping[str, Raw] | None = None,
              environ: Mapping[str, str] | None = None) -> Config:
    raw = {name: Raw(None, Source.DEFAULT, f"--{name} (default)") for name in UNSET}
    raw |= {name: Raw(value, Source.DEFAULT, f"{flag} (default)")
            for name, (value, flag) in DEFAULTS.items()}
    raw |= values or {}
    return build(raw, environ or {}, NAMES)
