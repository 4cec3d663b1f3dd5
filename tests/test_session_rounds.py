"""`check --wait` at its deadline: a round the deadline cuts short keeps each check's last
answer. Through the CLI (tests/test_modes.py) the last round lands anywhere near the
deadline; here a check that answers at once, then never again, forces the cut."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from preflight.core.result import Outcome, Status
from preflight.run.check import Check
from preflight.run.context import Context
from preflight.run.retry import Backoff
from preflight.run.session import Session
from tests.configs import config_of
from tests.probing import EventLog


@dataclass
class Answers:
    """What the check says in each round; past the list, it hangs until released."""

    given: list[Outcome]
    release: threading.Event = field(default_factory=threading.Event)
    rounds: int = 0


def check_saying(answers: Answers) -> Check:
    class Registry(Check):
        name = "routing.entries"

        def attempt(self, ctx: Context) -> Outcome:
            answers.rounds += 1
            if answers.rounds <= len(answers.given):
                return answers.given[answers.rounds - 1]
            answers.release.wait(30)  # no answer this round: the deadline comes first
            raise TimeoutError("released")

    return Registry()


def until_pass(answers: Answers, seconds: float) -> tuple[int, Outcome]:
    """The run's exit code, and its verdict's routing.entries."""
    started = time.monotonic()
    session = Session(config_of(), lambda: [check_saying(answers)], EventLog(),
                      threading.Event(), started=started, deadline=started + seconds,
                      backoff=Backoff(initial=0.05, cap=0.1))
    try:
        verdict = session.until_pass()
    finally:
        answers.release.set()
    (result,) = [r for r in verdict.checks if r.name == "routing.entries"]
    return int(verdict.exit_code), result.outcome


def test_a_round_cut_short_keeps_the_last_definitive_answer() -> None:
    missing = Outcome(Status.FAIL, "1 required kind(s) missing: kpi")
    answers = Answers([missing])
    code, outcome = until_pass(answers, 1.5)
    assert answers.rounds == 2  # the second round was under way at the deadline
    assert (code, outcome) == (1, missing)


def test_without_an_earlier_answer_the_deadline_says_so() -> None:
    answers = Answers([])
    code, outcome = until_pass(answers, 1.0)
    assert code == 3
    assert (outcome.status, outcome.transient) == (Status.ERROR, True)
    assert outcome.message.startswith("deadline exceeded after 1 attempt(s)")


def test_an_earlier_transient_error_is_not_kept_over_a_newer_one() -> None:
    """Only an answer is kept: trouble reaching a dependency is as old as the round."""
    unreachable = Outcome(Status.ERROR, "no answer from Firestore", transient=True)
    answers = Answers([unreachable])
    code, outcome = until_pass(answers, 1.5)
    assert code == 3
    assert outcome.message.startswith("deadline exceeded")


def test_an_earlier_pass_is_not_kept_over_no_answer() -> None:
    """serve's rechecks re-run passing checks: one that hangs now is not passing now."""
    answers = Answers([Outcome(Status.PASS, "17 kinds routed")])
    started = time.monotonic()
    session = Session(config_of(), lambda: [check_saying(answers)], EventLog(),
                      threading.Event(), started=started, deadline=started + 1.5)
    try:
        assert session.run_round().exit_code == 0
        verdict = session.run_round(everything=True)
    finally:
        answers.release.set()
    assert int(verdict.exit_code) == 3
