"""Writes one verdict everywhere it goes: verdict file, termination log, stdout.

The verdict arrives scrubbed (Session makes it so); these functions only render and write.
"""

from __future__ import annotations

import sys
from typing import Any

from preflight.config import Config
from preflight.core.result import ExitCode, Status
from preflight.core.verdict import Verdict
from preflight.report import text as render


def severity(verdict: Verdict) -> str:
    """The log level of a verdict: alerts on severity>=ERROR fire on a failure, only then.

    ERROR when the engines must not start (exit 1); WARNING when they may not yet (not ready,
    interrupted) or may with a warning; INFO on a clean pass.
    """
    if verdict.exit_code is ExitCode.FAIL:
        return "error"
    if verdict.failed or any(check.status is Status.WARN for check in verdict.checks):
        return "warning"
    return "info"


def emit(verdict: Verdict, config: Config, log: Any) -> None:
    write_verdict_file(verdict, config, log)
    write_termination_log(verdict, config, log)
    report = getattr(log, severity(verdict))
    report("verdict", status="fail" if verdict.failed else "pass",
           exit_code=int(verdict.exit_code), summary=verdict.summary(),
           duration_ms=verdict.duration_ms)
    try:
        color = config.color and sys.stdout.isatty()
        sys.stdout.write(render.render_stdout(verdict, config.format, color=color))
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass


def write_verdict_file(verdict: Verdict, config: Config, log: Any) -> None:
    path = config.verdict_file
    if path is None:
        return
    try:
        render.write_atomically(path, render.to_json(verdict), config.verdict_file_mode)
    except OSError as error:
        log.error("could not write the verdict file", path=str(path), error=error.strerror)


def write_termination_log(verdict: Verdict, config: Config, log: Any) -> None:
    path = config.termination_log
    if path is None:
        return
    try:
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(render.to_termination_message(verdict))
    except OSError as error:
        log.error("could not write the termination log", path=str(path), error=error.strerror)
