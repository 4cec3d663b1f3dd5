"""`python -m bench.probe_wall SPEC.json`: backends.reachable's wall time, in one process.

SPEC is {"groups": {name: [subject, …]}, "reps": N}; each subject is a route's kind,
origin, backend and config (its spec comes from the built-in profile). Per rep (after one
discarded warm-up of everything), each group is probed alone (one distinct endpoint: its
single-probe wall time), then all groups at once. Each
measurement is one attempt of a fresh check on a fresh context: no answer is reused.
Prints {"single": {name: [s…]}, "all": [s…], "cpu_…": [s…], "probes": n, "statuses": {…}}
as JSON (CPU: this process's user+system time, all threads).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from preflight.app.cli import check as check_command
from preflight.app.options import raw_values
from preflight.checks import NAMES
from preflight.checks.backends_reachable import BackendsReachable
from preflight.config import build
from preflight.contract.profile import load
from preflight.contract.targets import ProbeSubject
from preflight.run.context import Context
from tests.probing import route_subject


def attempt(subjects: list[ProbeSubject], config: Any) -> tuple[float, float, dict[str, Any],
                                                                str]:
    """(wall s, CPU s of this process, details, status) of one attempt of a fresh check."""
    check = BackendsReachable(lambda _ctx: subjects)
    ctx = Context(config, time.monotonic() + 120)
    started, cpu = time.perf_counter(), time.process_time()
    outcome = check.attempt(ctx)
    return (time.perf_counter() - started, time.process_time() - cpu, dict(outcome.details),
            outcome.status.value)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    profile = load()  # each route with its kind's spec, as probe_subjects gives it
    groups = {name: [route_subject(profile, **entry) for entry in entries]
              for name, entries in spec["groups"].items()}
    everything = [subject for subjects in groups.values() for subject in subjects]
    click_ctx = check_command.make_context("check", ["--project", "bench", "--bucket", "b"])
    config = dataclasses.replace(build(raw_values(click_ctx, click_ctx.params), {}, NAMES),
                                 attempt_timeout=10.0)
    warm_until = time.monotonic() + 60
    while True:  # warm-up: imports, clients, and the servers (a cold Java emulator is slow)
        try:
            attempt(everything, config)
            break
        except ConnectionError:
            if time.monotonic() > warm_until:
                raise
            time.sleep(0.5)
    single: dict[str, list[float]] = {name: [] for name in groups}
    together: list[float] = []
    cpu_single: list[float] = []
    cpu_together: list[float] = []
    details: dict[str, Any] = {}
    statuses: dict[str, str] = {}
    for _ in range(spec["reps"]):
        cpu_sum = 0.0
        for name, subjects in groups.items():
            seconds, cpu, _details, statuses[name] = attempt(subjects, config)
            single[name].append(seconds)
            cpu_sum += cpu
        cpu_single.append(cpu_sum)
        seconds, cpu, details, statuses["all"] = attempt(everything, config)
        together.append(seconds)
        cpu_together.append(cpu)
    print(json.dumps({"single": single, "all": together, "cpu_single_sum": cpu_single,
                      "cpu_all": cpu_together, "probes": details.get("probes"),
                      "subjects": details.get("subjects"), "statuses": statuses,
                      "results": details.get("results")}))


if __name__ == "__main__":
    main()
