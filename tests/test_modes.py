"""serve, check --wait and exec: real processes against the real emulator and S3 server."""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import ipaddress
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import harness, seed, servers
from tests.conftest import Stack

BACKOFF_CAP = 2.0  # preflight.run.retry.Backoff.cap


class Sidecar:
    """A running `preflight serve` and a tiny HTTP client for its probes."""

    def __init__(self, stack: Stack, *args: str, env: dict[str, str] | None = None,
                 listen_host: str = "127.0.0.1") -> None:
        self.port = servers.free_port()
        self.verdict_port = servers.free_port()  # never the default 8082: others may hold it
        self.stderr_path = stack.tmp_path / f"serve-{self.port}.log"
        argv = harness.preflight_argv("serve", "--listen", f"{listen_host}:{self.port}",
                                      "--verdict-address", f"127.0.0.1:{self.verdict_port}",
                                      *args)
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(argv, env=env or stack.env(), stderr=stderr,
                                            stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        harness.wait_until(self.answers, 30, "serve answers /livez")

    def answers(self) -> bool:
        try:
            return self.get("/livez")[0] == 200
        except OSError:
            return False

    def get(self, path: str, port: int | None = None) -> tuple[int, str, str]:
        """`path` on the probe port (`port`: another); /verdict on the verdict's own port."""
        port = port or (self.verdict_port if path == "/verdict" else self.port)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type") or "", \
                response.read().decode()
        finally:
            connection.close()

    def status(self, path: str) -> int:
        return self.get(path)[0]

    def wait_for(self, path: str, code: int, timeout: float) -> float:
        started = time.monotonic()
        harness.wait_until(lambda: self.status(path) == code, timeout, f"{path} → {code}")
        return time.monotonic() - started

    def proc_status(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(field)

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def stop(self) -> int | None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait(10)

    @property
    def logs(self) -> list[dict[str, Any]]:
        return harness.parse_log_lines(self.stderr_path.read_text().splitlines())


@pytest.fixture
def sidecars(stack: Stack) -> Iterator[list[Sidecar]]:
    started: list[Sidecar] = []
    yield started
    for sidecar in started:
        sidecar.stop()


def registry_without(stack: Stack, doc_id: str) -> dict[str, Any]:
    documents = stack.seed()
    stack.doc(doc_id).delete()
    return documents[doc_id]


def test_serve_gates_startup_until_the_route_exists(stack: Stack, sidecars: list[Sidecar]) -> None:
    kpi = registry_without(stack, "kpi-t_system-dev")
    sidecar = Sidecar(stack)
    sidecars.append(sidecar)
    harness.wait_until(lambda: sidecar.get("/verdict")[0] == 200, 30, "a first verdict")
    assert sidecar.get("/startupz")[:1] == (503,)
    assert sidecar.get("/readyz")[2] == "fail: routing.entries\n"
    code, content_type, body = sidecar.get("/verdict")
    assert (code, content_type) == (200, "application/json")
    assert harness.check_verdict(json.loads(body))["exit_code"] == 1

    stack.seed({"kpi-t_system-dev": kpi})
    waited = sidecar.wait_for("/startupz", 200, BACKOFF_CAP + 3.0)
    print(f"/startupz turned 200 {waited:.2f}s after the route was written")
    assert sidecar.get("/readyz")[:1] == (200,)
    verdict = harness.check_verdict(json.loads(sidecar.get("/verdict")[2]))
    assert verdict["status"] == "pass"

    families = {f.name: f for f in text_string_to_metric_families(sidecar.get("/metrics")[2])}
    assert families["preflight_verdict_pass"].samples[0].value == 1.0
    assert families["preflight_first_pass_seconds"].samples[0].value > 0
    statuses = {(s.labels["check"], s.labels["status"]): s.value
                for s in families["preflight_check_status"].samples}
    assert statuses[("routing.entries", "pass")] == 1.0
    assert {s.labels["check"] for s in families["preflight_check_attempts"].samples} == set(
        harness.CHECK_NAMES)
    changes = [e for e in sidecar.logs if e.get("message") == "verdict changed"]
    assert [e["status"] for e in changes] == ["fail", "pass"], "one event per verdict change"
    # the pass has the healthy stack's first-use warnings (harness.FIRST_USE_DEFAULTS)
    assert [e["severity"] for e in changes] == ["ERROR", "WARNING"]


def test_serve_answers_503_with_a_verdict_so_far_before_the_first_round(
        stack: Stack, sidecars: list[Sidecar]) -> None:
    stack.seed()
    stack.s3.pause()
    try:
        sidecar = Sidecar(stack, "--attempt-timeout", "1")
        sidecars.append(sidecar)
        code, _, body = sidecar.get("/verdict")
        assert code == 503
        document = harness.check_verdict(json.loads(body))
        assert document["status"] == "fail"
        assert sidecar.status("/startupz") == 503
        assert sidecar.get("/startupz")[2].startswith("checking: ")
    finally:
        stack.s3.resume()
    sidecar.wait_for("/startupz", 200, 15)


def test_recheck_detects_a_route_deleted_after_start(stack: Stack,
                                                     sidecars: list[Sidecar]) -> None:
    stack.seed()
    sidecar = Sidecar(stack, "--recheck-interval", "1")
    sidecars.append(sidecar)
    sidecar.wait_for("/readyz", 200, 30)
    stack.doc("seo-t_system-dev").delete()
    waited = sidecar.wait_for("/readyz", 503, 1.0 + 3.0)
    print(f"/readyz turned 503 {waited:.2f}s after the route was deleted (interval 1s)")
    assert sidecar.status("/startupz") == 200, "startup stays passed"
    assert sidecar.get("/readyz")[2] == "fail: routing.entries\n"


def test_sigterm_stops_serve_with_exit_143_within_2s(stack: Stack,
                                                     sidecars: list[Sidecar]) -> None:
    stack.seed()
    sidecar = Sidecar(stack)
    sidecars.append(sidecar)
    sidecar.wait_for("/startupz", 200, 30)
    started = time.monotonic()
    sidecar.process.send_signal(signal.SIGTERM)
    assert sidecar.process.wait(5) == 143
    assert time.monotonic() - started < 2.0


def test_probe_bodies_are_short_and_leak_nothing(stack: Stack, sidecars: list[Sidecar]) -> None:
    canary = "CANARY-probe-config-secret"
    documents = stack.seed()
    stack.seed({"chat_bus-t_system-dev": {**documents["chat_bus-t_system-dev"],
                                          "config": {"password": canary}},
                "chat_bus-dup": {**documents["chat_bus-t_system-dev"],
                                 "config": {"password": canary + "2"}}})
    sidecar = Sidecar(stack)
    sidecars.append(sidecar)
    harness.wait_until(lambda: sidecar.get("/verdict")[0] == 200, 30, "a first verdict")
    for path in ("/startupz", "/readyz", "/livez", "/verdict", "/metrics", "/nope"):
        _, _, body = sidecar.get(path)
        assert canary not in body, path
        if path in ("/startupz", "/readyz", "/livez", "/nope"):
            assert len(body) < 100, (path, body)
    assert sidecar.get("/nope")[0] == 404


def test_probe_soak_keeps_threads_fds_and_memory_flat(stack: Stack,
                                                      sidecars: list[Sidecar]) -> None:
    stack.seed()
    sidecar = Sidecar(stack)
    sidecars.append(sidecar)
    sidecar.wait_for("/startupz", 200, 30)
    errors: list[BaseException] = []

    def client(count: int) -> None:
        try:
            for index in range(count):
                path = ("/startupz", "/readyz", "/livez", "/metrics", "/verdict")[index % 5]
                assert sidecar.get(path)[0] == 200
        except BaseException as error:
            errors.append(error)

    def burst(total: int, clients: int = 8) -> float:
        started = time.monotonic()
        workers = [threading.Thread(target=client, args=(total // clients,))
                   for _ in range(clients)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        return time.monotonic() - started

    burst(400)  # warm up: the allocator settles
    before = (sidecar.proc_status("Threads"), sidecar.proc_status("VmRSS"), sidecar.open_fds())
    elapsed = burst(5000)
    # A connection's thread ends with its connection: wait (bounded) for the last to finish.
    harness.wait_until(lambda: sidecar.proc_status("Threads") <= before[0], 10,
                       "connection threads finished")
    after = (sidecar.proc_status("Threads"), sidecar.proc_status("VmRSS"), sidecar.open_fds())
    print(f"5000 probes from 8 clients in {elapsed:.1f}s; threads {before[0]}→{after[0]}, "
          f"RSS {before[1]}→{after[1]} KiB, fds {before[2]}→{after[2]}")
    assert errors == []
    assert after[0] <= before[0], "threads grew"
    assert after[1] - before[1] < 8 * 1024, "RSS grew by more than 8 MiB"
    assert after[2] <= before[2] + 2, "file descriptors grew"


REPETITIONS = 20


def test_livez_answers_at_once_with_fifty_idle_connections_open(
        stack: Stack, sidecars: list[Sidecar]) -> None:
    """A kubelet's probe (1-2 s timeout) must not queue behind idle or slow connections.

    Repeated: a probe that finds the kernel's accept queue full has its handshake dropped
    and retried by the client only after 1 s, which one lucky run need not show."""
    stack.seed()
    sidecar = Sidecar(stack)
    sidecars.append(sidecar)
    sidecar.wait_for("/startupz", 200, 30)
    waits = []
    for _ in range(REPETITIONS):
        idle = [socket.create_connection(("127.0.0.1", sidecar.port), timeout=5)
                for _ in range(50)]
        try:
            idle[0].sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")  # and one half-sent
            started = time.monotonic()
            assert sidecar.status("/livez") == 200
            waits.append(time.monotonic() - started)
            assert sidecar.process.poll() is None
        finally:
            for connection in idle:
                connection.close()
    print(f"/livez with 50 idle connections open, {REPETITIONS} times: slowest "
          f"{max(waits) * 1000:.0f} ms, median {sorted(waits)[len(waits) // 2] * 1000:.0f} ms")
    assert max(waits) < 1.0


def test_a_burst_of_connections_waits_in_the_kernels_queue_not_dropped(
        stack: Stack, sidecars: list[Sidecar]) -> None:
    """While serve cannot accept (here: stopped), the kernel completes and queues every
    connection up to the bound serve admits. A connection the queue has no room for has its
    handshake dropped: the client's retry comes after 1 s, too late for a 1 s probe."""
    from preflight.app.http_server import MAX_CONNECTIONS

    stack.seed()
    sidecar = Sidecar(stack)
    sidecars.append(sidecar)
    sidecar.wait_for("/startupz", 200, 30)
    burst = []
    os.kill(sidecar.process.pid, signal.SIGSTOP)
    try:
        for _ in range(MAX_CONNECTIONS):
            connection = socket.socket()
            connection.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                connection.connect(("127.0.0.1", sidecar.port))
            burst.append(connection)

        def handshakes_done() -> int:
            _, done, _ = select.select([], burst, [], 0)
            return sum(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for c in done)

        # The kernel alone answers these, at once; the bound only ends a failing wait.
        harness.wait_until(lambda: handshakes_done() == MAX_CONNECTIONS, 5,
                           f"all {MAX_CONNECTIONS} handshakes while serve is stopped")
    finally:
        os.kill(sidecar.process.pid, signal.SIGCONT)
        for connection in burst:
            connection.close()
    assert sidecar.status("/livez") == 200


def listening(pid: int) -> set[str]:
    """HOST:PORT of every TCP socket the process listens on (from /proc: no connection)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            address, port = fields[1].split(":")
            packed = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            packed = b"".join(packed[i:i + 4][::-1] for i in range(0, len(packed), 4))
            found.add(f"{ipaddress.ip_address(packed)}:{int(port, 16)}")
    return found


def test_the_verdict_is_served_on_loopback_only_while_probes_answer_on_every_interface(
        stack: Stack, sidecars: list[Sidecar]) -> None:
    """The pod shape: probes on 0.0.0.0 for the kubelet; the verdict, which carries every
    check's details, on a loopback listener only."""
    stack.seed()
    sidecar = Sidecar(stack, listen_host="0.0.0.0")  # the pod shape
    sidecars.append(sidecar)
    harness.wait_until(lambda: sidecar.get("/startupz")[0] == 200, 30, "/startupz → 200")
    assert listening(sidecar.process.pid) == {f"0.0.0.0:{sidecar.port}",
                                              f"127.0.0.1:{sidecar.verdict_port}"}
    code, _, body = sidecar.get("/verdict", sidecar.port)  # asked on loopback, all the same
    assert (code, body) == (404, "not found: try /startupz /readyz /livez /metrics (the "
                                 "verdict: see --verdict-address)\n")
    for path in ("/readyz", "/livez", "/metrics"):
        assert sidecar.get(path)[0] == 200, path
    code, content_type, body = sidecar.get("/verdict")
    assert (code, content_type) == (200, "application/json")
    assert harness.check_verdict(json.loads(body))["status"] == "pass"
    assert sidecar.get("/livez", sidecar.verdict_port)[0] == 200  # all of it, on loopback


def test_the_verdict_address_comes_from_the_variable_and_is_loopback_by_default(
        stack: Stack, sidecars: list[Sidecar]) -> None:
    stack.seed()
    verdict_port = servers.free_port()
    argv = harness.preflight_argv("serve", "--listen", f"127.0.0.1:{servers.free_port()}")
    process = subprocess.Popen(argv, env=stack.env(
        PREFLIGHT_VERDICT_ADDRESS=f"127.0.0.1:{verdict_port}"), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        harness.wait_until(lambda: f"127.0.0.1:{verdict_port}" in listening(process.pid), 30,
                           "the verdict listener on the variable's address")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    help_text = harness.run_command(harness.preflight_argv("serve", "--help"),
                                    stack.env()).stdout
    default = re.search(r"Default:\s+(\S+):(\d+)\s+\(loopback", " ".join(help_text.split()))
    assert default is not None, help_text
    assert ipaddress.ip_address(default.group(1)).is_loopback


def test_a_verdict_address_in_use_is_a_usage_error_naming_it(stack: Stack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = harness.run_command(harness.preflight_argv(
            "serve", "--listen", f"127.0.0.1:{servers.free_port()}", "--verdict-address",
            address), stack.env(), timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"preflight: error: --verdict-address: expected an address this process can listen on "
        f"(Address already in use) (got '{address}')")


def test_serve_ignores_a_deadline_from_the_shared_environment(stack: Stack,
                                                               sidecars: list[Sidecar]) -> None:
    """PREFLIGHT_TIMEOUT in a ConfigMap shared with init containers must not make a sidecar
    give up (and crash-loop): serve honours only an explicit --timeout."""
    registry_without(stack, "kpi-t_system-dev")
    sidecar = Sidecar(stack, env=stack.env(PREFLIGHT_TIMEOUT="1"))
    sidecars.append(sidecar)
    started = time.monotonic()

    def rounds() -> float:
        families = {f.name: f for f in text_string_to_metric_families(sidecar.get("/metrics")[2])}
        return families["preflight_rounds"].samples[0].value

    harness.wait_until(lambda: rounds() >= 3 and time.monotonic() - started > 3, 60,
                       "three failing rounds, well past the variable's 1 s")
    assert sidecar.process.poll() is None, "serve gave up on PREFLIGHT_TIMEOUT"
    assert sidecar.status("/livez") == 200
    start = next(e for e in sidecar.logs if e.get("message") == "preflight started")
    assert start["deadline_s"] is None


def test_serve_with_an_explicit_timeout_gives_up_at_it(stack: Stack) -> None:
    registry_without(stack, "kpi-t_system-dev")
    port = servers.free_port()
    argv = harness.preflight_argv("serve", "--listen", f"127.0.0.1:{port}", "--verdict-address",
                                  f"127.0.0.1:{servers.free_port()}", "--timeout", "4")
    done = subprocess.run(argv, env=stack.env(), capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 1, done.stderr[-3000:]
    start = next(e for e in harness.parse_log_lines(done.stderr.splitlines())
                 if e.get("message") == "preflight started")
    assert start["deadline_s"] == 4.0


ROUNDS = 200


def test_memory_stays_flat_over_two_hundred_failing_rounds(stack: Stack) -> None:
    """Collection is off during start-up only: the rounds of check --wait / exec --wait
    (and serve) run with it on, so failing rounds do not pile up garbage cycles."""
    registry_without(stack, "kpi-t_system-dev")  # routing.entries fails every round
    out = stack.tmp_path / "rounds.json"
    env = stack.env(RAW_BUCKET="no-such-bucket-for-rounds",  # and so does s3.bucket
                    PREFLIGHT_TERMINATION_LOG=str(stack.tmp_path / "termination-log"))
    done = subprocess.run([sys.executable, "-m", "tests.rounds_child", str(ROUNDS), str(out),
                           "--", "--timeout", "600", "--log-level", "error"],
                          env={**env, "PYTHONPATH": str(harness.REPO)}, cwd=harness.REPO,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(out.read_text())
    samples = measured["rounds"]
    assert len(samples) == ROUNDS
    assert all(sample["failed"] for sample in samples), "every round must fail"
    assert all(sample["gc_enabled"] for sample in samples[1:]), "collection still off"
    rss = [sample["rss_kib"] for sample in samples]
    warm = max(rss[10:20])  # after the first rounds: caches filled, allocator settled
    growth = max(rss[-10:]) - warm
    print(f"RSS after round 20: {warm / 1024:.1f} MiB, after round {ROUNDS}: "
          f"{rss[-1] / 1024:.1f} MiB (max growth {growth / 1024:.1f} MiB); cyclic garbage "
          f"freed during the rounds: {measured['collected_during_rounds']} objects, left at "
          f"the end: {measured['garbage_at_end']}")
    assert growth < 2 * 1024, f"RSS grew by {growth} KiB over {ROUNDS - 20} failing rounds"
    # Failing rounds leave cycles (botocore's parsers for the 404, query objects). With
    # collection on, most are freed while the rounds run (measured: ~5% left at the end);
    # with it off, most pile up (measured: ~75%, ~1,700 objects after 200 rounds).
    produced = measured["collected_during_rounds"] + measured["garbage_at_end"]
    assert measured["garbage_at_end"] < 0.4 * produced, measured


def test_check_wait_passes_when_the_route_appears(stack: Stack) -> None:
    kpi = registry_without(stack, "kpi-t_system-dev")
    running = stack.start("--wait", "--timeout", "30")
    running.wait_for_log(lambda e: e.get("message") == "round finished"
                         and e.get("status") == "fail", 20, "a failing round")
    stack.seed({"kpi-t_system-dev": kpi})
    result = running.finish(30)
    assert result.returncode == 0, result.describe()
    rounds = [e for e in result.logs if e.get("message") == "round finished"]
    assert len(rounds) >= 2
    assert rounds[-1]["status"] == "pass"


def test_check_wait_exits_at_the_deadline_with_the_last_definitive_answer(stack: Stack) -> None:
    registry_without(stack, "kpi-t_system-dev")
    result = stack.run("--wait", "--timeout", "4")
    assert result.returncode == 1, result.describe()
    # Rounds until the deadline, not an early exit (a loaded machine only adds to the wall
    # time; the verdict's own duration ends with the last round, before the last pause).
    assert result.wall > 3.0, result.describe()
    result.assert_ended_by(4)
    assert result.scope("t_system/dev")["missing"] == ["kpi"]
    assert len([e for e in result.logs if e.get("message") == "round finished"]) >= 2


def test_check_wait_exits_3_when_only_transient_failures_remain(stack: Stack) -> None:
    stack.seed()
    env = stack.env(AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{harness.closed_port()}")
    result = stack.run("--wait", "--timeout", "3", "--attempt-timeout", "1", env=env)
    assert result.returncode == 3, result.describe()
    result.assert_ended_by(3)
    assert result.check("s3.bucket")["transient"] is True


EXEC_CHILD = """
import os, signal, sys, time
marker = sys.argv[1]
def stop(signum, frame):
    with open(marker, "a") as out:
        out.write(f"SIGTERM {os.getpid()}\\n")
    sys.exit(42)
signal.signal(signal.SIGTERM, stop)
with open(marker, "w") as out:
    out.write(f"started {os.getpid()}\\n")
time.sleep(60)
"""


def exec_argv(marker: Path, *options: str) -> list[str]:
    return harness.preflight_argv("exec", *options, "--", sys.executable, "-c", EXEC_CHILD,
                                  str(marker))


def test_exec_replaces_itself_with_the_command_on_pass(stack: Stack) -> None:
    stack.seed()
    marker = stack.tmp_path / "marker"
    verdict = stack.tmp_path / "verdict.json"
    process = subprocess.Popen(exec_argv(marker, "--verdict-file", str(verdict)),
                               env=stack.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        harness.wait_until(lambda: marker.exists() and marker.read_text().endswith("\n"), 30,
                           "the command started")
        assert marker.read_text() == f"started {process.pid}\n", "same PID as preflight"
        assert harness.check_verdict(json.loads(verdict.read_text()))["status"] == "pass"
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 42, "the command got SIGTERM and chose its exit code"
        assert marker.read_text().splitlines()[-1] == f"SIGTERM {process.pid}"
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_exec_never_starts_the_command_on_fail(stack: Stack) -> None:
    registry_without(stack, "kpi-t_system-dev")
    marker = stack.tmp_path / "marker"
    termination = stack.tmp_path / "termination-log"
    result = subprocess.run(exec_argv(marker), env=stack.env(
        PREFLIGHT_TERMINATION_LOG=str(termination)), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert not marker.exists()
    assert "missing 1 (kpi)" in termination.read_text()
    assert harness.check_verdict(json.loads(result.stdout))["exit_code"] == 1


def test_exec_with_wait_starts_the_command_once_the_route_appears(stack: Stack) -> None:
    kpi = registry_without(stack, "kpi-t_system-dev")
    marker = stack.tmp_path / "marker"
    log = stack.tmp_path / "exec.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(exec_argv(marker, "--wait", "--timeout", "30"),
                                   env=stack.env(), stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        harness.wait_until(lambda: '"round finished"' in log.read_text(), 30,
                           "a failing round before the route is written")
        assert not marker.exists()
        stack.seed({"kpi-t_system-dev": kpi})
        harness.wait_until(marker.exists, 30, "the command started")
        assert marker.read_text().startswith(f"started {process.pid}")
    finally:
        process.kill()
        process.wait(10)


def test_exec_refuses_a_missing_command_before_any_check(stack: Stack) -> None:
    result = subprocess.run(harness.preflight_argv("exec", "--", "no-such-program-xyz"),
                            env=stack.env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == ("preflight: error: COMMAND: expected an executable file "
                                     "or a program on PATH (got 'no-such-program-xyz')")
    assert result.stdout == ""



ENV_DUMP = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


def test_exec_hands_the_command_exactly_the_environment_preflight_got(stack: Stack) -> None:
    stack.seed()
    dump = stack.tmp_path / "env.json"
    # C.UTF-8: no PEP 538 locale coercion (which would add LC_CTYPE) in either interpreter.
    env = stack.env(LC_ALL="C.UTF-8", ENGINES_OWN_SETTING="kept as is",
                    PREFLIGHT_TERMINATION_LOG=str(stack.tmp_path / "termination-log"))
    argv = harness.preflight_argv("exec", "--", sys.executable, "-c", ENV_DUMP, str(dump))
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(dump.read_text()) == env  # nothing added (GRPC_VERBOSITY…), nothing lost


SCOPES_FOR_A_LARGE_VERDICT = 80  # the JSON verdict on stdout is larger than a 4 KiB pipe


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_between_a_passing_verdict_and_the_exec_stops_it(
        stack: Stack, signum: int, code: int) -> None:
    """Deterministic: preflight is held, verifiably, after its passing verdict and before the
    exec — blocked writing that verdict to a full stdout pipe — when the signal arrives."""
    scopes = [f"t_{n:02d}/dev" for n in range(SCOPES_FOR_A_LARGE_VERDICT)]
    stack.seed({f"kpi-{n}": seed.route("kpi", tenant=scope.split("/")[0])
                for n, scope in enumerate(scopes)})
    marker = stack.tmp_path / "marker"
    verdict_path = stack.tmp_path / "verdict.json"
    env = stack.env(PREFLIGHT_SCOPES=",".join(scopes), PREFLIGHT_REQUIRED_KINDS="kpi",
                    PREFLIGHT_TERMINATION_LOG=str(stack.tmp_path / "termination-log"))
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    log = stack.tmp_path / "exec.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            exec_argv(marker, "--format", "json", "--verdict-file", str(verdict_path)),
            env=env, stdout=write_end, stderr=stderr, stdin=subprocess.DEVNULL,
            start_new_session=True)
    os.close(write_end)
    reader = os.fdopen(read_end, "rb")
    try:
        def unread() -> int:
            buffered = bytearray(4)
            fcntl.ioctl(read_end, termios.FIONREAD, buffered)
            return int.from_bytes(buffered, sys.byteorder)

        harness.wait_until(lambda: '"message": "verdict"' in log.read_text(), 60,
                           "the passing verdict logged")
        harness.wait_until(lambda: unread() == 4096, 10, "stdout's pipe full")
        passed = json.loads(verdict_path.read_text())
        assert passed["status"] == "pass"
        assert len(verdict_path.read_bytes()) > 4096, "the verdict must not fit the pipe"
        assert process.poll() is None and not marker.exists()
        process.send_signal(signum)
        chunks: list[bytes] = []
        drain = threading.Thread(target=lambda: chunks.append(reader.read()), daemon=True)
        drain.start()  # unblocks preflight: it finishes writing its verdict, then decides
        try:
            exited = process.wait(20)
        except subprocess.TimeoutExpired:
            exited = None
        assert exited == code, f"exit {exited}, marker {marker.exists()}\n" + \
            log.read_text()[-3000:]
        drain.join(10)
        stdout = b"".join(chunks)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        reader.close()
    assert not marker.exists(), "the command started although a signal came first"
    final = harness.check_verdict(json.loads(verdict_path.read_text()))
    assert (final["interrupted"], final["exit_code"], final["status"]) == (True, code, "fail")
    last = stdout.decode().strip().splitlines()[-1]
    assert json.loads(last) == final, "stdout ends with the final verdict"
    assert (stack.tmp_path / "termination-log").read_text().startswith(
        f"preflight FAIL (interrupted) (exit {code})")
