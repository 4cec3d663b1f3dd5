"""Writes one verdict everywhere it goes: verdict file, termination log, stdout."""

from __future__ import annotations

import sys
from typing import Any

from preflight import render
from preflight.redact import Scrubber
from preflight.verdict import Verdict


def emit(verdict: Verdict, scrub: Scrubber, log: Any) -> None:
    config = verdict.config
    document = scrub(render.to_json(verdict))
    if config.verdict_file is not None:
        try:
            render.write_atomically(config.verdict_file, document)
        except OSError as error:
            log.exception("could not write the verdict file", path=str(config.verdict_file),
                      error=error.strerror)
    if config.termination_log is not None:
        try:
            with open(config.termination_log, "w", encoding="utf-8") as stream:
                stream.write(scrub(render.to_termination_message(verdict)))
        except OSError as error:
            log.exception("could not write the termination log", path=str(config.termination_log),
                      error=error.strerror)
    log.info("verdict", status="fail" if verdict.failed else "pass",
             exit_code=int(verdict.exit_code), summary=verdict.summary(),
             duration_ms=verdict.duration_ms)
    text = document if config.format == "json" else scrub(render.to_text(verdict))
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass
