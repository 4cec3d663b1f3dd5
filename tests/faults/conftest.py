"""Fixtures of the fault suite; the shared `stack` / servers come from tests/conftest.py.

- `reliability_report` (session, autouse): resets .pytest-results/faults/results.jsonl when the
  first test of this folder starts, and renders docs/RELIABILITY.md from it at the end. A
  run that did not produce every section (e.g. `-k` on one file) writes
  .pytest-results/faults/RELIABILITY.partial.md instead and leaves the document alone.
- `canaries`: distinct canary secrets for every input channel (see common.Canaries).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from tests.faults import results
from tests.faults.common import Canaries


@pytest.fixture(scope="session", autouse=True)
def reliability_report(request: pytest.FixtureRequest) -> Iterator[None]:
    results.reset()
    started = time.monotonic()
    yield
    _record_known_bugs(request.session)
    failed = request.session.testsfailed
    outcome = "all tests passed" if not failed else f"{failed} test(s) failed"
    target = results.write_document(wall_s=time.monotonic() - started, outcome=outcome)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"reliability evidence written to {target}")


@pytest.fixture
def canaries() -> Canaries:
    return Canaries()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        item.stash[_REPORT] = report


_REPORT = pytest.StashKey[Any]()


def _record_known_bugs(session: pytest.Session) -> None:
    """Every strict-xfail test of this folder that ran: its reason, and whether it still fails."""
    for item in session.items:
        marker = item.get_closest_marker("xfail")
        report = item.stash.get(_REPORT, None)
        if marker is None or report is None or "tests/faults" not in item.nodeid:
            continue
        still = bool(getattr(report, "wasxfail", None)) or report.outcome == "skipped"
        results.record("bugs", test=item.nodeid.split("::", 1)[1],
                       file=item.nodeid.split("::", 1)[0],
                       reason=str(marker.kwargs.get("reason", "")),
                       state="still fails (xfail)" if still else "now passes (XPASS strict)")
