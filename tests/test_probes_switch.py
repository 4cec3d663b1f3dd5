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


# Each probe's client library, by the module that loads it.
CLIENTS = {"redis": "redis", "cosmos": "azure.cosmos", "gcs": "google.cloud.storage",
           "bigquery": "google.cloud.bigquery", "azure_blob": "azure.storage.blob",
           "s3": "botocore", "dynamodb": "botocore", "firestore": "google.cloud.firestore"}


@pytest.mark.parametrize(("subject", "loads"), [
    ("route('chat_bus', 'redis', {'host': '127.0.0.1', 'port': CLOSED})", "redis"),
    ("route('notes_store', 'cosmos', {'endpoint': 'http://127.0.0.1:%d/' % CLOSED, "
     "'key': 'a2V5'})", "cosmos"),
    ("variable('NEXUS_BACKEND', 'bigquery')", "bigquery"),
])
def test_a_run_imports_only_the_client_it_probes_with(tmp_path: Path, subject: str,
                                                       loads: str) -> None:
    """Lazy imports: a run loads the client library of the backends it probes, and no
    other (a run that probes no Redis never imports redis-py, and so on)."""
    closed = harness.closed_port()
    code = (
        "import json, sys\n"
        "from tests.probing import route, run_check, variable\n"
        f"CLOSED = {closed}\n"
        f"run = run_check([{subject}], timeout=1.5)\n"
        "print(run.status)\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    nowhere = f"127.0.0.1:{closed}"  # no metadata server, no BigQuery: never a real address
    env = {**harness.minimal_env(tmp_path), "PYTHONPATH": str(harness.REPO),
           "BIGQUERY_EMULATOR_HOST": f"http://{nowhere}", "GCE_METADATA_HOST": nowhere,
           "GCE_METADATA_IP": nowhere}
    process = harness.run_command([sys.executable, "-c", code], env, cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    status, modules = process.stdout.splitlines()
    assert status in ("error", "fail")  # nothing answered, or no credentials
    loaded = set(json.loads(modules))
    assert CLIENTS[loads] in loaded
    others = {module for backend, module in CLIENTS.items() if module != CLIENTS[loads]}
    assert not loaded & others, sorted(loaded & others)
