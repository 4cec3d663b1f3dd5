"""What serve publishes: verdicts in order, whatever the threads that produce them do."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from preflight.app.http_server import State
from preflight.config import Config
from preflight.core.result import CheckResult, Outcome, Status
from preflight.core.scope import Scope
from preflight.core.verdict import Verdict
from tests.harness import ENGINES_KINDS as ENGINES_REQUIRED_KINDS

CONFIG = Config(project="p", database="(default)", bucket="raw", collection="routing_registry",
                kinds=ENGINES_REQUIRED_KINDS, scopes=(Scope("t_system", "dev"),),
                disallowed=frozenset({"memory"}), timeout=60, attempt_timeout=5,
                verdict_file=None, termination_log=None, format="json", log_level="info",
                engines_env={}, emulator_host=None)
START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


class Log:
    def __getattr__(self, _level: str) -> Any:
        return lambda *_args, **_kwargs: None


def verdict(outcome: Outcome) -> Verdict:
    return Verdict(CONFIG.target(), (CheckResult("routing.entries", outcome, 1, 5),), START,
                   START + timedelta(seconds=1))


IN_PROGRESS = Outcome(Status.ERROR, "in progress (running, attempt 1)",
                      details={"in_progress": True}, transient=True)
PASSED = Outcome(Status.PASS, "all 17 kinds routed in 1 scope(s)", details={"scopes": {}})


def test_a_late_progress_update_never_replaces_the_rounds_final_verdict() -> None:
    """The race: a runner thread builds an "in progress" verdict, is delayed, and publishes
    it after the serve loop published the round's final verdict."""
    state = State(Log())
    computed = threading.Event()
    delay = threading.Event()  # the injected delay: held until the final verdict is out

    def runner_thread() -> None:
        progress = verdict(IN_PROGRESS)
        computed.set()
        delay.wait(10)
        state.publish(progress, final=False)

    worker = threading.Thread(target=runner_thread)
    worker.start()
    assert computed.wait(10)
    state.publish(verdict(PASSED), final=True)
    delay.set()
    worker.join(10)

    snapshot = state.snapshot
    assert (snapshot.started, snapshot.ready, snapshot.final) == (True, True, True)
    assert snapshot.summary == b"pass\n"
    assert b'"status":"pass"' in snapshot.verdict_json.replace(b" ", b"")
    families = {f.name: f for f in text_string_to_metric_families(snapshot.metrics.decode())}
    assert families["preflight_verdict_pass"].samples[0].value == 1.0


def test_progress_is_shown_before_the_first_final_verdict() -> None:
    state = State(Log())
    state.publish(verdict(IN_PROGRESS), final=False)
    assert (state.snapshot.final, state.snapshot.ready) == (False, False)
    assert state.snapshot.summary == b"checking: routing.entries\n"
