"""Probing many endpoints at once: bounded, in daemon threads, never past a deadline.

Each backend's module in this package has `observe(endpoint, timeout, clients)`: the one
read-only call, its answer as data; transient trouble is raised. `probe_all` runs them.
The backends' modules are imported by name on first use and never import this one (their
`Clients` lives in observe/clients.py): no circle, lazy or not.
"""

from __future__ import annotations

import importlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from preflight.contract.targets import BACKENDS, Endpoint
from preflight.observe.clients import Clients

MAX_PARALLEL = 32
GRACE = 0.5  # seconds a probe may outlive the call timeout before it counts as hung


class _NoAnswer:
    """A probe still running when the attempt stopped waiting for it."""

    def __repr__(self) -> str:
        return "NO_ANSWER"


NO_ANSWER = _NoAnswer()

Observe = Callable[[Any, float, Clients], Any]


# Every backend's probe, and the engines' interpreter's (observe/interpreter.py, exec only).
PROBED = (*BACKENDS, "interpreter")


def observer_of(backend: str) -> Observe:
    """The backend's `observe`, its module (and client library) imported on first use."""
    assert backend in PROBED, backend
    found: Observe = importlib.import_module(f"preflight.observe.{backend}").observe
    return found


def probe_all(endpoints: Sequence[Endpoint], timeout: float, clients: Clients,
              parallel: int = MAX_PARALLEL, until: float = math.inf) -> dict[Endpoint, Any]:
    """Observes every endpoint at once (at most `parallel` in flight), waiting at most
    `timeout` + GRACE, and never past `until` (monotonic): what has not answered by then
    is NO_ANSWER, probed again on the next attempt. Values: an observation, the exception a
    probe raised, or NO_ANSWER. Probes run in daemon threads: a hung one never holds the
    process, and the attempt stays inside the runner's budget."""
    results: dict[Endpoint, Any] = {}
    lock = threading.Lock()
    finished = threading.Condition(lock)
    stop = threading.Event()
    slots = threading.BoundedSemaphore(max(1, parallel))

    def run(endpoint: Endpoint) -> None:
        with slots:
            if stop.is_set():
                return
            try:
                value: Any = observer_of(endpoint.backend)(endpoint, timeout, clients)
            except Exception as error:  # noqa: BLE001 - judged by its class only
                value = error
            with finished:
                results[endpoint] = value
                finished.notify_all()

    for endpoint in endpoints:
        threading.Thread(target=run, args=(endpoint,), name=f"probe:{endpoint.backend}",
                         daemon=True).start()
    deadline = min(until, time.monotonic() + timeout + GRACE)
    with finished:
        while len(results) < len(endpoints):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            finished.wait(remaining)
        stop.set()
        return {endpoint: results.get(endpoint, NO_ANSWER) for endpoint in endpoints}
