"""`preflight probe`: the exec probe's line, against a real `preflight serve` and without one.

The reason line is judged by a pure function (`probe_client.reason`), tested here on every
shape serve can answer; the command itself runs against a real serve (pass, fail with the
reason, serve down, hung, not HTTP) on loopback.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from preflight.app import health_probe as probe_client
from preflight.app.health_probe import Answer, reason
from tests import harness, servers
from tests.conftest import Stack

CLOUD_MODULES = ("structlog", "google", "grpc", "boto3", "botocore", "prometheus_client")
# What http.client would bring in: an HTTP/1.0 GET to our own server needs none of it.
HEAVY_STDLIB = ("http", "ssl", "email", "urllib", "dataclasses", "inspect", "ast")


def verdict(*checks: dict[str, object], strict: bool = False) -> bytes:
    return json.dumps({"schema": "preflight.verdict/v1", "status": "fail", "strict": strict,
                       "checks": list(checks)}).encode()


def check(name: str, status: str, message: str, **extra: object) -> dict[str, object]:
    return {"name": name, "status": status, "message": message, **extra}


MISSING_KPI = check("routing.entries", "fail",
                    "1 of 1 scope(s) blocked: t_system/dev: the engines will not start: "
                    "missing 1 (kpi)")


# --- the line, judged without a server ----------------------------------------------------

def test_pass_prints_the_body() -> None:
    assert reason("startup", Answer(200, b"pass\n"), None) == "pass"
    assert reason("readiness", Answer(200, b""), None) == "pass"
    assert reason("liveness", Answer(200, b"ok\n"), None) == "ok"
    assert reason("liveness", Answer(200, b""), None) == "ok"


def test_final_failure_names_each_failing_check_with_its_message() -> None:
    line = reason("startup", Answer(503, b"fail: routing.entries\n"),
                  Answer(200, verdict(check("env.policy", "pass", "ok"), MISSING_KPI)))
    assert line == ("fail: routing.entries: 1 of 1 scope(s) blocked: t_system/dev: "
                    "the engines will not start: missing 1 (kpi)")


def test_failures_come_before_errors_and_passes_are_left_out() -> None:
    line = reason("readiness", Answer(503, b"fail: s3.bucket, routing.entries\n"),
                  Answer(200, verdict(check("s3.bucket", "error", "S3 unreachable\n  (timed out)",
                                            transient=True),
                                      check("gcp.credentials", "skipped", "emulator"),
                                      MISSING_KPI)))
    assert line.startswith("fail: routing.entries: 1 of 1 scope(s)")
    assert line.endswith("; s3.bucket: S3 unreachable (timed out)")
    assert "gcp.credentials" not in line


def test_a_strict_run_names_its_warnings_but_not_the_ignored_ones() -> None:
    warned = check("routing.entries", "warn", "2 duplicate route(s)")
    ignored = check("s3.bucket", "warn", "ignored fail: no bucket", ignored=True)
    strict = reason("startup", Answer(503, b"fail: \n"),
                    Answer(200, verdict(warned, ignored, strict=True)))
    assert strict == "fail: routing.entries: 2 duplicate route(s)"
    relaxed = reason("startup", Answer(503, b"fail: \n"), Answer(200, verdict(warned)))
    assert relaxed == "fail:"


def test_first_round_in_progress() -> None:
    running = Answer(503, verdict(check("s3.bucket", "error", "S3 unreachable")))
    assert reason("startup", Answer(503, b"checking: s3.bucket\n"), running) == (
        "checking: s3.bucket: S3 unreachable")
    assert reason("startup", Answer(503, b"checking: \n"), Answer(503, verdict())) == (
        "checking: no check has failed yet, the first round is still running")


def test_without_a_usable_verdict_the_probe_answer_is_the_reason() -> None:
    for broken in (None, Answer(503, b"not json"), Answer(200, b"[1, 2]"),
                   Answer(200, b'{"checks": "nope"}'), Answer(404, b"")):
        assert reason("startup", Answer(503, b"fail: routing.entries\n"), broken) == (
            "fail: routing.entries"), broken
    assert reason("startup", Answer(500, b""), None) == "not passing (HTTP 500)"


def test_liveness_failure() -> None:
    assert reason("liveness", Answer(503, b"checks stopped\n"), None) == (
        "not live (HTTP 503): checks stopped")
    assert reason("liveness", Answer(500, b""), None) == "not live (HTTP 500): no reason given"


def test_fit_keeps_one_line_within_the_limit_without_breaking_a_character() -> None:
    assert probe_client.fit("a\nb\tc  d") == "a b c d"
    long = "é" * 2000
    cut = probe_client.fit(long)
    assert len(cut.encode()) <= probe_client.LINE_LIMIT
    assert cut.endswith("…") and set(cut[:-1]) == {"é"}


def test_wildcard_listen_addresses_are_asked_on_loopback() -> None:
    assert probe_client.target("0.0.0.0") == "127.0.0.1"
    assert probe_client.target("") == "127.0.0.1"
    assert probe_client.target("::") == "::1"
    assert probe_client.target("127.0.0.1") == "127.0.0.1"


# --- the command against a real serve ------------------------------------------------------

def probe(*args: str, env: dict[str, str] | None = None,
          timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return harness.run_command(harness.preflight_argv("probe", *args),
                               env if env is not None else harness.minimal_env(Path("/")),
                               timeout)


class Serve:
    """`preflight serve` on a free loopback port, in its own process group."""

    def __init__(self, stack: Stack) -> None:
        self.port = servers.free_port()
        self.verdict_port = servers.free_port()  # its own listener, as in a pod (not 8082)
        self.log = stack.tmp_path / f"serve-{self.port}.log"
        argv = harness.preflight_argv("serve", "--listen", f"127.0.0.1:{self.port}",
                                      "--verdict-address", f"127.0.0.1:{self.verdict_port}")
        with open(self.log, "w") as stderr:
            self.process = subprocess.Popen(argv, env=stack.env(), stderr=stderr,
                                            stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

    def status(self, path: str) -> int:
        port = self.verdict_port if path == "/verdict" else self.port
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        except OSError:
            return 0
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def serve(stack: Stack) -> Iterator[Callable[[], Serve]]:
    """Starts serve when called: after the test has seeded what its first round must see."""
    started: list[Serve] = []

    def start() -> Serve:
        started.append(Serve(stack))
        return started[-1]

    try:
        yield start
    finally:
        for one in started:
            one.stop()


@pytest.mark.integration
def test_probe_reports_the_failing_route_then_passes(stack: Stack,
                                                     serve: Callable[[], Serve]) -> None:
    documents = stack.seed()
    stack.doc("kpi-t_system-dev").delete()
    sidecar = serve()
    harness.wait_until(lambda: sidecar.status("/verdict") == 200, 30, "a first verdict")
    where = f"127.0.0.1:{sidecar.port}"
    verdict_at = ("--verdict-address", f"127.0.0.1:{sidecar.verdict_port}")

    failed = probe("startup", "--listen", where, *verdict_at)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stdout == ("fail: routing.entries: 1 of 1 scope(s) blocked: "
                             "t_system/dev: the engines will not start: missing 1 (kpi)\n")
    assert failed.stderr == ""
    readiness = probe("readiness", "--listen", where, *verdict_at)
    assert (readiness.returncode, readiness.stdout) == (1, failed.stdout)
    liveness = probe("liveness", "--listen", where)
    assert (liveness.returncode, liveness.stdout) == (0, "ok\n")

    stack.seed({"kpi-t_system-dev": documents["kpi-t_system-dev"]})
    harness.wait_until(lambda: sidecar.status("/startupz") == 200, 15, "/startupz turns 200")
    passed = probe("startup", "--listen", where)
    assert (passed.returncode, passed.stdout, passed.stderr) == (0, "pass\n", "")


@pytest.mark.integration
def test_probe_reads_the_sidecars_listen_variable_and_asks_loopback(
        stack: Stack, serve: Callable[[], Serve]) -> None:
    stack.seed()
    sidecar = serve()
    harness.wait_until(lambda: sidecar.status("/startupz") == 200, 30, "/startupz turns 200")
    env = {**harness.minimal_env(stack.home), "PREFLIGHT_LISTEN": f"0.0.0.0:{sidecar.port}",
           "PREFLIGHT_VERDICT_ADDRESS": f"127.0.0.1:{sidecar.verdict_port}"}
    done = probe("startup", env=env)
    assert (done.returncode, done.stdout) == (0, "pass\n")


def test_serve_down_is_a_clear_message_and_exit_3() -> None:
    port = harness.closed_port()
    done = probe("startup", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 3
    assert done.stdout == (f"preflight serve at 127.0.0.1:{port} is not listening "
                           "(connection refused): is the sidecar running?\n")


def test_a_hung_serve_is_reported_within_the_timeout() -> None:
    """Accepted by the kernel, never answered: the timer, not the kubelet, ends the probe."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        started = time.monotonic()
        done = probe("startup", "--listen", f"127.0.0.1:{port}", "--timeout", "0.5")
        elapsed = time.monotonic() - started
    assert done.returncode == 3
    assert done.stdout == f"no answer from preflight serve at 127.0.0.1:{port} within 0.5 s\n"
    assert elapsed < 5, f"took {elapsed:.1f} s"


