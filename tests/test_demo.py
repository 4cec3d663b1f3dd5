"""`make demo` shows what healthy means, then blocking and warning findings side by side."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration


def test_the_demo_is_green_first_then_blocks_and_warns(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tests.demo"], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    green = json.loads((tmp_path / ".demo" / "verdict-pass.json").read_text())
    assert (green["status"], green["exit_code"]) == ("pass", 0)
    assert green["summary"]["warn"] == green["summary"]["fail"] == 0, green["summary"]
    assert green["summary"]["error"] == 0
    statuses = {check["name"]: check["status"] for check in green["checks"]}
    # First use and the probes are covered, not skipped.
    for name in ("env.backends", "routing.serving", "routing.backends", "backends.reachable"):
        assert statuses[name] == "pass", (name, statuses)
    probes = next(c for c in green["checks"] if c["name"] == "backends.reachable")
    assert {item["backend"] for item in probes["details"]["results"]} >= {
        "redis", "s3", "dynamodb", "firestore"}

    broken = json.loads((tmp_path / ".demo" / "verdict-fail.json").read_text())
    assert broken["exit_code"] == 1
    by_name = {check["name"]: check for check in broken["checks"]}
    assert by_name["routing.entries"]["status"] == "fail"  # blocks: the engines would not start
    assert {by_name["routing.backends"]["status"],
            by_name["backends.reachable"]["status"]} == {"warn"}  # first use: warns
    screen = done.stdout
    assert "preflight PASS (exit 0)" in screen and "preflight FAIL (exit 1)" in screen
    assert '"severity"' not in screen  # no JSON log line between the verdict's lines
