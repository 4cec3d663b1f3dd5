"""stderr logging: Cloud Logging JSON lines off a terminal, readable lines on one."""

from __future__ import annotations

import sys
from typing import Any

from preflight import __version__
from preflight.core.redact import Scrubber

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def level_for(level: str, *, chosen: bool, text: bool, live: bool) -> str:
    """The level logged at, unless one was `chosen`. A person reading the text verdict at a
    terminal needs the log only for what went wrong (warnings and errors); under the live
    view, which shows every attempt itself, only errors. Off a terminal the logs are JSON
    for a log platform that filters on severity: everything at `level`."""
    if chosen:
        return level
    if live:
        return "error"
    if text and sys.stderr.isatty():
        return max(level, "warning", key=LEVELS.__getitem__)
    return level


def configure(level: str, scrub: Scrubber, *, colors: bool,
              console: bool | None = None) -> None:
    """`colors`: as the run was asked (--no-color, NO_COLOR), for the terminal's lines."""
    import structlog

    if console is None:
        console = sys.stderr.isatty()

    def scrubbed(_logger: Any, _name: str, event: Any) -> Any:
        """Values only: keys and the rendered structure are never touched."""
        return scrub.tree(event)

    processors: list[Any]
    if console:
        processors = [
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            structlog.processors.format_exc_info,
            scrubbed,
            structlog.dev.ConsoleRenderer(colors=colors, pad_event_to=0),
        ]
    else:
        import structlog_gcp

        processors = [
            *structlog_gcp.build_gcp_processors(service="preflight", version=__version__),
            scrubbed,
            structlog.processors.JSONRenderer(),
        ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get() -> Any:
    import structlog

    return structlog.get_logger("preflight")
