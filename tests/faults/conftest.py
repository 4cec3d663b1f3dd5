"""Fixtures of the fault suite; the shared `stack` / servers come from tests/conftest.py.

- `reliability_report` (session, autouse): resets .pytest-results/faults/results.jsonl when the
  first test of this folder starts, and renders .pytest-results/faults/RELIABILITY.md from it
  at the end (`make reliability` renders the tracked docs/RELIABILITY.md instead). A run that
  did not produce every section (e.g. `-k` on one file) writes RELIABILITY.partial.md there
  and leaves the document alone.
- `canaries`: distinct canary secrets for every input channel (see common.Canaries).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.faults import results
from tests.faults.common import Canaries


@pytest.fixture(scope="session", autouse=True)
def reliability_report(request: pytest.FixtureRequest) -> Iterator[None]:
    results.reset()
    started = time.monotonic()
    yield
    failed = request.session.testsfailed
    outcome = "all tests passed" if not failed else f"{failed} test(s) failed"
    target = results.write_document(wall_s=time.monotonic() - started, outcome=outcome)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"reliability evidence written to {target}")


@pytest.fixture
def canaries() -> Canaries:
    return Canaries()
