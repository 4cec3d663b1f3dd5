"""What every long-running command sets up the same way: logs, scrubbing, signals."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any

from preflight.config import Config
from preflight.core.redact import Scrubber


def _leave_to_the_watcher(_signum: int, _frame: FrameType | None) -> None:
    """Installed so SIGTERM / SIGINT do not end the process; `Interrupt` acts on them."""


class Interrupt:
    """SIGTERM / SIGINT stop the run; the verdict is still written.

    A process-directed signal may land on any thread, and Python runs a handler only in the
    main thread, between its bytecodes: a main thread blocked in a wait (serve's waits for
    good) would never see a signal that landed elsewhere. The C-level handler, though,
    writes the signal's number into the wakeup pipe at once, whichever thread it lands on;
    a watcher thread blocked on that pipe records it and cancels the run. The Python-level
    handler does nothing: setting the cancel event there could deadlock against the main
    thread, interrupted while it holds that event's lock inside its own wait.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)
    COMMIT_WAIT = 1.0  # seconds `commit` waits for the watcher to read what is left

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.signal: int | None = None
        self._write_end: int | None = None
        self._watcher: threading.Thread | None = None

    def install(self) -> None:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(write_end, False)  # the C-level handler must never block
        self._write_end = write_end
        self._watcher = threading.Thread(target=self._watch, args=(read_end,), name="signals",
                                         daemon=True)
        self._watcher.start()
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        for signum in self.SIGNALS:
            signal.signal(signum, _leave_to_the_watcher)

    def _watch(self, read_end: int) -> None:
        """Until the write end is closed (`commit`): every signal that arrives stops the run."""
        try:
            while arrived := os.read(read_end, 64):
                for signum in arrived:
                    if signum in self.SIGNALS:
                        if self.signal is None:
                            self.signal = signum
                        self.cancel.set()
        finally:
            os.close(read_end)

    def commit(self) -> int | None:
        """Default actions from now on; returns the signal that came before, if any.

        After this, SIGTERM / SIGINT terminate the process by their default action before
        an exec, and reach the exec'd command after it: never swallowed either way. A signal
        caught before the default actions came back is in the pipe: closing its write end
        lets the watcher read it, then end.
        """
        for signum in self.SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        if self._write_end is None or self._watcher is None:
            return self.signal
        signal.set_wakeup_fd(-1)
        os.close(self._write_end)
        self._write_end = None
        self._watcher.join(self.COMMIT_WAIT)
        return self.signal


@dataclass
class Process:
    """The scrubber, the logger and the signal handling of one command's run."""

    scrub: Scrubber
    log: Any
    cancel: threading.Event
    interrupt: Interrupt


def start(config: Config, *, level_chosen: bool, live: bool = False) -> Process:
    """Logs configured (readable on a terminal, JSON elsewhere), secrets known, signals
    caught: the run's cancel event is set by SIGTERM / SIGINT from now on."""
    from preflight.app import logs

    # gRPC's C core would print its own unstructured lines on stderr.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    scrub = Scrubber.from_environment()
    logs.configure(logs.level_for(config.log_level, chosen=level_chosen,
                                  text=config.format == "text", live=live), scrub,
                   colors=config.color)
    cancel = threading.Event()
    interrupt = Interrupt(cancel)
    interrupt.install()
    return Process(scrub, logs.get(), cancel, interrupt)
