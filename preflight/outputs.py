"""Writes one verdict everywhere it goes: verdict file, termination log, stdout."""

from __future__ import annotations

import sys
from typing import Any

from preflight import render
from preflight.redact import Scrubber
from preflight.verdict import Verdict


def emit(verdict: Verdict, scrub: Scrubber, log: Any) -> None:
    config = verdict.config
    if config.verdict_file is not None:
        try:
            render.write_atomically(config.verdict_file, scrub(render.to_json(verdict)))
        except OSError as error:
            log.error("could not write the verdict file", path=str(config.verdict_file),
                      error=error.strerror)
    write_termination_log(verdict, scrub, log)
    log.info("verdict", status="fail" if verdict.failed else "pass",
             exit_code=int(verdict.exit_code), summary=verdict.summary(),
             duration_ms=verdict.duration_ms)
    try:
        color = config.color and sys.stdout.isatty()
        sys.stdout.write(scrub(render.render_stdout(verdict, color=color)))
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass


def write_termination_log(verdict: Verdict, scrub: Scrubber, log: Any) -> None:
    path = verdict.config.termination_log
    if path is None:
        return
    message = render.fit(scrub(render.to_termination_message(verdict)), render.TERMINATION_LIMIT)
    try:
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(message)
    except OSError as error:
        log.error("could not write the termination log", path=str(path), error=error.strerror)
