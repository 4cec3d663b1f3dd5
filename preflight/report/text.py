"""Every output renders from the Verdict: JSON document, text summary, termination message."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from preflight.core.result import CheckResult, Status
from preflight.core.verdict import Verdict
from preflight.report import junit

MARKS = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.ERROR: "✗",
         Status.SKIPPED: "–"}
COLORS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.ERROR: "31",
          Status.SKIPPED: "2"}


def paint(text: str, code: str, color: bool) -> str:
    """ANSI colour, only ever asked for when stdout is a terminal."""
    return f"\x1b[{code}m{text}\x1b[0m" if color else text
TERMINATION_LIMIT = 4096  # bytes Kubernetes keeps of a termination message
LINE_LIMIT = 1024  # one check's line there, so several failures fit


def to_json(verdict: Verdict, *, compact: bool = False) -> str:
    """Pretty for files; one line for stdout, where log collectors split on newlines."""
    if compact:
        return json.dumps(verdict.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
    return json.dumps(verdict.to_dict(), indent=2, ensure_ascii=False) + "\n"


def headline(verdict: Verdict) -> str:
    counts = verdict.summary()
    tally = ", ".join(f"{counts[s.value]} {s.value}" for s in (
        Status.FAIL, Status.ERROR, Status.WARN, Status.SKIPPED, Status.PASS) if counts[s.value])
    status = "FAIL" if verdict.failed else "PASS"
    interrupted = " (interrupted)" if verdict.interrupted_by else ""
    return (f"preflight {status}{interrupted} (exit {int(verdict.exit_code)}) in "
            f"{verdict.duration_ms / 1000:.2f}s: {tally}")


PHASES = {
    "startup": "start-up: if these fail, the engines will not start (or the contract forbids it)",
    "first_use": "first use: the engines start; requests that need these fail",
}


def to_text(verdict: Verdict, *, color: bool = False) -> str:
    """A compact table, worst first within each phase; each problem ends with its fix."""
    width = max((len(c.name) for c in verdict.checks), default=0)
    lines = [paint(headline(verdict), "1;31" if verdict.failed else "1;32", color)]
    for phase, title in PHASES.items():
        checks = [check for check in verdict.by_severity() if check.phase == phase]
        if not checks:
            continue
        lines.append(paint(f" {title}", "2", color))
        for check in checks:
            mark = paint(MARKS[check.status], COLORS[check.status], color)
            ignored = " (ignored)" if check.ignored else ""
            lines.append(f"  {mark} {check.name:<{width}} {check.status.value:<7} "
                         f"{check.duration_ms:>6}ms  {check.outcome.message}{ignored}")
            if check.status in (Status.FAIL, Status.ERROR, Status.WARN) \
                    and check.outcome.remediation:
                lines.append(f"      fix: {check.outcome.remediation}")
    return "\n".join(lines) + "\n"


def to_termination_message(verdict: Verdict, limit: int = TERMINATION_LIMIT) -> str:
    """Most important first, cut at a line boundary so it always fits Kubernetes' limit."""
    lines = [headline(verdict)]
    for check in verdict.by_severity():
        if check.status is Status.PASS:
            continue
        first_use = " [first use]" if check.phase == "first_use" else ""
        lines.append(f"{MARKS[check.status]} {check.name}{first_use}: {check.outcome.message}")
        if check.status is not Status.SKIPPED and check.outcome.remediation:
            lines.append(f"  fix: {check.outcome.remediation}")
    text = ""
    budget = limit - 64  # room for the "more" line
    for index, line in enumerate(lines):
        room = budget - len(text.encode()) - 1
        if room < 80 and index:
            text += f"… {len(lines) - index} more line(s): see the verdict file or logs\n"
            break
        text += fit(line, min(LINE_LIMIT, room)) + "\n"  # a huge message is cut, not dropped
    return fit(text, limit)


def fit(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, never a broken character; '…' marks a cut."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:max(0, limit - 3)].decode(errors="ignore") + "…"


def write_atomically(path: Path, text: str | Iterable[str], mode: int = 0o644) -> None:
    """A reader never sees half a file: temp file in the same folder, fsync, rename.

    `text` may come in pieces (the audit's reports). `mode` is set on the file itself,
    whatever the umask: the readers are other containers.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.writelines([text] if isinstance(text, str) else text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def to_junit(verdict: Verdict) -> str:
    """One testcase per check."""
    counts = verdict.summary()
    failing = [check for check in verdict.checks if check.status is Status.FAIL or (
        check.status is Status.WARN and verdict.target.strict and not check.ignored)]
    totals = junit.Totals(len(verdict.checks), len(failing), counts[Status.ERROR.value],
                          counts[Status.SKIPPED.value], verdict.duration_ms / 1000)
    return "".join(junit.chunks("preflight", totals, verdict.started_at,
                                (_junit_case(check, check in failing)
                                 for check in verdict.checks)))


def _junit_case(check: CheckResult, failing: bool) -> junit.Case:
    outcome = check.outcome
    body = outcome.message + (f"\nfix: {outcome.remediation}" if outcome.remediation else "")
    case = junit.Case(check.name, "preflight", check.duration_ms / 1000)
    if failing:
        return replace(case, result="failure", message=outcome.message,
                       kind=check.status.value, body=body)
    if check.status is Status.ERROR:
        return replace(case, result="error", message=outcome.message,
                       kind="transient" if outcome.transient else "error", body=body)
    if check.status is Status.SKIPPED:
        return replace(case, result="skipped", message=outcome.message)
    if check.status is Status.WARN:
        return replace(case, output=f"warning: {body}")
    return case


def to_tap(verdict: Verdict) -> str:
    """TAP version 13: skips as SKIP directives, failures with a YAML diagnostic block."""
    lines = ["TAP version 13", f"1..{len(verdict.checks)}"]
    for number, check in enumerate(verdict.checks, start=1):
        outcome = check.outcome
        ok = check.status in (Status.PASS, Status.SKIPPED) or (
            check.status is Status.WARN and not (verdict.target.strict and not check.ignored))
        line = f"{'ok' if ok else 'not ok'} {number} - {check.name}"
        if check.status is Status.SKIPPED:
            line += f" # SKIP {_one_line(outcome.message)}"
        lines.append(line)
        if check.status is not Status.PASS and check.status is not Status.SKIPPED:
            lines += ["  ---", f"  status: {check.status.value}",
                      f"  message: {json.dumps(outcome.message, ensure_ascii=False)}"]
            if outcome.remediation:
                lines.append(f"  fix: {json.dumps(outcome.remediation, ensure_ascii=False)}")
            lines.append("  ...")
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.replace("#", "").split())


def render_stdout(verdict: Verdict, form: str, *, color: bool = False) -> str:
    """What stdout carries for --format."""
    match form:
        case "json":
            return to_json(verdict, compact=True)
        case "junit":
            return to_junit(verdict)
        case "tap":
            return to_tap(verdict)
    return to_text(verdict, color=color)
