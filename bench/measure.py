"""Measuring instruments: child processes (wall time, peak RSS), a delayable TCP front, stats."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path


class BenchError(RuntimeError):
    """A benchmarked command errored or gave the wrong verdict: the run must fail."""


@dataclass(frozen=True)
class ProcessRun:
    command: tuple[str, ...]
    returncode: int
    wall_s: float
    max_rss_kib: int
    user_s: float
    sys_s: float
    stdout: str
    stderr: str
    started: float  # time.monotonic() just before the fork
    ended: float  # time.monotonic() once the child was reaped

    def describe(self) -> str:
        tail = (self.stderr or self.stdout)[-1500:]
        return f"{' '.join(self.command)!r} exited {self.returncode}:\n{tail}"


GNU_TIME = "/usr/bin/time"


def run_process(command: Sequence[str], env: Mapping[str, str], *, cwd: Path | None = None,
                timeout: float = 180.0, rss: bool = False) -> ProcessRun:
    """Run to completion; wall time from just before the spawn to reaping the child.

    Peak RSS (`rss=True`) comes from GNU time's `%M`, i.e. `wait4` in a *small* parent: the
    kernel folds the RSS a process had before `exec` into `ru_maxrss`, so a child forked
    straight from this (large) benchmark process would report this process's size. Without
    /usr/bin/time, RSS is reported as unknown (-1). Output goes to temporary files so no pipe
    can fill and stall the child.
    """
    measure_rss = rss and os.path.exists(GNU_TIME)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".time") as usage_file:
        argv = list(command)
        if measure_rss:
            argv = [GNU_TIME, "-f", "%M", "-o", usage_file.name, *argv]
        started = time.monotonic()
        process = subprocess.Popen(argv, env=dict(env), cwd=cwd, stdout=out, stderr=err,
                                   stdin=subprocess.DEVNULL)
        # Block in wait4 (no polling: this machine has two cores); a timer kills a hung child.
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        ended = time.monotonic()
        process.returncode = os.waitstatus_to_exitcode(status)
        # wait4's CPU times include the grandchild GNU time reaped; its maxrss would not do.
        max_rss, user, system = -1, usage.ru_utime, usage.ru_stime
        if measure_rss:
            lines = usage_file.read().split("\n")
            fields = next((line.split() for line in reversed(lines) if line.strip()), [])
            if len(fields) == 1 and fields[0].isdigit():
                max_rss = int(fields[0])
        out.seek(0)
        err.seek(0)
        return ProcessRun(tuple(command), process.returncode, ended - started, max_rss,
                          user, system, out.read().decode("utf-8", "replace"),
                          err.read().decode("utf-8", "replace"), started, ended)


class TcpFront:
    """A loopback TCP port that forwards to a real server, and opens when we say so.

    Before `open()` nothing listens on the port (connection refused: the dependency is
    down); `open()` starts listening and records the moment. `first_accept` is when the
    first client connected (time to first network call).
    """

    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target = target
        self.port = port
        self.opened_at: float | None = None
        self.first_accept: float | None = None
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def open(self) -> float:
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=64)
        self.opened_at = time.monotonic()
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self.opened_at

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            now = time.monotonic()
            with self._lock:
                if self.first_accept is None:
                    self.first_accept = now
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        if self._listener is not None:
            with suppress(OSError):
                self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.close()


@dataclass
class Samples:
    """Repeated measurements of one quantity (seconds, or any unit) and their median."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")

    def to_dict(self) -> dict[str, object]:
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n,
                "values": [round(v, 6) for v in self.values]}
