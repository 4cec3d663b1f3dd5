"""Running the real `preflight` as a subprocess, and checking everything it writes.

Used by the integration fixtures in `conftest.py` and by any test that starts preflight
against the local Firestore emulator and moto S3 server. Every verdict a test sees —
the verdict file and a JSON stdout alike — goes through `check_verdict`, which validates it
against the published JSON Schema (Draft 2020-12) and the verdict's own invariants.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import servers
from tests.verdict_schema import validator

REPO = Path(__file__).resolve().parent.parent
CHECK_NAMES = ("env.policy", "env.backends", "gcp.credentials", "firestore.access",
               "aws.credentials", "s3.bucket", "routing.entries", "routing.serving",
               "routing.backends", "backends.reachable")
STATUSES = ("pass", "warn", "fail", "error", "skipped")
# The engines' 17 required kinds, copied from ENGINES.md (not imported from preflight, so a
# wrong constant there is caught here).
ENGINES_KINDS = (
    "feature_flags", "strategy_lock", "kpi", "budget", "maybes", "memory", "analytics_events",
    "rate_limit", "firearms", "page_content", "seo", "realtime_registry", "chat_bus",
    "nexus_backend", "media_v2_storage", "raw_storage", "timeline",
)
# What the first-use checks say of the healthy test stack: the engines' sample registry has
# no event_stream route, and the stack sets none of the backend-selecting variables.
FIRST_USE_DEFAULTS = {"env.backends": "warn", "routing.serving": "warn",
                      "routing.backends": "skipped", "backends.reachable": "skipped"}
# ... and what makes them pass: the event_stream route the engines look up at t_system/dev,
# and every backend-selecting variable on a durable backend.
FIRST_USE_HEALTHY_ROUTES: dict[str, dict[str, Any]] = {"event_stream-t_system-dev": {
    "id": "event_stream-t_system-dev", "resource_kind": "event_stream", "tenant_id": "t_system",
    "env": "dev", "project_id": None, "backend_type": "firestore", "config": {}}}
def first_use_healthy_env(redis_port: int) -> dict[str, str]:
    """The chat bus on a real Redis (backends.reachable probes it): give its port."""
    return {
        "CHAT_BUS_BACKEND": "redis", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_port),
        "MEMORY_BACKEND": "firestore", "IDENTITY_BACKEND": "firestore",
        "RATE_LIMIT_BACKEND": "firestore", "REALTIME_REGISTRY_BACKEND": "firestore",
        "ANALYTICS_EVENTS_BACKEND": "firestore", "PAGE_CONTENT_BACKEND": "firestore",
        "SEO_BACKEND": "firestore", "PRIVACY_BACKEND": "firestore",
        "THREE_WISE_BACKEND": "firestore"}
ENGINES_REFUSED = ("memory", "noop", "local", "tmp", "localhost")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

# Fake AWS keys for moto (it accepts any). Odd enough that preflight's scrubber, which
# redacts every secret-named variable's value wherever it appears, never hits real text.
AWS_KEY_ID = "AKIAPREFLIGHTFAKE01"
AWS_SECRET = "fake+secret/for-moto-only"
AWS_REGION = "us-east-1"


# --------------------------------------------------------------------------- verdicts

def check_verdict(document: Any, *, where: str = "verdict") -> dict[str, Any]:
    """Schema-valid (Draft 2020-12) and self-consistent, or an AssertionError saying why."""
    errors = sorted(validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, f"{where} violates verdict-v1.json:\n" + "\n".join(
        f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])
    checks = document["checks"]
    names = [check["name"] for check in checks]
    assert sorted(names) == sorted(CHECK_NAMES), f"{where}: checks {names}"
    counts = {status: sum(1 for c in checks if c["status"] == status) for status in STATUSES}
    assert document["summary"] == counts, f"{where}: summary {document['summary']} != {counts}"
    bad = [c for c in checks if c["status"] in ("fail", "error")]
    strict_warnings = [c for c in checks if document["strict"] and c["status"] == "warn"
                       and not c.get("ignored")]
    failed = bool(bad or strict_warnings) or document["interrupted"]
    assert document["status"] == ("fail" if failed else "pass"), f"{where}: status vs checks"
    for check in checks:
        if check["status"] == "error":
            assert "transient" in check, f"{where}: error check {check['name']} lacks transient"
    if document["interrupted"]:
        assert document["exit_code"] in (130, 143), where
    elif strict_warnings or any(
            c["status"] == "fail" or (c["status"] == "error" and not c["transient"])
            for c in checks):
        assert document["exit_code"] == 1, f"{where}: definitive failure but exit_code " \
            f"{document['exit_code']}"
    elif bad:
        assert document["exit_code"] == 3, f"{where}: only transient errors but exit_code " \
            f"{document['exit_code']}"
    else:
        assert document["exit_code"] == 0, f"{where}: nothing failed but exit_code " \
            f"{document['exit_code']}"
    for stamp in ("started_at", "finished_at"):
        assert RFC3339.match(document[stamp]), f"{where}: {stamp} {document[stamp]!r}"
    assert document["started_at"] <= document["finished_at"], where
    checked: dict[str, Any] = document
    return checked


# --------------------------------------------------------------------------- results

VERDICT_SLACK = 0.5  # seconds past the deadline a verdict may carry (writing it, a last call)
HANG_MARGIN = 10.0  # seconds past the deadline a process may take to start and exit, loaded


@dataclass
class Result:
    """One finished preflight process and everything it left behind."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall: float  # seconds from spawn to exit, measured by a waiter thread
    workdir: Path
    verdict_path: Path | None
    verdict_text: str | None = None
    verdict: dict[str, Any] | None = None
    stdout_verdict: dict[str, Any] | None = None
    termination_log: str | None = None
    termination_log_bytes: bytes | None = None

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def logs(self) -> list[dict[str, Any]]:
        """stderr's JSON log events (lines that are not JSON objects are left out)."""
        return parse_log_lines(self.stderr_lines)

    def check(self, name: str) -> dict[str, Any]:
        assert self.verdict is not None, f"no verdict\n{self.describe()}"
        matches = [c for c in self.verdict["checks"] if c["name"] == name]
        assert len(matches) == 1, f"{name}: {matches}"
        found: dict[str, Any] = matches[0]
        return found

    def status(self, name: str) -> str:
        status: str = self.check(name)["status"]
        return status

    def statuses(self) -> dict[str, str]:
        assert self.verdict is not None, f"no verdict\n{self.describe()}"
        return {c["name"]: c["status"] for c in self.verdict["checks"]}

    def scope(self, label: str) -> dict[str, Any]:
        scopes = self.check("routing.entries")["details"]["scopes"]
        assert label in scopes, f"scope {label!r} not in {list(scopes)}"
        found: dict[str, Any] = scopes[label]
        return found

    def everything(self) -> str:
        """Every byte preflight wrote anywhere we can see, for secret scanning."""
        parts = [self.stdout, self.stderr, self.verdict_text or "", self.termination_log or ""]
        for path in sorted(self.workdir.rglob("*")):
            if path.is_file():
                parts.append(path.read_bytes().decode("utf-8", errors="replace"))
        return "\n".join(parts)

    def assert_ended_by(self, deadline: float) -> None:
        """It stopped at its deadline, not after: by preflight's own clock (from its start to
        the verdict) within VERDICT_SLACK of it; by the wall clock, which adds the
        interpreter's start that a loaded machine stretches, within a hang's margin."""
        assert self.verdict is not None, f"no verdict\n{self.describe()}"
        seconds = self.verdict["duration_ms"] / 1000
        assert seconds <= deadline + VERDICT_SLACK, f"verdict after {seconds:.2f}s\n" \
            f"{self.describe()}"
        assert self.wall < deadline + HANG_MARGIN, self.describe()

    def describe(self) -> str:
        return (f"argv: {self.argv}\nexit: {self.returncode} after {self.wall:.2f}s\n"
                f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-6000:]}")


