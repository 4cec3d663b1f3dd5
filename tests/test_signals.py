"""A signal at any moment of `check --wait`, `exec` (with and without --wait) and `serve`.

The moments are found, never guessed: preflight's own log events say when a round is
retrying a check ("check attempt failed") and when it waits between rounds ("waiting
before the next round", with the wait's length). Firestore is reached through a TCP
forwarder the test can stop, so the first round can be made to retry (refused from the
start) and so can a later one (stopped during the pause); the registry misses one route,
so every complete round fails and the next one follows.

Every mode ends with 143 / 130 and a verdict marked interrupted, logged at WARNING (the
monitoring filter leaves 130/143 out: a scale-down must not page); serve writes its last
verdict, marked interrupted, to the verdict file and the termination log.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import harness, servers
from tests.conftest import Stack

pytestmark = pytest.mark.integration

LOG_WAIT = 30.0
# The pause the signal must land in: long enough that the few milliseconds between the log
# line and the signal cannot carry it past the pause (the backoff's cap is 2 s).
PAUSE_AT_LEAST = 1.0
MARKER_CHILD = "import sys; open(sys.argv[1], 'w').write('started')"


@dataclass
class Mode:
    name: str
    argv: Callable[[Path], list[str]]  # given the run's folder
    waits: bool  # rounds until pass (a pause between rounds exists)


def _exec(*options: str) -> Callable[[Path], list[str]]:
    return lambda run_dir: harness.preflight_argv(
        "exec", *options, "--verdict-file", str(run_dir / "verdict.json"), "--",
        sys.executable, "-c", MARKER_CHILD, str(run_dir / "marker"))


MODES = {
    "check --wait": Mode("check --wait", lambda run_dir: harness.preflight_argv(
        "check", "--wait", "--verdict-file", str(run_dir / "verdict.json")), True),
    "exec": Mode("exec", _exec(), False),
    "exec --wait": Mode("exec --wait", _exec("--wait"), True),
    # debug: serve reports rounds and pauses only there (it logs verdict changes at info)
    "serve": Mode("serve", lambda run_dir: harness.preflight_argv(
        "serve", "--listen", f"127.0.0.1:{servers.free_port()}", "--verdict-address",
        f"127.0.0.1:{servers.free_port()}", "--log-level", "debug",
        "--verdict-file", str(run_dir / "verdict.json")), True),
}


def start(stack: Stack, mode: Mode, firestore: harness.Forwarder) -> harness.Running:
    run_dir = stack.tmp_path / "run"
    run_dir.mkdir()
    env = stack.env(FIRESTORE_EMULATOR_HOST=firestore.address,
                    PREFLIGHT_TERMINATION_LOG=str(run_dir / "termination-log"))
    # verdict_path None: serve prints no verdict on stdout, so each test reads the verdict
    # file itself.
    running = harness.Running([*mode.argv(run_dir), "--timeout", "60", "--attempt-timeout",
                               "1"], env, run_dir, None, run_dir / "termination-log")
    stack.started.append(running)
    return running


def positions(running: harness.Running, predicate: Callable[[dict[str, Any]], bool],
              ) -> list[int]:
    """Where (among the log events so far) the events matching `predicate` are."""
    events = harness.parse_log_lines(running.stderr_so_far().splitlines())
    return [i for i, event in enumerate(events) if predicate(event)]


def attempt_failed(event: dict[str, Any]) -> bool:
    return event.get("message") == "check attempt failed"


def during_the_first_round(stack: Stack, running: harness.Running,
                           firestore: harness.Forwarder) -> None:
    running.wait_for_attempt_failure("firestore.access", LOG_WAIT)  # refused: retrying


def waiting(event: dict[str, Any], at_least: float = 0.0) -> bool:
    return (event.get("message") == "waiting before the next round"
            and event["retry_in_s"] >= at_least)


def during_a_pause(stack: Stack, running: harness.Running,
                   firestore: harness.Forwarder) -> None:
    firestore.start()
    running.wait_for_log(lambda event: waiting(event, PAUSE_AT_LEAST), LOG_WAIT,
                         f"a pause of at least {PAUSE_AT_LEAST}s between rounds")


def during_a_later_round(stack: Stack, running: harness.Running,
                         firestore: harness.Forwarder) -> None:
    firestore.start()
    running.wait_for_log(waiting, LOG_WAIT, "a pause between rounds")
    paused_at = positions(running, waiting)[0]
    firestore.stop()  # the next round's Firestore calls are refused: it retries
    harness.wait_until(lambda: positions(running, attempt_failed)[-1:] > [paused_at],
                       LOG_WAIT, "a later round retrying")


MOMENTS = {"first round": during_the_first_round, "pause": during_a_pause,
           "later round": during_a_later_round}

CASES = [(mode, moment, signal.SIGTERM) for mode in MODES for moment in MOMENTS
         if MODES[mode].waits or moment == "first round"]
CASES += [(mode, "pause", signal.SIGINT) for mode in MODES if MODES[mode].waits]


@pytest.mark.parametrize(("mode_name", "moment", "signum"), CASES,
                         ids=[f"{m}-{at}-{signal.Signals(s).name}" for m, at, s in CASES])
def test_a_signal_at_any_moment_ends_the_run_as_interrupted(
        stack: Stack, mode_name: str, moment: str, signum: int) -> None:
    stack.seed()
    stack.doc("kpi-t_system-dev").delete()  # every complete round fails
    mode = MODES[mode_name]
    firestore = stack.forwarder(stack.firestore.address)  # not started: refused
    running = start(stack, mode, firestore)
    MOMENTS[moment](stack, running, firestore)
    running.send_signal(signum)
    result = running.finish(20)
    code = 128 + signum
    events = result.logs

    if moment == "pause":  # the signal landed in the pause: no round ran after it
        paused = max(i for i, event in enumerate(events) if waiting(event, PAUSE_AT_LEAST))
        assert not any(event.get("message") == "round finished" for event in events[paused:]), \
            "the signal came after the pause: " + result.describe()

    verdict = harness.check_verdict(json.loads(
        (result.workdir / "verdict.json").read_text()))
    assert (verdict["interrupted"], verdict["status"], verdict["exit_code"]) == (
        True, "fail", code), result.describe()
    assert result.termination_log is not None
    assert result.termination_log.startswith(f"preflight FAIL (interrupted) (exit {code})")
    if mode_name == "serve":
        assert result.returncode == code, result.describe()
        stopping = [e for e in events if e.get("message") == "stopping"]
        assert stopping and stopping[-1]["reason"] == "signal", result.describe()
        return
    assert result.returncode == code, result.describe()
    final = [e for e in events if e.get("message") == "verdict"]
    assert len(final) == 1, result.describe()
    assert (final[0]["severity"], final[0]["exit_code"]) == ("WARNING", code), final
    assert harness.check_verdict(json.loads(result.stdout)) == verdict
    assert not (result.workdir / "marker").exists(), "the command started"


@pytest.mark.parametrize("mode_name", ["check --wait", "serve"])
def test_a_signal_delivered_to_another_thread_still_stops_the_run(
        stack: Stack, mode_name: str) -> None:
    """POSIX lets the kernel hand a process's signal to any of its threads, and Python runs
    handlers only in the main thread, between bytecodes: serve's main thread waits for good.
    Sent to one other thread (tgkill), the signal must still end the run."""
    stack.seed()
    stack.doc("kpi-t_system-dev").delete()
    firestore = stack.forwarder(stack.firestore.address)
    running = start(stack, MODES[mode_name], firestore)
    during_a_pause(stack, running, firestore)
    others = sorted(int(task) for task in os.listdir(f"/proc/{running.pid}/task")
                    if int(task) != running.pid)
    assert others, "no thread besides the main one"
    assert ctypes.CDLL(None, use_errno=True).tgkill(running.pid, others[-1],
                                                    signal.SIGTERM) == 0
    result = running.finish(20)
    assert result.returncode == 143, result.describe()
    verdict = harness.check_verdict(json.loads((result.workdir / "verdict.json").read_text()))
    assert (verdict["interrupted"], verdict["exit_code"]) == (True, 143)
