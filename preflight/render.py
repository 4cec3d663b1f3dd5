"""Every output renders from the Verdict: JSON document, text summary, termination message."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from preflight.verdict import Status, Verdict

MARKS = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.ERROR: "✗",
         Status.SKIPPED: "–"}
TERMINATION_LIMIT = 4096  # bytes Kubernetes keeps of a termination message


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


def to_text(verdict: Verdict) -> str:
    width = max((len(c.name) for c in verdict.checks), default=0)
    lines = [headline(verdict)]
    for check in verdict.by_severity():
        lines.append(f"  {MARKS[check.status]} {check.name:<{width}} {check.status.value:<7} "
                     f"{check.duration_ms:>6}ms  {check.outcome.message}")
        if check.status in (Status.FAIL, Status.ERROR, Status.WARN) and check.outcome.remediation:
            lines.append(f"      fix: {check.outcome.remediation}")
    return "\n".join(lines) + "\n"


def to_termination_message(verdict: Verdict, limit: int = TERMINATION_LIMIT) -> str:
    """Most important first, cut at a line boundary so it always fits Kubernetes' limit."""
    lines = [headline(verdict)]
    for check in verdict.by_severity():
        if check.status is Status.PASS:
            continue
        lines.append(f"{MARKS[check.status]} {check.name}: {check.outcome.message}")
        if check.status is not Status.SKIPPED and check.outcome.remediation:
            lines.append(f"  fix: {check.outcome.remediation}")
    text = ""
    for index, line in enumerate(lines):
        candidate = text + line + "\n"
        if len(candidate.encode()) > limit - 64:
            text += f"… {len(lines) - index} more line(s): see the verdict file or logs\n"
            break
        text = candidate
    return fit(text, limit)


def fit(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, never a broken character."""
    return text.encode()[:limit].decode(errors="ignore")


def write_atomically(path: Path, text: str) -> None:
    """A reader never sees half a verdict: temp file in the same folder, fsync, rename."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