def parse_log_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


class Running:
    """A preflight process in flight: stream its stderr, signal it, then `finish()`."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], workdir: Path,
                 verdict_path: Path | None, termination_path: Path | None,
                 file_modes_bind: bool = False) -> None:
        self.argv = list(argv)
        self.workdir = workdir
        self.verdict_path = verdict_path
        self.termination_path = termination_path
        self._cond = threading.Condition()
        self._out: list[str] = []
        self._err: list[str] = []
        self._ended_at: float | None = None
        command = self.argv
        if file_modes_bind and os.geteuid() == 0:
            # Root ignores file modes through two capabilities. Dropping them (util-linux's
            # setpriv) makes modes bind while root still reads its own checkout, even one in
            # a private 0700 folder, which another user (nobody) could not.
            setpriv = shutil.which("setpriv")
            assert setpriv, "making file modes bind for root needs setpriv (util-linux)"
            command = [setpriv, "--bounding-set=-dac_override,-dac_read_search",
                       "--inh-caps=-all", *self.argv]
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            command, env=dict(env), cwd=str(workdir), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            encoding="utf-8", errors="replace")
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self._out),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, self._err),
                             daemon=True),
        ]
        for pump in self._pumps:
            pump.start()
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _pump(self, stream: Any, into: list[str]) -> None:
        for line in iter(stream.readline, ""):
            with self._cond:
                into.append(line)
                self._cond.notify_all()
        stream.close()

    def _wait(self) -> None:
        self.process.wait()
        with self._cond:
            self._ended_at = time.monotonic()
            self._cond.notify_all()

    @property
    def running(self) -> bool:
        with self._cond:
            return self._ended_at is None

    def stderr_so_far(self) -> str:
        with self._cond:
            return "".join(self._err)

    def wait_for_log(self, predicate: Callable[[dict[str, Any]], bool], timeout: float,
                     what: str = "log event") -> dict[str, Any]:
        """The first stderr JSON event matching `predicate`, waiting at most `timeout` s."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for event in parse_log_lines(self._err[seen:]):
                    if predicate(event):
                        return event
                seen = len(self._err)
                if self._ended_at is not None:
                    raise AssertionError(f"preflight exited ({self.process.returncode}) before "
                                         f"{what}:\n{''.join(self._err)[-4000:]}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {what} within {timeout}s:\n"
                                         f"{''.join(self._err)[-4000:]}")
                self._cond.wait(min(remaining, 0.5))

    def wait_for_attempt_failure(self, check: str, timeout: float) -> dict[str, Any]:
        return self.wait_for_log(
            lambda e: e.get("message") == "check attempt failed" and e.get("check") == check,
            timeout, what=f"'check attempt failed' for {check}")

    def send_signal(self, signum: int) -> None:
        if self.running:
            self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL to its process group, unless it is gone already (its pid may be reused)."""
        if not self.running:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def finish(self, timeout: float) -> Result:
        """Waits (bounded) for the exit; a process that outlives `timeout` is killed, and fails."""
        self._waiter.join(timeout)
        if self._waiter.is_alive():
            self.kill()
            self._waiter.join(10)
            for pump in self._pumps:
                pump.join(5)
            raise AssertionError(f"preflight still running after {timeout}s (killed):\n"
                                 + "".join(self._err)[-4000:])
        for pump in self._pumps:
            pump.join(10)
        assert self._ended_at is not None
        result = Result(
            argv=self.argv, returncode=self.process.returncode, stdout="".join(self._out),
            stderr="".join(self._err), wall=self._ended_at - self.started_at,
            workdir=self.workdir, verdict_path=self.verdict_path)
        collect(result, self.termination_path)
        return result


def collect(result: Result, termination_path: Path | None) -> None:
    """Reads what the run left and validates every verdict in it."""
    if result.returncode == 2 and result.verdict_path is not None \
            and result.verdict_path.is_relative_to(result.workdir):
        assert not result.verdict_path.exists(), \
            f"exit 2 (usage) but a verdict was written\n{result.describe()}"
    if result.verdict_path is not None and result.verdict_path.is_file():
        result.verdict_text = result.verdict_path.read_text(encoding="utf-8")
        try:
            document = json.loads(result.verdict_text)
        except ValueError as error:
            raise AssertionError(f"verdict file is not JSON ({error}):\n"
                                 f"{result.verdict_text[:2000]}") from None
        result.verdict = check_verdict(document, where=str(result.verdict_path))
        assert result.verdict["exit_code"] == result.returncode, (
            f"verdict says exit_code {result.verdict['exit_code']}, process exited "
            f"{result.returncode}\n{result.describe()}")
        leftovers = [p.name for p in result.verdict_path.parent.iterdir()
                     if p.name.startswith(f".{result.verdict_path.name}.")]
        assert not leftovers, f"temporary verdict files left behind: {leftovers}"
    if result.stdout.lstrip().startswith("{"):
        try:
            document = json.loads(result.stdout)
        except ValueError as error:
            raise AssertionError(f"stdout starts like JSON but is not a JSON document "
                                 f"({error}):\n{result.stdout[:2000]}") from None
        result.stdout_verdict = check_verdict(document, where="stdout")
        if result.verdict is not None:
            assert result.stdout_verdict == result.verdict, "stdout and verdict file differ"
    if termination_path is not None and termination_path.is_file():
        result.termination_log_bytes = termination_path.read_bytes()
        result.termination_log = result.termination_log_bytes.decode("utf-8")


# --------------------------------------------------------------------------- running

# The interpreter that runs `preflight` in the tests' subprocesses: this one, or
# PREFLIGHT_TEST_PYTHON's (`make test-lowest`: a venv with preflight's own dependencies only,
# so a module they lack is not lent by a test tool).
PREFLIGHT_PYTHON = os.environ.get("PREFLIGHT_TEST_PYTHON") or sys.executable


def preflight_argv(*args: str) -> list[str]:
    return [PREFLIGHT_PYTHON, "-m", "preflight", *args]


_RUNS = iter(range(1, 1_000_000))


def start_preflight(args: Sequence[str], env: Mapping[str, str], *, workdir: Path,
                    verdict: bool = True, termination_log: bool = True,
                    file_modes_bind: bool = False) -> Running:
    """Starts `python -m preflight check ARGS` with exactly `env` (plus output paths).

    Each run gets its own folder under `workdir` holding the verdict file (passed as
    `--verdict-file` unless `verdict` is false or ARGS name one) and the termination log
    (`PREFLIGHT_TERMINATION_LOG`, unless `env` sets it or `termination_log` is false), so
    /dev/termination-log is never touched and runs never see each other's files.
    """
    run_dir = workdir / f"run-{next(_RUNS):03d}"
    run_dir.mkdir(parents=True)
    env = dict(env)
    argv = preflight_argv("check")
    verdict_path: Path | None = None
    if verdict and "--verdict-file" not in args and "PREFLIGHT_VERDICT_FILE" not in env:
        verdict_path = run_dir / "verdict.json"
        argv += ["--verdict-file", str(verdict_path)]
    elif "PREFLIGHT_VERDICT_FILE" in env and "--verdict-file" not in args:
        verdict_path = Path(env["PREFLIGHT_VERDICT_FILE"])
    elif "--verdict-file" in args:
        verdict_path = Path(list(args)[list(args).index("--verdict-file") + 1])
    argv += list(args)
    termination_path: Path | None = None
    if "PREFLIGHT_TERMINATION_LOG" in env:
        termination_path = Path(env["PREFLIGHT_TERMINATION_LOG"])
    elif termination_log and "--termination-log" not in args:
        termination_path = run_dir / "termination-log"
        env["PREFLIGHT_TERMINATION_LOG"] = str(termination_path)
    return Running(argv, env, run_dir, verdict_path, termination_path,
                   file_modes_bind=file_modes_bind)


def run_preflight(args: Sequence[str], env: Mapping[str, str], timeout: float = 30.0, *,
                  workdir: Path, verdict: bool = True, termination_log: bool = True,
                  file_modes_bind: bool = False) -> Result:
    """Runs `python -m preflight check ARGS` to the end (at most `timeout` s) and collects it."""
    return start_preflight(args, env, workdir=workdir, verdict=verdict,
                           termination_log=termination_log,
                           file_modes_bind=file_modes_bind).finish(timeout)


def run_command(argv: Sequence[str], env: Mapping[str, str], timeout: float = 30.0,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=dict(env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd, check=False)


def overridden(env: Mapping[str, str], overrides: Mapping[str, str | None]) -> dict[str, str]:
    """A copy of `env` with `overrides` applied; a value of None removes the variable."""
    result = dict(env)
    for name, value in overrides.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def minimal_env(home: Path) -> dict[str, str]:
    """PATH and a private HOME: no ~/.aws, no gcloud config, nothing inherited."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}


