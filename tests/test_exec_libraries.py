"""`preflight exec`: the engines' client libraries import in the engines' interpreter (issue 21
item 9; docs/ENGINES.md §5.9).

The engines' requirements bring neither redis nor azure-cosmos. In `exec`, preflight runs in
the engines' container: it finds the Python COMMAND will run (COMMAND itself, its shebang,
or PREFLIGHT_ENGINES_PYTHON) and imports there the client library of every chosen backend.
The "engines' image" here is an interpreter without site-packages (`python -I -S`): it
has the standard library and no redis. End to end on the Firestore emulator and a real
Redis.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from preflight.app import engines_python
from preflight.core.errors import ConfigError
from preflight.judge.reachable import LIBRARIES_UNSEEN
from tests import harness, seed, servers
from tests.conftest import Stack

STARTED = "ENGINES STARTED"


def bare_python(folder: Path) -> Path:
    """A `python3` with the standard library only: an engines image that lacks redis."""
    folder.mkdir(parents=True, exist_ok=True)
    python = folder / "python3"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S "$@"\n')
    python.chmod(0o755)
    return python


def engines_app(folder: Path, shebang: str) -> Path:
    app = folder / "engines-app"
    app.write_text(f"#!{shebang}\nprint({STARTED!r})\n")
    app.chmod(0o755)
    return app


# ------------------------------------------------------------------------ finding the Python

def test_the_command_itself_when_it_is_a_python(tmp_path: Path) -> None:
    python = bare_python(tmp_path / "bin")
    assert engines_python.find(str(python), None, None) == str(python)


def test_a_scripts_shebang_direct_or_through_env(tmp_path: Path) -> None:
    python = bare_python(tmp_path / "bin")
    direct = engines_app(tmp_path / "bin", str(python))
    assert engines_python.find(str(direct), None, None) == str(python)
    through_env = engines_app(tmp_path, "/usr/bin/env python3")
    assert engines_python.find(str(through_env), None, str(tmp_path / "bin")) == str(python)


def test_pips_trampoline_for_long_interpreter_paths(tmp_path: Path) -> None:
    python = bare_python(tmp_path / ("long" * 30))
    launcher = tmp_path / "uvicorn"
    launcher.write_text(f"#!/bin/sh\n'''exec' \"{python}\" \"$0\" \"$@\"\n' '''\nimport sys\n")
    launcher.chmod(0o755)
    assert engines_python.find(str(launcher), None, None) == str(python)


@pytest.mark.parametrize("shebang", ["/bin/sh", "/usr/bin/env node", ""])
def test_anything_else_is_unknown(tmp_path: Path, shebang: str) -> None:
    script = tmp_path / "start.sh"
    script.write_text(f"#!{shebang}\necho hi\n" if shebang else "echo hi\n")
    assert engines_python.find(str(script), None, "/usr/bin:/bin") is None
    assert engines_python.find("/bin/true", None, None) is None


def test_an_explicit_python_must_be_an_executable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PREFLIGHT_ENGINES_PYTHON: expected the path of an "
                       "executable Python"):
        engines_python.find("/bin/true", str(tmp_path / "missing"), None,
                            "PREFLIGHT_ENGINES_PYTHON")
    python = bare_python(tmp_path / "bin")
    assert engines_python.find("/bin/true", str(python), None) == str(python)


# ------------------------------------------------------------------------ end to end

@pytest.fixture
def healthy(redis_server: servers.Server) -> dict[str, str]:
    return {**harness.first_use_healthy_env(redis_server.port),
            "PRIVACY_BACKEND": "firestore", "THREE_WISE_BACKEND": "firestore"}


def exec_run(stack: Stack, env: dict[str, str], *argv: str,
             ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    verdict = stack.tmp_path / f"verdict-{len(list(stack.tmp_path.glob('verdict-*')))}.json"
    process = subprocess.run(
        harness.preflight_argv("exec", "--serve-scope", seed.SERVED, "--timeout", "30",
                               "--verdict-file", str(verdict), *argv),
        env=stack.env(**env), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False)
    return process, json.loads(verdict.read_text())


def probes(verdict: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in verdict["checks"]
                                 if c["name"] == "backends.reachable")
    return found


@pytest.mark.integration
def test_a_missing_client_library_is_found_in_the_engines_python(
        stack: Stack, healthy: dict[str, str], tmp_path: Path) -> None:
    stack.seed(seed.serving_registry())
    app = engines_app(tmp_path, str(bare_python(tmp_path / "bin")))
    process, verdict = exec_run(stack, healthy, "--strict", "--", str(app))
    assert process.returncode == 1, process.stderr[-3000:]
    assert STARTED not in process.stdout  # the engines were not started
    check = probes(verdict)
    (missing,) = [item for item in check["details"]["results"]
                  if item.get("library") == "redis"]
    assert missing["kind"] == "CHAT_BUS_BACKEND" and missing["status"] == "fail"
    assert "cannot import redis (ModuleNotFoundError)" in missing["message"]
    assert missing["fix"] == ("install redis in the engines' image (the engines' requirements "
                              "do not bring it)")
    # The Redis itself answered: the library, not the server, is what fails.
    (bus,) = [item for item in check["details"]["results"]
              if item["kind"] == "CHAT_BUS_BACKEND" and "library" not in item]
    assert bus["status"] == "pass"


@pytest.mark.integration
def test_an_engines_python_with_the_libraries_starts_the_engines(
        stack: Stack, healthy: dict[str, str], tmp_path: Path) -> None:
    stack.seed(seed.serving_registry())
    app = engines_app(tmp_path, "/usr/bin/env python3")
    process, verdict = exec_run(stack, healthy, "--strict", "--engines-python", sys.executable,
                                "--", str(app))
    assert process.returncode == 0, process.stderr[-3000:]
    assert STARTED in process.stdout
    libraries = {item["library"]: item["status"] for item in probes(verdict)["details"]["results"]
                 if "library" in item}
    assert libraries == {"redis": "pass", "google.cloud.firestore": "pass", "boto3": "pass"}


@pytest.mark.integration
def test_a_command_that_is_no_python_is_not_checked_and_says_so(
        stack: Stack, healthy: dict[str, str], tmp_path: Path) -> None:
    stack.seed(seed.serving_registry())
    process, verdict = exec_run(stack, healthy, "--", "/bin/sh", "-c", f"echo {STARTED}")
    assert process.returncode == 0, process.stderr[-3000:]
    assert STARTED in process.stdout
    details = probes(verdict)["details"]
    assert details["libraries"] == LIBRARIES_UNSEEN
    assert not any("library" in item for item in details["results"])
    assert "client libraries not checked" in process.stderr
