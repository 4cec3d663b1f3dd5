"""Retries, the deadline and signals, against dependencies that are really down or hung.

"Down" is a port nobody listens on (the kernel refuses the connection); "hung" is the real
server SIGSTOPped. Nothing sleeps and hopes: each test waits, with a bound, for preflight's
own "check attempt failed" log event before it changes the world.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime
from typing import Any

import pytest

from tests import harness
from tests.conftest import Stack

pytestmark = pytest.mark.integration

# Short enough to keep the suite fast, long enough for a loaded 2-core machine.
RECOVERY_TIMEOUT = "30"
ATTEMPT_TIMEOUT = "1"
LOG_WAIT = 15.0


# Checks that may also see a failed attempt while a paused server drains its backlog.
ALSO_WAITING = {"aws.credentials": ("s3.bucket",)}


def assert_recovered(result: harness.Result, check: str) -> None:
    assert result.returncode == 0, result.describe()
    assert result.verdict
    assert result.verdict["status"] == "pass"
    recovered = result.check(check)
    assert recovered["status"] == "pass", recovered
    assert recovered["attempts"] >= 2, recovered
    assert result.status("routing.entries") == "pass"
    failures = [e for e in result.logs if e.get("message") == "check attempt failed"]
    assert failures
    assert all(e["check"] in (check, *ALSO_WAITING.get(check, ())) for e in failures), failures
    assert any(e["check"] == check for e in failures), failures
    for event in failures:
        assert event["severity"] == "WARNING"
        assert isinstance(event["attempt"], int)
        assert event["attempt"] >= 1
        assert isinstance(event["retry_in_s"], (int, float))
        assert event["retry_in_s"] >= 0
        assert event["error"]
    assert result.wall < float(RECOVERY_TIMEOUT), result.describe()


# --------------------------------------------------------------------------- comes back

def test_s3_server_down_then_up_inside_the_deadline_passes(stack: Stack) -> None:
    stack.seed()
    door = stack.forwarder(stack.s3.address)  # not started: connections are refused
    running = stack.start("--timeout", RECOVERY_TIMEOUT, "--attempt-timeout", ATTEMPT_TIMEOUT,
                          env=stack.env(AWS_ENDPOINT_URL_S3=f"http://{door.address}"))
    try:
        event = running.wait_for_attempt_failure("s3.bucket", LOG_WAIT)
        assert event["attempt"] == 1
        door.start()
    finally:
        result = running.finish(float(RECOVERY_TIMEOUT) + 5)
    assert_recovered(result, "s3.bucket")
    assert door.connections >= 1


def test_firestore_down_then_up_inside_the_deadline_passes(stack: Stack) -> None:
    stack.seed()
    door = stack.forwarder(stack.firestore.address)
    running = stack.start("--timeout", RECOVERY_TIMEOUT, "--attempt-timeout", ATTEMPT_TIMEOUT,
                          env=stack.env(FIRESTORE_EMULATOR_HOST=door.address))
    try:
        running.wait_for_attempt_failure("firestore.access", LOG_WAIT)
        door.start()
    finally:
        result = running.finish(float(RECOVERY_TIMEOUT) + 5)
    assert_recovered(result, "firestore.access")
    assert result.scope("t_system/dev")["routed"] == 17


# moto serves STS too: aws.credentials, which s3.bucket needs, is the check that waits.
@pytest.mark.parametrize(("server", "check"), [("s3", "aws.credentials"),
                                              ("firestore", "firestore.access")])
def test_paused_dependency_resumed_before_the_deadline_passes(stack: Stack, server: str,
                                                              check: str) -> None:
    stack.seed()
    dependency = getattr(stack, server)
    dependency.pause()
    try:
        running = stack.start("--timeout", RECOVERY_TIMEOUT, "--attempt-timeout",
                              ATTEMPT_TIMEOUT)
        running.wait_for_attempt_failure(check, LOG_WAIT)
    finally:
        dependency.resume()
    result = running.finish(float(RECOVERY_TIMEOUT) + 5)
    assert_recovered(result, check)
    assert result.scope("t_system/dev")["routed"] == 17


# --------------------------------------------------------------------------- stays down

def assert_not_ready(result: harness.Result, timeout: float, failing: str) -> None:
    assert result.returncode == 3, result.describe()
    result.assert_ended_by(timeout)
    assert result.verdict is not None
    assert result.verdict["status"] == "fail"
    assert result.verdict["exit_code"] == 3
    check = result.check(failing)
    assert check["status"] == "error", check
    assert check["transient"] is True
    assert "deadline exceeded" in check["message"]
    assert check["remediation"]
    assert result.verdict["duration_ms"] <= (timeout + 1.0) * 1000
    assert result.termination_log is not None
    assert result.termination_log.startswith("preflight FAIL (exit 3)")
    assert failing in result.termination_log


def test_s3_down_for_good_is_not_ready_within_the_deadline(stack: Stack) -> None:
    stack.seed()
    dead = f"http://127.0.0.1:{harness.closed_port()}"
    result = stack.run("--timeout", "4", "--attempt-timeout", "1",
                       env=stack.env(AWS_ENDPOINT_URL_S3=dead), timeout=15)
    assert_not_ready(result, 4, "s3.bucket")
    assert result.check("s3.bucket")["attempts"] >= 2  # it did retry
    assert result.status("routing.entries") == "pass"
    assert result.status("firestore.access") == "pass"


def test_firestore_down_for_good_is_not_ready_within_the_deadline(stack: Stack) -> None:
    stack.seed()
    dead = f"127.0.0.1:{harness.closed_port()}"
    result = stack.run("--timeout", "4", "--attempt-timeout", "1",
                       env=stack.env(FIRESTORE_EMULATOR_HOST=dead), timeout=15)
    assert_not_ready(result, 4, "firestore.access")
    assert result.check("firestore.access")["attempts"] >= 2
    routing = result.check("routing.entries")
    assert (routing["status"], routing["transient"]) == ("error", True), routing
    assert result.status("s3.bucket") == "pass"


def test_every_failed_attempt_is_logged(stack: Stack) -> None:
    stack.seed()
    dead = f"http://127.0.0.1:{harness.closed_port()}"
    result = stack.run("--timeout", "3", "--attempt-timeout", "1",
                       env=stack.env(AWS_ENDPOINT_URL_S3=dead), timeout=15)
    assert result.returncode == 3, result.describe()
    attempts = result.check("s3.bucket")["attempts"]
    assert attempts >= 2
    events = [e for e in result.logs
              if e.get("message") == "check attempt failed" and e.get("check") == "s3.bucket"]
    assert [e["attempt"] for e in events] == list(range(1, attempts + 1))


def seconds_into_run(result: harness.Result, event: dict[str, Any]) -> float:
    assert result.verdict is not None
    started = datetime.fromisoformat(result.verdict["started_at"].replace("Z", "+00:00"))
    moment = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    return (moment - started).total_seconds()


def test_transient_failures_are_retried_until_the_deadline(stack: Stack) -> None:
    stack.seed()
    timeout = 4.0
    env = stack.env(AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{harness.closed_port()}",
                    FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{harness.closed_port()}")
    # Two runs side by side: the backoff is random, and each of the four checks below has
    # to finish near the deadline for this test to pass by luck.
    runs = [stack.start("--timeout", f"{timeout:g}", "--attempt-timeout", "1", env=env)
            for _ in range(2)]
    results = [running.finish(15) for running in runs]
    for result in results:
        assert result.returncode == 3, result.describe()
        result.assert_ended_by(timeout)
        for check in ("s3.bucket", "firestore.access"):
            assert "deadline exceeded" in result.check(check)["message"]
            finished = next(e for e in result.logs
                            if e.get("message") == "check finished" and e.get("check") == check)
            # "deadline exceeded" must not be declared well before the deadline came
            assert seconds_into_run(result, finished) >= timeout - 0.1, (check, finished)


@pytest.mark.parametrize("attempt_timeout", ["1", "3"])
def test_sigstopped_emulator_gives_a_bounded_exit(stack: Stack, attempt_timeout: str) -> None:
    """A hung dependency cannot hold preflight past its deadline, even when one attempt may
    take the whole deadline (its watchdog then outlives the deadline itself)."""
    stack.seed()
    stack.firestore.pause()
    try:
        result = stack.run("--timeout", "3", "--attempt-timeout", attempt_timeout, timeout=15)
    finally:
        stack.firestore.resume()
    assert_not_ready(result, 3, "firestore.access")
    assert result.status("s3.bucket") == "pass"


def test_sigstopped_s3_server_gives_a_bounded_exit(stack: Stack) -> None:
    stack.seed()
    stack.s3.pause()
    try:
        result = stack.run("--timeout", "3", "--attempt-timeout", "3", timeout=15)
    finally:
        stack.s3.resume()
    assert_not_ready(result, 3, "s3.bucket")
    assert result.status("routing.entries") == "pass"


# --------------------------------------------------------------------------- signals

@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_run_still_writes_the_verdict(stack: Stack, signum: int, code: int) -> None:
    stack.seed()
    stack.firestore.pause()  # keeps the run busy retrying firestore.access
    try:
        running = stack.start("--timeout", "30", "--attempt-timeout", "1")
        try:
            running.wait_for_attempt_failure("firestore.access", LOG_WAIT)
            signalled = time.monotonic()
            running.send_signal(signum)
        finally:
            result = running.finish(20)
    finally:
        stack.firestore.resume()
    assert result.returncode == code, result.describe()
    exited_after = running.started_at + result.wall - signalled
    assert exited_after < 2.0, f"exited {exited_after:.2f}s after the signal"
    verdict = result.verdict
    assert verdict is not None, "no verdict written after the signal"
    assert verdict["status"] == "fail"
    assert verdict["interrupted"] is True
    assert verdict["exit_code"] == code
    assert result.stdout_verdict == verdict  # stdout still carries the verdict
    firestore = result.check("firestore.access")
    assert firestore["status"] == "error", firestore
    assert result.status("env.policy") == "pass"
    assert result.termination_log is not None
    assert result.termination_log.startswith(f"preflight FAIL (interrupted) (exit {code})")
