"""The probes switch: on by default, --no-probes / PREFLIGHT_PROBES=0 turn backends.reachable off.

The real CLI (`preflight explain` makes no network call) and the real runner: the option
reaches Config.probes with its source, a bad value is a one-line usage error naming the
option, and with probes off the check is skipped without a single probe.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import harness
from tests.probing import route, run_check


def explain(tmp_path: Path, *args: str, **env: str) -> Any:
    process = harness.run_command(harness.preflight_argv("explain", "--format", "json",
                                                         "--project", "p", "--bucket", "b",
                                                         *args),
                                  {**harness.minimal_env(tmp_path), **env})
    return process


@pytest.mark.parametrize(("args", "env", "value", "source"), [
    ((), {}, True, "default"),
    (("--no-probes",), {}, False, "flag"),
    (("--probes",), {"PREFLIGHT_PROBES": "0"}, True, "flag"),
    ((), {"PREFLIGHT_PROBES": "0"}, False, "env"),
    ((), {"PREFLIGHT_PROBES": "false"}, False, "env"),
    ((), {"PREFLIGHT_PROBES": "1"}, True, "env"),
    ((), {"PREFLIGHT_PROBES": ""}, True, "default"),
])
def test_switch_reaches_the_config(tmp_path: Path, args: tuple[str, ...], env: dict[str, str],
                                   value: bool, source: str) -> None:
    process = explain(tmp_path, *args, **env)
    assert process.returncode == 0, process.stderr
    entry = json.loads(process.stdout)["configuration"]["probes"]
    assert (entry["value"], entry["source"]) == (value, source)


def test_a_bad_value_is_a_one_line_usage_error(tmp_path: Path) -> None:
    process = explain(tmp_path, PREFLIGHT_PROBES="sometimes")
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("preflight: error: ") and "--probes" in lines[0]


def test_off_means_no_probe_at_all() -> None:
    door = harness.Forwarder("127.0.0.1:9").start()  # counts connections; forwards nowhere
    try:
        run = run_check([route("chat_bus", "redis", {"host": "127.0.0.1", "port": door.port})],
                        probes=False)
    finally:
        door.stop()
    assert run.status == "skipped"
    assert run.result.outcome.message == "probes are off (--no-probes / PREFLIGHT_PROBES=0)"
    assert door.connections == 0


def test_a_run_without_a_backend_never_imports_its_client(tmp_path: Path) -> None:
    """Only Redis routes: no cloud client library is loaded at all (lazy imports)."""
    code = (
        "import json, sys\n"
        "from tests.probing import route, run_check\n"
        f"run = run_check([route('chat_bus', 'redis', {{'host': '127.0.0.1', 'port': "
        f"{harness.closed_port()}}})], timeout=1.5)\n"
        "print(run.status)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n")
    process = harness.run_command([sys.executable, "-c", code],
                                  {**harness.minimal_env(tmp_path),
                                   "PYTHONPATH": str(harness.REPO)}, cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    status, modules = process.stdout.splitlines()
    assert status == "error"
    loaded = set(json.loads(modules))
    assert not loaded & {"azure", "botocore", "boto3", "google", "grpc", "requests", "urllib3",
                         "redis"}, sorted(loaded)
