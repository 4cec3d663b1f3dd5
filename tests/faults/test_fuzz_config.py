"""Hostile configuration: arbitrary strings in every PREFLIGHT_* variable and option.

Property (real CLI, as a subprocess, against the real emulator and S3 server behind
connection-counting forwarders): the outcome is either a valid run — exit 0, 1 or 3, every
stderr line a JSON log event, a schema-valid verdict — or exit 2 with exactly one line on
stderr, `preflight: error: ...`, naming the option or variable, and no connection made to
any dependency. Never a traceback, never another exit code.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests import harness, seed, servers
from tests.faults import results
from tests.route_documents import NO_SURROGATES
from tests.verdict_schema import validate_verdict

pytestmark = pytest.mark.integration

def _options() -> dict[str, tuple[str, tuple[str, ...], bool]]:
    """Every option of `preflight check` that has a variable: name -> (flag, variables, is
    a flag), read from the CLI itself so options added later are fuzzed too."""
    from preflight.app import cli

    found = {}
    for param in cli.check.params:
        envvar = param.envvar
        variables = (envvar,) if isinstance(envvar, str) else tuple(envvar or ())
        if variables and param.opts:
            found[param.name or param.opts[0]] = (param.opts[0], variables,
                                                  bool(getattr(param, "is_flag", False)))
    return found


OPTIONS = _options()

PATHS = ("verdict_file", "termination_log")
INTERESTING = [
    "", " ", ",", ",,", "a,,b", " , ", "t_system/dev", "t_system/dev,", "t/e/p/x", "/", "//",
    "t//e", " t/e", "t/ e", "tënant/ënv/прожект", "t#1/e.v/p q", "kpi", "KPI,kpi, kpi ",
    "0", "-1", "nan", "NaN", "inf", "-inf", "1e309", "1e-9", "0.001", "3", " 2 ", "0x10", "1_0",
    "86400.0001", "3600.5", "text", "JSON", " json ", "xml", "debug", "WARNING", "trace",
    "memory,noop", "MEMORY", "(default)", "projects/x", "a/b", "routing_registry",
    "verdict.json", "out/verdict.json", "missing-dir/v.json", ".", "..", "~", "$HOME",
    "\t", "\n", "a\nb", "\x1b[31mred", "\u202eevil", "\u00a0", "é" * 300, "x" * 2000,
    "--help", "-h", "--version", "'; DROP TABLE", "%s%n", "{}", "[1]", "null",
]
TEXT = st.text(st.characters(exclude_categories=NO_SURROGATES, exclude_characters="\x00"),
               max_size=60)
VALUE = st.one_of(st.sampled_from(INTERESTING), TEXT,
                  st.lists(st.sampled_from(INTERESTING), min_size=2, max_size=4).map(",".join))
FUZZ = st.dictionaries(st.sampled_from(sorted(OPTIONS)), st.tuples(st.integers(0, 9), VALUE),
                       min_size=1, max_size=2).map(
    lambda fuzz: {name: (_channel(name, pick), value) for name, (pick, value) in fuzz.items()})


def _channel(name: str, pick: int) -> str:
    flag, variables, _ = OPTIONS[name]
    choices = (flag, *variables)
    return choices[pick % len(choices)]
MAX_TIMEOUT = 4.0  # a fuzzed deadline above this is a valid but slow run: not generated


class Target:
    """The real stack behind forwarders that count connections."""

    def __init__(self, firestore: servers.Server, s3: servers.Server, root: Path) -> None:
        self.project = "fuzz-config"
        self.bucket = "fuzz-config-bucket"
        self.root = root
        self.firestore = harness.Forwarder(firestore.address).start()
        self.s3 = harness.Forwarder(s3.address).start()
        servers.clear_firestore(firestore.address, self.project)
        client = seed.firestore_client(firestore.address, self.project)
        seed.write(client, seed.registry())
        s3c = seed.s3_client(f"http://{s3.address}")
        if self.bucket not in [b["Name"] for b in s3c.list_buckets().get("Buckets", [])]:
            s3c.create_bucket(Bucket=self.bucket)
        self.runs = 0

    def connections(self) -> int:
        return self.firestore.connections + self.s3.connections

    def stop(self) -> None:
        self.firestore.stop()
        self.s3.stop()


@pytest.fixture(scope="module")
def target(firestore_server: servers.Server, s3_server: servers.Server,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    current = Target(firestore_server, s3_server, tmp_path_factory.mktemp("fuzz-config"))
    try:
        yield current
    finally:
        current.stop()


def _seconds(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


def _path(value: str, cwd: Path) -> str:
    """Absolute paths land under the run's folder: the tests run as root."""
    return str(cwd / value.lstrip("/")) if value.startswith("/") else value


def _repository_entries() -> set[str]:
    return {path.name for path in Path(harness.REPO).iterdir()}


def _one_line_usage_error(stderr: str, fuzzed: dict[str, tuple[str, str]]) -> str | None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    if len(lines) != 1:
        return f"exit 2 with {len(lines)} stderr lines"
    line = lines[0]
    if not line.startswith("preflight: error: "):
        return f"exit 2 without 'preflight: error:': {line[:200]!r}"
    names = [flag for flag, _, _ in OPTIONS.values()] + [
        var for _, variables, _ in OPTIONS.values() for var in variables]
    if not any(name in line for name in names):
        return f"exit 2 message names no option or variable: {line[:200]!r}"
    return None