def stack_env(home: Path, *, emulator: str, s3_endpoint: str, project: str,
              bucket: str) -> dict[str, str]:
    """The clean environment of an engines pod whose dependencies are the local servers."""
    return {
        **minimal_env(home),
        "FIRESTORE_EMULATOR_HOST": emulator,
        "GCP_PROJECT_ID": project,
        "RAW_BUCKET": bucket,
        "ROUTING_REGISTRY_BACKEND": "firestore",
        "BUDGET_BACKEND": "filesystem",
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_ENDPOINT_URL_STS": s3_endpoint,  # moto's server answers STS on the same port
        # Every other AWS service (DynamoDB probes) on moto too: never a real AWS address.
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused."""
    return servers.free_port()


# --------------------------------------------------------------------------- plumbing

@dataclass
class Forwarder:
    """A TCP forwarder on a loopback port in front of a real server.

    While stopped, nothing listens on the port (connections are refused by the kernel,
    exactly as for a server that is down); started, it relays bytes both ways. It also
    counts connections, which proves whether preflight made any network call at all.
    """

    target: str
    port: int = field(default_factory=servers.free_port)
    connections: int = 0
    _listener: socket.socket | None = None
    _closing: threading.Event = field(default_factory=threading.Event)
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Forwarder:
        self._closing.clear()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        host, port = self.target.rsplit(":", 1)
        while not self._closing.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            try:
                upstream = socket.create_connection((host, int(port)), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._relay, args=(source, sink), daemon=True).start()

    @staticmethod
    def _relay(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in (sink, source):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._closing.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(interval)


def engines_would_start(found: Any) -> bool:
    """As far as one scope's findings go (judge/routes.py ScopeFindings): every problem is a
    stricter rule, with its code; none is an engines crash."""
    return all(problem.code is not None for problem in found.problems_found)
