"""Soak: 200 consecutive `check` runs, and one `serve` under 10,000 probes and 100 re-checks.

`check`: a fixed rotation of scenarios with known outcomes (pass, warn, missing kinds,
refused backend, missing bucket, broken env rule, S3 down → exit 3), a few at a time against
the session's emulator and S3 server. Zero unexpected outcomes: every exit code and the
deciding check's status are as expected, every verdict is schema-valid, no canary leaks, no
temporary file or process is left behind. Per-run peak RSS comes from wait4().

`serve`: one process re-checking every 20 ms while 10,000 probe requests hit every endpoint;
its threads, file descriptors and RSS are sampled throughout and must stay bounded.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import harness, servers
from tests.conftest import Stack
from tests.faults import results, tools
from tests.faults.common import Canaries, leaks
from tests.verdict_schema import validate_verdict

pytestmark = pytest.mark.integration

RUNS = 200
PARALLEL = 3
PROBES = 10_000
RECHECKS = 100


@dataclass
class Scenario:
    name: str
    exit: int
    args: list[str] = field(default_factory=list)
    env: dict[str, str | None] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)


def scenarios(stack: Stack, canaries: Canaries) -> list[Scenario]:
    docs = canaries.registry()
    stack.seed(docs)
    missing = {k: v for k, v in docs.items() if not k.startswith("timeline-")}
    stack.seed(missing, collection="missing")
    refused = {k: dict(v) for k, v in docs.items()}
    refused["kpi-t_system-dev"]["backend_type"] = " MEMORY"
    stack.seed(refused, collection="refused")
    dups = {**docs, "kpi#t_system#dev": dict(docs["kpi-t_system-dev"])}
    stack.seed(dups, collection="dups")
    healthy = Scenario("pass", 0, checks={"routing.entries": "pass", "s3.bucket": "pass"})
    return [
        healthy,
        Scenario("missing kind", 1, ["--collection", "missing"],
                 checks={"routing.entries": "fail"}),
        healthy,
        Scenario("refused backend", 1, ["--collection", "refused"],
                 checks={"routing.entries": "fail"}),
        Scenario("agreeing duplicates", 0, ["--collection", "dups"],
                 checks={"routing.entries": "warn"}),
        healthy,
        Scenario("missing bucket", 1, env={"RAW_BUCKET": "no-such-bucket-soak"},
                 checks={"s3.bucket": "fail"}),
        Scenario("env rule broken", 1, env={"NEXUS_BACKEND": "noop"},
                 checks={"env.policy": "fail", "routing.entries": "pass"}),
        Scenario("S3 down", 3, ["--timeout", "1.5", "--attempt-timeout", "0.5"],
                 env={"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{tools.closed_port()}"},
                 checks={"s3.bucket": "error"}),
    ]


@dataclass
class Outcome:
    scenario: str
    exit: int
    wall: float
    max_rss_kb: int
    problems: list[str]
    leaked: list[str]
    scanned: int


def run_once(number: int, scenario: Scenario, base_env: dict[str, str], root: Path,
             canaries: Canaries) -> Outcome:
    run_dir = root / f"run-{number:03d}"
    run_dir.mkdir()
    verdict_path = run_dir / "verdict.json"
    env = dict(base_env, PREFLIGHT_TERMINATION_LOG=str(run_dir / "termination-log"))
    for name, value in scenario.env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    argv = [*harness.preflight_argv("check"), "--format", "json", "--verdict-file",
            str(verdict_path), *scenario.args]
    with (run_dir / "stdout").open("wb") as out, (run_dir / "stderr").open("wb") as err:
        started = time.monotonic()
        process = subprocess.Popen(argv, env=env, cwd=run_dir, stdout=out, stderr=err,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        limit = started + 30
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > limit:
                os.killpg(process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.01)
        wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    problems: list[str] = []
    code = process.returncode
    if code != scenario.exit:
        problems.append(f"exit {code}, expected {scenario.exit}")
    try:
        verdict = json.loads(verdict_path.read_text(encoding="utf-8"))
        validate_verdict(verdict)
        harness.check_verdict(verdict)
        stdout = json.loads((run_dir / "stdout").read_text(encoding="utf-8"))
        if stdout != verdict:
            problems.append("stdout differs from the verdict file")
        got = {c["name"]: c["status"] for c in verdict["checks"]}
        for name, wanted in scenario.checks.items():
            if got.get(name) != wanted:
                problems.append(f"{name} is {got.get(name)}, expected {wanted}")
    except (OSError, ValueError, AssertionError) as error:
        problems.append(f"verdict: {str(error)[:300]}")
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for p in run_dir.iterdir() if p.is_file())
    return Outcome(scenario.name, code, wall, usage.ru_maxrss, problems, leaks(text, canaries),
                   len(text.encode()))


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def _server_fds(*group: servers.Server) -> int:
    return sum(_fds(server.process.pid) for server in group if server.process is not None)


def _orphans(marker: str) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                count += 1
        except OSError:
            continue
    return count


def test_two_hundred_consecutive_checks(stack: Stack, canaries: Canaries,
                                        tmp_path: Path) -> None:
    rotation = scenarios(stack, canaries)
    base_env = stack.env(**canaries.env(s3_endpoint=stack.s3_endpoint))
    root = tmp_path / "soak"
    root.mkdir()
    fds_before = _server_fds(stack.firestore, stack.s3)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        outcomes = list(pool.map(
            lambda n: run_once(n, rotation[n % len(rotation)], base_env, root, canaries),
            range(RUNS)))
    total = time.monotonic() - started
    fds_after = _server_fds(stack.firestore, stack.s3)
    leftovers = [str(p) for p in root.rglob(".verdict.json.*")]
    orphans = _orphans(str(root))
    unexpected = [(n, o.scenario, o.problems) for n, o in enumerate(outcomes) if o.problems]
    walls = [o.wall for o in outcomes]
    leaked = sorted({name for o in outcomes for name in o.leaked})
    expected = {f"{s.name} → {s.exit}" for s in rotation}
    results.record(
        "soak", kind="check", runs=len(outcomes), parallel=PARALLEL, unexpected=len(unexpected),
        scenarios=", ".join(sorted(expected)),
        outcomes=", ".join(f"exit {k}: {v}" for k, v in sorted(Counter(o.exit for o in
                                                                      outcomes).items())),
        p50=results._percentile(walls, 0.5), p95=results._percentile(walls, 0.95),
        max=max(walls), max_rss_mb=max(o.max_rss_kb for o in outcomes) / 1024,
        verdicts=sum(1 for o in outcomes if not any(p.startswith("verdict") for p in
                                                      o.problems)),
        leftovers=len(leftovers), orphans=orphans, fds_before=fds_before, fds_after=fds_after,
        total_s=total)
    results.record("secrets", test="soak: 200 check runs", channels=sorted(canaries.channels),
                   canaries=sorted(canaries.all()), bytes=sum(o.scanned for o in outcomes),
                   leaks=leaked)
    assert len(outcomes) == RUNS
    assert not unexpected, unexpected[:10]
    assert not leaked, leaked
    assert not leftovers, leftovers[:5]
    assert orphans == 0
    assert fds_after <= fds_before + 20, (fds_before, fds_after)


# --------------------------------------------------------------------------------- serve

def _proc_status(pid: int) -> dict[str, int]:
    """Threads (all), Python threads, VmRSS (KiB), fds. A Python thread keeps the name the
    interpreter's process has; gRPC's C core names its own (event_engine, lifeguard, …)."""
    values: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("Threads", "VmRSS"):
                values[name] = int(rest.split()[0])
        interpreter = Path(f"/proc/{pid}/comm").read_text()
        names = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                names.append((task / "comm").read_text())
        values["Python"] = names.count(interpreter)
    except OSError:
        pass
    values["fds"] = _fds(pid)
    return values


CLIENTS = 8  # concurrent probing clients: a connection thread each in serve


def threads_a_round_may_hold(verdict: dict[str, Any]) -> int:
    """What the code starts per round, from its own constants: a thread per check and one
    watchdog per check's attempt (runner), the registry's query pool, a thread per probed
    endpoint (backends.reachable), and gRPC's one Python thread per channel with calls in
    flight (Firestore's)."""
    from preflight import checks
    from preflight.observe.registry import QUERY_WORKERS

    probes = next(c for c in verdict["checks"] if c["name"] == "backends.reachable")
    return 2 * len(checks.CHECKS) + QUERY_WORKERS + int(probes["details"].get("probes", 0)) + 1


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _metric(body: bytes, name: str) -> float:
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


def test_serve_under_probes_and_rechecks(stack: Stack, canaries: Canaries,
                                         tmp_path: Path) -> None:
    stack.seed(canaries.registry())
    port = tools.free_port()
    verdict_port = tools.free_port()
    env = stack.env(**canaries.env(s3_endpoint=stack.s3_endpoint))
    argv = harness.preflight_argv("serve", "--listen", f"127.0.0.1:{port}",
                                  "--verdict-address", f"127.0.0.1:{verdict_port}",
                                  "--recheck-interval", "0.02", "--format", "json",
                                  "--attempt-timeout", "2")
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path)
    samples: list[dict[str, int]] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.wait(0.1):
            samples.append(_proc_status(process.pid))

    try:
        assert tools.wait_until(lambda: _reachable(port), 30), "serve never listened"
        assert tools.wait_until(lambda: _get(port, "/startupz")[0] == 200, 30), \
            (tmp_path / "serve.log").read_text()[-3000:]
        warm = _proc_status(process.pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        paths = ["/startupz", "/readyz", "/livez", "/verdict", "/metrics"]
        statuses: Counter[str] = Counter()
        problems: list[str] = []
        leaked: set[str] = set()
        verdicts = 0
        lock = threading.Lock()
        started = time.monotonic()

        def probe(number: int) -> None:
            nonlocal verdicts
            path = paths[number % len(paths)]
            code, body = _get(verdict_port if path == "/verdict" else port, path)
            found = leaks(body.decode(errors="replace"), canaries)
            valid = True
            if path == "/verdict":
                try:
                    validate_verdict(json.loads(body))
                except Exception as error:
                    valid = False
                    with lock:
                        problems.append(f"/verdict: {str(error)[:200]}")
            with lock:
                statuses[f"{path} {code}"] += 1
                leaked.update(found)
                verdicts += path == "/verdict" and valid
                if code != 200:
                    problems.append(f"{path} answered {code}")

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            list(pool.map(probe, range(PROBES)))
        probing = time.monotonic() - started
        assert tools.wait_until(
            lambda: _metric(_get(port, "/metrics")[1], "preflight_rounds") >= RECHECKS + 1, 120)
        rounds = _metric(_get(port, "/metrics")[1], "preflight_rounds")
        verdict = json.loads(_get(verdict_port, "/verdict")[1])
        stop_sampling.set()
        sampler.join(5)
        end = _proc_status(process.pid)
        process.send_signal(signal.SIGTERM)
        code = process.wait(10)
    finally:
        stop_sampling.set()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
    text = (tmp_path / "serve.log").read_text(errors="replace")
    leaked.update(leaks(text, canaries))
    peak_threads = max(s.get("Threads", 0) for s in samples)
    # Sampled at random moments of back-to-back rounds: a count is a floor (between rounds)
    # plus whatever the round in flight holds. A leak raises the floor; compare the floor of
    # each half of the run. (One sample against another compares two moments of a round.)
    half = len(samples) // 2
    floors = [min(s.get("Python", 0) for s in part) for part in (samples[:half], samples[half:])]
    peak_python = max(s.get("Python", 0) for s in samples)
    per_round = threads_a_round_may_hold(verdict)
    peak_fds = max(s.get("fds", 0) for s in samples)
    peak_rss = max(s.get("VmRSS", 0) for s in samples)
    record = {
        "probes": PROBES, "probe_seconds": round(probing, 1),
        "requests_per_second": round(PROBES / probing),
        "re-checks (rounds)": int(rounds), "verdicts validated": verdicts,
        "threads warm → peak → end": f"{warm['Threads']} → {peak_threads} → {end['Threads']}",
        "Python threads: floor in the 1st → 2nd half; peak (bound)":
            f"{floors[0]} → {floors[1]}; {peak_python} (≤ {floors[0]} + {per_round} per round "
            f"+ {CLIENTS} connections)",
        "fds warm → peak → end": f"{warm['fds']} → {peak_fds} → {end['fds']}",
        "RSS MiB warm → peak → end": f"{warm['VmRSS'] / 1024:.1f} → {peak_rss / 1024:.1f} → "
                                     f"{end['VmRSS'] / 1024:.1f}",
        "non-200 answers": len(problems), "exit on SIGTERM": code,
    }
    results.record("soak", kind="serve", **record)
    results.record("secrets", test="soak: serve HTTP bodies and logs",
                   channels=sorted(canaries.channels | {"serve HTTP bodies"}),
                   canaries=sorted(canaries.all()), bytes=len(text), leaks=sorted(leaked))
    assert not problems, problems[:10]
    assert not leaked, leaked
    assert rounds >= RECHECKS + 1
    assert code == 143  # SIGTERM: 128 + 15, as in every mode
    # Not leaking: the floor does not rise over the rounds. Bounded: never more than the
    # floor, a round's own threads and a connection thread per client. (gRPC's C-core pool
    # is its own; it is in the totals recorded above.)
    assert floors[1] <= floors[0], record
    assert peak_python <= floors[0] + per_round + CLIENTS, record
    assert peak_fds <= warm["fds"] + 32, record
    assert end["VmRSS"] <= warm["VmRSS"] + 40 * 1024, record  # KiB


def _reachable(port: int) -> bool:
    try:
        _get(port, "/livez")
        return True
    except OSError:
        return False

