"""The live view on a terminal: one line per check, redrawn in place while the checks run.

Only ever drawn when stdout is a terminal and the format is text, so pipes and files never
see a control code. At the end the live block is erased; the summary table replaces it.
"""

from __future__ import annotations

import threading
import time
from typing import Any, TextIO

from preflight.core.result import CheckResult
from preflight.report.text import COLORS, MARKS, paint
from preflight.run.runner import Progress

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
FRAME_SECONDS = 0.1
COUNTDOWN_AFTER = 3.0  # seconds of waiting before the deadline count-down appears


def progress_line(progress: Progress, width: int, frame: int, now: float, color: bool) -> str:
    spinner = paint(SPINNER[frame % len(SPINNER)], "36", color)
    name = f"{progress.name:<{width}}"
    if progress.state == "waiting":
        return f"{spinner} {name}  waiting"
    text = f"{spinner} {name}  attempt {max(progress.attempts, 1)}"
    if progress.state == "retrying" and progress.next_try_at is not None:
        error = (progress.last_error or "")[:60]
        text += f" failed: {error}; next try in {max(0.0, progress.next_try_at - now):.1f}s"
    return text


def done_line(result: CheckResult, width: int, color: bool) -> str:
    mark = paint(MARKS[result.status], COLORS[result.status], color)
    return f"{mark} {result.name:<{width}}  {result.status.value} {result.duration_ms}ms"


class LiveView:
    """Redraws the session's current round until stopped."""

    def __init__(self, session: Any, stream: TextIO, *, color: bool) -> None:
        self.session = session
        self.stream = stream
        self.color = color
        self.started = time.monotonic()
        self.drawn = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="live", daemon=True)

    def start(self) -> LiveView:
        self.stream.write("\x1b[?25l")  # hide the cursor while redrawing
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self._erase()
        self.stream.write("\x1b[?25h")
        self.stream.flush()

    def _erase(self) -> None:
        if self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F" + "\x1b[2K\n" * self.drawn
                              + f"\x1b[{self.drawn}F")
            self.drawn = 0

    def lines(self, frame: int) -> list[str]:
        runner = self.session.runner
        if runner is None:
            return []
        now = time.monotonic()
        done = {result.name: result for result in runner.finished()}
        progress = {p.name: p for p in runner.progress()}
        width = max(map(len, runner.order))
        lines = []
        for name in runner.order:
            if name in done:
                lines.append(done_line(done[name], width, self.color))
            else:
                lines.append(progress_line(progress[name], width, frame, now, self.color))
        waited = now - self.started
        remaining = self.session.deadline - now
        if waited >= COUNTDOWN_AFTER and remaining < float("inf"):
            lines.append(paint(f"  waiting {waited:.0f}s; deadline in {max(0, remaining):.0f}s",
                               "2", self.color))
        return lines

    def _loop(self) -> None:
        frame = 0
        while not self._stop.wait(FRAME_SECONDS):
            frame += 1
            lines = self.lines(frame)
            if self.drawn:
                self.stream.write(f"\x1b[{self.drawn}F")
            self.stream.write("".join(f"\x1b[2K{line}\n" for line in lines))
            self.drawn = len(lines)
            self.stream.flush()