def test_an_answer_that_is_not_http_is_unreachable_not_a_pass() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer_garbage() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        server = threading.Thread(target=answer_garbage, daemon=True)
        server.start()
        done = probe("startup", "--listen", f"127.0.0.1:{port}")
        server.join(5)
    assert done.returncode == 3
    assert done.stdout.startswith(f"no usable answer from preflight serve at 127.0.0.1:{port}: ")


def test_bad_options_are_usage_errors() -> None:
    for args, named in ((["startup", "--listen", "nowhere"], "--listen"),
                        (["startup", "--timeout", "0"], "--timeout"),
                        (["sometimes"], "startup")):
        done = probe(*args)
        assert done.returncode == 2, args
        assert done.stdout == ""
        assert named in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_probe_imports_no_cloud_client_and_no_logging_library() -> None:
    """It runs every few seconds for minutes: its import path stays the standard library's
    plus the command line's."""
    env = {**harness.minimal_env(Path("/")), "PYTHONPROFILEIMPORTTIME": "1"}
    done = probe("liveness", "--listen", f"127.0.0.1:{harness.closed_port()}", env=env)
    assert done.returncode == 3
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "preflight" in imported and "click" in imported, "the import log was read"
    assert not imported & set(CLOUD_MODULES), sorted(imported & set(CLOUD_MODULES))


def test_the_probe_module_itself_imports_almost_nothing() -> None:
    """socket and signal (json only when serve says no): every probe run pays for it."""
    env = {**harness.minimal_env(Path("/")), "PYTHONPROFILEIMPORTTIME": "1"}

    def imports(code: str) -> set[str]:
        done = harness.run_command([sys.executable, "-c", code], env)
        assert done.returncode == 0, done.stderr
        return {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}

    imported = imports("import preflight.app.health_probe") - imports("pass")  # less site's
    assert {"socket", "preflight.app.health_probe"} <= imported
    top = {name.split(".")[0] for name in imported}
    assert not top & set(HEAVY_STDLIB + CLOUD_MODULES + ("json", "typing", "click")), sorted(
        top & set(HEAVY_STDLIB + CLOUD_MODULES + ("json", "typing", "click")))
