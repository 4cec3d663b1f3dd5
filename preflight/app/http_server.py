"""`preflight serve`: a sidecar whose startup probe gates the engines container.

The HTTP side never computes anything: each verdict is rendered once into an immutable
snapshot of response bodies, and handlers only pick up the current snapshot. Probes during
a run therefore see a consistent verdict, and a probe costs the same whatever the checks do.
Each connection gets its own short-lived daemon thread (the standard library's
ThreadingHTTPServer) with a short idle timeout, up to a bound: an idle or slow client can
never make a kubelet's probe wait behind it.

The probes (and /metrics) are served on the pod port; the verdict, which carries every
check's details, only on a second listener, on loopback unless the operator says otherwise.
"""

from __future__ import annotations

import http.server
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from preflight.core.result import Status
from preflight.core.verdict import Verdict
from preflight.report import outputs
from preflight.report import text as render

MAX_CONNECTIONS = 128  # beyond this, a new connection is closed at once (never queued)
REQUEST_TIMEOUT = 2.0  # an idle or slow connection is dropped after this many seconds
PROBE_PATHS = ("/startupz", "/readyz", "/livez", "/metrics")


@dataclass(frozen=True)
class Snapshot:
    """Everything the endpoints answer, rendered from one verdict."""

    started: bool = False  # /startupz: passed at least once (sticky)
    ready: bool = False  # /readyz: the latest verdict passes
    final: bool = False  # a whole round has finished at least once
    verdict_json: bytes = b"{}\n"
    summary: bytes = b"starting\n"
    metrics: bytes = b""


class State:
    """The serve loop publishes verdicts here; HTTP handlers read the current snapshot."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.born = time.monotonic()
        self.first_pass_after: float | None = None
        self.rounds = 0
        self.snapshot = Snapshot(metrics=self._metrics(None, False, False))
        self.worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def publish(self, verdict: Verdict, *, final: bool) -> None:
        """Verdicts in order: once a final verdict is out, a progress update (built earlier
        by a runner thread and published late) never replaces it."""
        with self._lock:
            if not final and self.snapshot.final:
                return
            if final:
                self.rounds += 1
            passed = final and not verdict.failed
            if passed and self.first_pass_after is None:
                self.first_pass_after = time.monotonic() - self.born
            started = self.snapshot.started or passed
            previous = self.snapshot
            failing = [c.name for c in verdict.checks if c.status in (Status.FAIL, Status.ERROR)]
            summary = ("pass\n" if passed else
                       ("fail: " if final else "checking: ") + ", ".join(failing) + "\n")
            self.snapshot = Snapshot(
                started=started, ready=passed, final=final or previous.final,
                verdict_json=render.to_json(verdict).encode(),
                summary=summary.encode(),
                metrics=self._metrics(verdict, passed, final),
            )
        if final and (previous.ready != passed or not previous.final):
            report = getattr(self.log, outputs.severity(verdict))
            report("verdict changed", status="pass" if passed else "fail", failing=failing,
                   startup_passed=started)

    def _metrics(self, verdict: Verdict | None, passed: bool, final: bool) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.core import GaugeMetricFamily

        families: list[GaugeMetricFamily] = []
        status = GaugeMetricFamily("preflight_verdict_pass",
                                   "1 when the latest complete verdict passes")
        status.add_metric([], 1.0 if passed else 0.0)
        first = GaugeMetricFamily("preflight_first_pass_seconds",
                                  "Seconds from start until the first passing verdict (NaN before)")
        first.add_metric([], math.nan if self.first_pass_after is None else self.first_pass_after)
        rounds = GaugeMetricFamily("preflight_rounds", "Complete rounds of checks so far")
        rounds.add_metric([], float(self.rounds))
        per_status = GaugeMetricFamily("preflight_check_status",
                                       "1 for the status each check has in the latest verdict",
                                       labels=["check", "status"])
        attempts = GaugeMetricFamily("preflight_check_attempts",
                                     "Attempts the check made in its latest run", labels=["check"])
        duration = GaugeMetricFamily("preflight_check_duration_seconds",
                                     "How long the check's latest run took", labels=["check"])
        for check in verdict.checks if verdict else ():
            for value in Status:
                per_status.add_metric([check.name, value.value],
                                      1.0 if check.status is value else 0.0)
            attempts.add_metric([check.name], float(check.attempts))
            duration.add_metric([check.name], check.duration_ms / 1000)
        families += [status, first, rounds, per_status, attempts, duration]

        class Fixed:
            def collect(self) -> list[GaugeMetricFamily]:
                return families

        registry = CollectorRegistry(auto_describe=False)
        registry.register(Fixed())
        rendered: bytes = generate_latest(registry)
        return rendered

    def healthy(self) -> bool:
        return self.worker is None or self.worker.is_alive()


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "preflight"
    sys_version = ""
    timeout = REQUEST_TIMEOUT
    state: State  # set on the subclass made per server
    serves_verdict: bool  # likewise: only the verdict listener answers /verdict

    def do_GET(self) -> None:
        snapshot = self.state.snapshot
        path = self.path.split("?", 1)[0]
        if path == "/startupz":
            self._send(200 if snapshot.started else 503, snapshot.summary)
        elif path == "/readyz":
            self._send(200 if snapshot.ready else 503, snapshot.summary)
        elif path == "/livez":
            healthy = self.state.healthy()
            self._send(200 if healthy else 503, b"ok\n" if healthy else b"checks stopped\n")
        elif path == "/verdict" and self.serves_verdict:
            self._send(200 if snapshot.final else 503, snapshot.verdict_json, "application/json")
        elif path == "/metrics":
            self._send(200, snapshot.metrics, "text/plain; version=0.0.4; charset=utf-8")
        else:
            paths = (*PROBE_PATHS, "/verdict") if self.serves_verdict else PROBE_PATHS
            hint = "" if self.serves_verdict else " (the verdict: see --verdict-address)"
            self._send(404, f"not found: try {' '.join(paths)}{hint}\n".encode())

    def do_HEAD(self) -> None:
        self.do_GET()

    def _send(self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes are not logged: one event per verdict change is enough."""


class ProbeServer(http.server.ThreadingHTTPServer):
    """A thread per connection (daemon: never waited for), at most MAX_CONNECTIONS at once."""

    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    # The kernel's queue of connections not yet accepted. The standard library's 5 is full
    # at once behind a burst of idle connections; a connection that finds it full has its
    # handshake dropped, and the client's retransmission comes only after 1 s: a probe with
    # a 1 s timeout would fail. Every connection the slots admit fits in the queue.
    request_queue_size = MAX_CONNECTIONS

    def __init__(self, address: tuple[str, int], handler: type[Handler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: refuse at once rather than queue
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken or idle client connection is not worth a traceback."""


def start_http(state: State, host: str, port: int, *, verdict: bool) -> ProbeServer:
    """Listens at once; `verdict`: this listener answers /verdict too."""
    handler = type("BoundHandler", (Handler,), {"state": state, "serves_verdict": verdict})
    server = ProbeServer((host, port), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                     name="http-verdict" if verdict else "http", daemon=True).start()
    return server