@settings(max_examples=int(os.environ.get("PREFLIGHT_FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@given(fuzz=FUZZ)
def test_any_configuration_is_a_valid_run_or_a_one_line_usage_error(
        target: Target, fuzz: dict[str, tuple[str, str]]) -> None:
    for name in ("timeout", "attempt_timeout"):
        if name in fuzz:
            seconds = _seconds(fuzz[name][1])
            assume(seconds is None or seconds <= MAX_TIMEOUT or seconds > 86_400)
    target.runs += 1
    cwd = target.root / f"run-{target.runs:03d}"
    cwd.mkdir()
    env = harness.stack_env(cwd, emulator=target.firestore.address,
                            s3_endpoint=f"http://{target.s3.address}", project=target.project,
                            bucket=target.bucket)
    env.update(PREFLIGHT_TIMEOUT="3", PREFLIGHT_ATTEMPT_TIMEOUT="1", PREFLIGHT_FORMAT="json",
               PREFLIGHT_TERMINATION_LOG=str(cwd / "termination-log"))
    argv = [sys.executable, "-m", "preflight", "check"]
    for name, (channel, raw) in sorted(fuzz.items()):
        flag, _, is_flag = OPTIONS[name]
        value = _path(raw, cwd) if name in PATHS else raw
        if channel == flag:
            argv.append(flag if is_flag else f"{flag}={value}")
        else:
            env[channel] = value
    verdict_path: Path | None = cwd / "verdict.json"
    if "verdict_file" in fuzz:
        verdict_path = None  # wherever the fuzzed value says, if it is valid at all
    else:
        argv.append(f"--verdict-file={verdict_path}")
    before = target.connections()
    repository_before = _repository_entries()
    process = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                             errors="replace", timeout=30, stdin=subprocess.DEVNULL)
    connections = target.connections() - before
    # Relative paths land in the run's own folder: nothing is written into the repository.
    stray = sorted(_repository_entries() - repository_before)
    assert not stray, f"written into the repository: {stray}\n{argv[3:]!r}"
    code = process.returncode
    results.record("fuzz_config", fuzzed=[channel for channel, _ in fuzz.values()],
                   exit_code=code)
    where = f"argv={argv[3:]!r} env={ {c: env.get(c) for c, _ in fuzz.values()} }"
    detail = f"{where}\nexit {code}\nstdout: {process.stdout[-1500:]}\nstderr: " \
             f"{process.stderr[-3000:]}"
    assert "Traceback (most recent call last)" not in process.stdout, detail
    assert code in (0, 1, 2, 3), detail
    if code == 2:
        problem = _one_line_usage_error(process.stderr, fuzz)
        assert problem is None, f"{problem}\n{detail}"
        assert connections == 0, f"exit 2 after {connections} connection(s)\n{detail}"
        return
    for line in process.stderr.splitlines():
        if line.strip():
            try:
                json.loads(line)
            except ValueError:
                pytest.fail(f"stderr line is not a JSON log event: {line[:300]!r}\n{detail}")
    assert not any("Traceback (most recent call last)" in line
                   for line in process.stderr.splitlines()
                   if not line.lstrip().startswith("{")), detail
    if verdict_path is not None:
        assert verdict_path.exists(), f"no verdict file\n{detail}"
        document: Any = json.loads(verdict_path.read_text(encoding="utf-8"))
        validate_verdict(document)
        harness.check_verdict(document)
        assert document["exit_code"] == code, detail
    if process.stdout.lstrip().startswith("{"):
        document = json.loads(process.stdout)
        validate_verdict(document)
        assert document["exit_code"] == code, detail
    else:
        assert process.stdout.startswith("preflight "), detail  # the text summary


@pytest.mark.parametrize(("option", "value"), [("--database", "¡"),
                                               ("--project", "projet-é")])
def test_non_ascii_id_is_a_usage_error(target: Target, tmp_path: Path, option: str,
                                       value: str) -> None:
    env = harness.stack_env(tmp_path, emulator=target.firestore.address,
                            s3_endpoint=f"http://{target.s3.address}", project=target.project,
                            bucket=target.bucket)
    before = target.connections()
    process = subprocess.run(
        [sys.executable, "-m", "preflight", "check", f"{option}={value}", "--timeout=3",
         "--attempt-timeout=1", "--format=json"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert process.returncode == 2, process.stderr[-2000:]
    assert target.connections() == before
    assert _one_line_usage_error(process.stderr, {}) is None, process.stderr


@pytest.mark.parametrize("channel", ["--termination-log", "PREFLIGHT_VERDICT_FILE"])
def test_overlong_file_name_is_a_usage_error(target: Target, tmp_path: Path,
                                             channel: str) -> None:
    env = harness.stack_env(tmp_path, emulator=target.firestore.address,
                            s3_endpoint=f"http://{target.s3.address}", project=target.project,
                            bucket=target.bucket)
    argv = [sys.executable, "-m", "preflight", "check", "--format=json"]
    name = str(tmp_path / ("é" * 200))
    if channel.startswith("--"):
        argv.append(f"{channel}={name}")
    else:
        env[channel] = name
    process = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=30, stdin=subprocess.DEVNULL)
    assert "Traceback" not in process.stderr, process.stderr[-1500:]
    assert process.returncode == 2
    assert _one_line_usage_error(process.stderr, {}) is None, process.stderr
