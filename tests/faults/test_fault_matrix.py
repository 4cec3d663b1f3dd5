"""The fault matrix: every fault × every dependency, asserted on the real CLI and real servers.

Dependencies: the Firestore emulator, the moto S3 server, and the Google token / metadata
endpoint (a local HTTP server named in a key file's `token_uri`, or `GCE_METADATA_HOST`, so
the real google-auth code runs; `FIRESTORE_EMULATOR_HOST` is unset there and gRPC is sent to
a closed local proxy port, so the Firestore checks can never reach real Google).

Contract (issue 2/5): definitive failures exit 1 at once; transient ones are retried and exit
3 no later than 1 s after `--timeout`; a dependency that recovers before the deadline passes;
nothing hangs; a schema-valid verdict file is written every time. Every run also carries
the canary secrets, and is audited for them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import harness, seed, servers
from tests.conftest import Stack
from tests.faults import results, tools
from tests.faults.common import Canaries, attempts, audit, require_verdict

pytestmark = pytest.mark.integration

TRANSIENT_TIMEOUT = 3.0  # deadline for faults that are transient: exit 3 by +1 s
DEFINITIVE_TIMEOUT = 6.0  # deadline for definitive faults: they must not wait for it
RECOVERY_TIMEOUT = 8.0  # deadline for faults that heal before it: pass
# s3.bucket runs after aws.credentials (STS): a second more for two retried attempts.
S3_TRANSIENT_TIMEOUT = TRANSIENT_TIMEOUT + 1.0
# A hung dependency answers nothing: each attempt takes its whole 1 s. The deadline counts
# from process start, whose imports take over a second on a loaded machine, so two attempts
# (what min_attempts asks) need a second more than a refused one, which fails at once.
HUNG_TIMEOUT = TRANSIENT_TIMEOUT + 1.0
FLAPPING_TIMEOUT = 15.0  # a Java emulator's restart takes seconds on a loaded machine
ATTEMPT_TIMEOUT = 1.0
AT_ONCE = 2.5  # "at once": a definitive failure's whole run, well before its deadline
GRACE = 1.0  # the process is gone within 1 s of the deadline

FIRESTORE = "Firestore emulator"
S3 = "S3 server"
GOOGLE = "Google token / metadata endpoint"
SIGNALS = "any (signal)"

BLOCKED = {"error"}  # a check whose dependency did not pass: never a neutral skip


@dataclass
class Expect:
    exit: int
    checks: dict[str, set[str]]
    min_attempts: dict[str, int] = field(default_factory=dict)
    message: dict[str, str] = field(default_factory=dict)  # check -> substring of message


@dataclass
class Case:
    """One scenario's context: the stack, canaries, and what the run needs."""

    stack: Stack
    canaries: Canaries
    tmp: Path
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def firestore_env(self, emulator: str | None = None, **extra: str | None) -> dict[str, str]:
        self.stack.seed(self.canaries.registry())
        env = self.stack.env(**self.canaries.env(s3_endpoint=self.stack.s3_endpoint))
        env["FIRESTORE_EMULATOR_HOST"] = emulator or self.stack.firestore.address
        return harness.overridden(env, extra)

    def s3_env(self, endpoint: str, **extra: str | None) -> dict[str, str]:
        self.stack.seed(self.canaries.registry())
        env = self.stack.env(**self.canaries.env(s3_endpoint=endpoint))
        return harness.overridden(env, extra)

    def google_env(self, **extra: str | None) -> dict[str, str]:
        """No emulator: gcp.credentials really runs; gRPC to real Google goes nowhere."""
        env = self.stack.env(**self.canaries.env(s3_endpoint=self.stack.s3_endpoint))
        env.pop("FIRESTORE_EMULATOR_HOST", None)
        env["GCP_PROJECT_ID"] = "dummy-project"
        env["grpc_proxy"] = f"http://127.0.0.1:{tools.closed_port()}"
        env["CLOUDSDK_CONFIG"] = str(self.tmp / "gcloud")
        return harness.overridden(env, extra)

    def key_file(self, token_uri: str, **kwargs: Any) -> str:
        return str(self.canaries.key_file(self.tmp / "key.json", token_uri, **kwargs))

    def tool(self, tool: Any) -> Any:
        self.cleanups.append(tool.stop)
        return tool




@pytest.fixture
def case(stack: Stack, canaries: Canaries, tmp_path: Path) -> Iterator[Case]:
    current = Case(stack, canaries, tmp_path)
    try:
        yield current
    finally:
        for cleanup in reversed(current.cleanups):
            cleanup()


def args(timeout: float, attempt: float = ATTEMPT_TIMEOUT) -> list[str]:
    return ["--timeout", f"{timeout:g}", "--attempt-timeout", f"{attempt:g}", "--format", "json"]


def bound_for(expect: Expect, timeout: float) -> float:
    if expect.exit == 1:
        return AT_ONCE
    if expect.exit == 3:
        return timeout + GRACE
    return timeout


def judge(request: pytest.FixtureRequest, case: Case, *, dependency: str, fault: str, how: str,
          running: harness.Running, timeout: float, expect: Expect,
          bound: float | None = None) -> harness.Result:
    """Waits (bounded) for the run, records its row, audits secrets, then asserts."""
    bound = bound if bound is not None else bound_for(expect, timeout)
    problems: list[str] = []
    try:
        result = running.finish(timeout + 15)
    except AssertionError as error:  # still running after the bound (killed), or a bad verdict
        hung = "still running" in str(error)
        results.record("matrix", dependency=dependency, fault=fault, how=how,
                       exit_code="hung (killed)" if hung else running.process.returncode,
                       expected_exit=expect.exit, verdict_status="none", wall_s=None,
                       timeout=timeout, bound_s=bound, key_checks={}, ok=False,
                       problem=str(error)[:300])
        raise
    verdict = None
    try:
        verdict = require_verdict(result)
    except AssertionError as error:
        problems.append(f"verdict: {str(error)[:300]}")
    got = result.statuses() if verdict else {}
    tries = attempts(result)
    log = result.termination_log_bytes
    if log is None or not 0 < len(log) <= 4096:
        problems.append(f"termination log missing or not within 4096 bytes ({log and len(log)})")
    if result.returncode != expect.exit:
        problems.append(f"exit {result.returncode}, expected {expect.exit}")
    if result.wall > bound:
        problems.append(f"took {result.wall:.2f}s, bound {bound:.2f}s")
    for name, allowed in expect.checks.items():
        if got.get(name) not in allowed:
            problems.append(f"{name} is {got.get(name)}, expected {sorted(allowed)}")
    for name, least in expect.min_attempts.items():
        if tries.get(name, 0) < least:
            problems.append(f"{name} made {tries.get(name, 0)} attempt(s), expected >= {least}")
    if verdict:
        for name, text in expect.message.items():
            message = result.check(name)["message"]
            if text not in message:
                problems.append(f"{name} message lacks {text!r}: {message[:200]}")
    results.record(
        "matrix", dependency=dependency, fault=fault, how=how, exit_code=result.returncode,
        expected_exit=expect.exit, verdict_status=verdict["status"] if verdict else "none",
        wall_s=round(result.wall, 3), timeout=timeout, bound_s=bound,
        key_checks={name: got.get(name, "?") for name in expect.checks},
        attempts={name: tries.get(name, 0) for name in expect.checks}, ok=not problems,
        problem="; ".join(problems))
    audit(result, case.canaries, request.node.name)
    assert not problems, "; ".join(problems) + "\n" + result.describe()
    return result


def transient(check: str, **more: set[str]) -> Expect:
    return Expect(3, {check: {"error"}, **more}, min_attempts={check: 2})


FS_TRANSIENT = transient("firestore.access", **{"routing.entries": BLOCKED, "s3.bucket": {"pass"}})
S3_TRANSIENT = transient("s3.bucket", **{"firestore.access": {"pass"},
                                         "routing.entries": {"pass"}})
# The moto server answers STS too: stopped or hung, it stalls aws.credentials first, and
# s3.bucket, which needs it, is blocked (an error, transient as its cause).
MOTO_TRANSIENT = transient("aws.credentials", **{"s3.bucket": BLOCKED,
                                                 "firestore.access": {"pass"},
                                                 "routing.entries": {"pass"}})
GOOGLE_TRANSIENT = transient("gcp.credentials", **{"firestore.access": BLOCKED,
                                                   "routing.entries": BLOCKED})
GOOGLE_DEFINITIVE = Expect(1, {"gcp.credentials": {"fail"}, "firestore.access": BLOCKED,
                               "routing.entries": BLOCKED})

# ================================================================================ Firestore

def test_firestore_refused_server_stopped(request: pytest.FixtureRequest, case: Case) -> None:
    env = case.firestore_env()
    case.stack.firestore.stop()
    running = case.stack.start(*args(TRANSIENT_TIMEOUT), env=env)
    judge(request, case, dependency=FIRESTORE, fault="refused: server stopped",
          how="emulator process group stopped before the run", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=FS_TRANSIENT)


def test_firestore_refused_closed_port(request: pytest.FixtureRequest, case: Case) -> None:
    env = case.firestore_env(f"127.0.0.1:{tools.closed_port()}")
    running = case.stack.start(*args(TRANSIENT_TIMEOUT), env=env)
    judge(request, case, dependency=FIRESTORE, fault="refused: closed port",
          how="FIRESTORE_EMULATOR_HOST names a port nobody listens on", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=FS_TRANSIENT)


def test_firestore_hung_sigstop(request: pytest.FixtureRequest, case: Case) -> None:
    env = case.firestore_env()
    running = case.stack.start(*args(HUNG_TIMEOUT), env=env)
    case.stack.firestore.pause()
    judge(request, case, dependency=FIRESTORE, fault="hung: SIGSTOP mid-run",
          how="emulator SIGSTOPped as preflight starts, never resumed", running=running,
          timeout=HUNG_TIMEOUT, expect=FS_TRANSIENT)


def test_firestore_hung_then_sigcont_passes(request: pytest.FixtureRequest, case: Case) -> None:
    env = case.firestore_env()
    running = case.stack.start(*args(RECOVERY_TIMEOUT), env=env)
    case.stack.firestore.pause()
    running.wait_for_attempt_failure("firestore.access", RECOVERY_TIMEOUT)
    case.stack.firestore.resume()
    judge(request, case, dependency=FIRESTORE, fault="hung, SIGCONT before the deadline",
          how="SIGSTOP at start, SIGCONT after the first failed attempt", running=running,
          timeout=RECOVERY_TIMEOUT,
          expect=Expect(0, {"firestore.access": {"pass"}, "routing.entries": {"pass"}},
                        min_attempts={"firestore.access": 2}))


def test_firestore_black_hole(request: pytest.FixtureRequest, case: Case) -> None:
    hole = case.tool(tools.BlackHole())
    running = case.stack.start(*args(TRANSIENT_TIMEOUT), env=case.firestore_env(hole.address))
    judge(request, case, dependency=FIRESTORE, fault="black hole",
          how="a listener that accepts and never answers", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=FS_TRANSIENT)


def test_firestore_slow(request: pytest.FixtureRequest, case: Case) -> None:
    proxy = case.tool(tools.DelayProxy(case.stack.firestore.address, delay=1.5))
    running = case.stack.start(*args(TRANSIENT_TIMEOUT), env=case.firestore_env(proxy.address))
    judge(request, case, dependency=FIRESTORE, fault="slow: every answer after the attempt "
          "timeout", how="delaying TCP proxy, 1.5 s per chunk, attempt timeout 1 s",
          running=running, timeout=TRANSIENT_TIMEOUT, expect=FS_TRANSIENT)


def _flap(proxy: tools.DelayProxy, running: harness.Running,
          restart: Callable[[], None]) -> None:
    """Once preflight is talking through the proxy: the server restarts under it."""
    assert tools.wait_until(lambda: proxy.connections > 0 or not running.running, 10)
    proxy.down()  # in-flight connections reset, the port refuses while the server restarts
    restart()
    proxy.delay = 0.0  # the delay only made sure a call was in flight; the server is back
    proxy.up()


def test_firestore_flapping(request: pytest.FixtureRequest, case: Case) -> None:
    stack = case.stack
    proxy = case.tool(tools.DelayProxy(stack.firestore.address, delay=0.2))
    env = case.firestore_env(proxy.address)
    running = stack.start(*args(FLAPPING_TIMEOUT, 2.0), env=env)

    def restart() -> None:
        stack.firestore.stop()
        stack.firestore.start()
        # An in-memory emulator forgets its data (a real server would not): seed it again
        # through a new client (the old channel is in gRPC's reconnect backoff).
        fresh = seed.firestore_client(stack.firestore.address, stack.project)
        seed.write(fresh, case.canaries.registry(), stack.collection)

    _flap(proxy, running, restart)
    result = judge(request, case, dependency=FIRESTORE, fault="flapping: restart mid-run",
                   how="emulator killed and restarted while a read is in flight", running=running,
                   timeout=FLAPPING_TIMEOUT,
                   expect=Expect(0, {"firestore.access": {"pass"}, "routing.entries": {"pass"}}))
    tries = attempts(result)
    assert tries["firestore.access"] + tries["routing.entries"] >= 3, tries


def test_firestore_dns(request: pytest.FixtureRequest, case: Case) -> None:
    running = case.stack.start(*args(TRANSIENT_TIMEOUT),
                               env=case.firestore_env("nonexistent.invalid:8080"))
    judge(request, case, dependency=FIRESTORE, fault="DNS: unresolvable host",
          how="FIRESTORE_EMULATOR_HOST=nonexistent.invalid:8080", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=FS_TRANSIENT)


def test_firestore_wrong_protocol(request: pytest.FixtureRequest, case: Case) -> None:
    http = case.tool(tools.FakeHTTP(tools.plain_http()))
    running = case.stack.start(*args(TRANSIENT_TIMEOUT), env=case.firestore_env(http.address))
    judge(request, case, dependency=FIRESTORE, fault="wrong protocol",
          how="an HTTP/1.1 server where gRPC is expected (gRPC: UNAVAILABLE)", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=FS_TRANSIENT)


# ================================================================================ S3

def test_s3_refused_server_stopped(request: pytest.FixtureRequest, case: Case) -> None:
    env = case.s3_env(case.stack.s3_endpoint)
    case.stack.s3.stop()
    running = case.stack.start(*args(TRANSIENT_TIMEOUT), env=env)
    judge(request, case, dependency=S3, fault="refused: server stopped",
          how="moto server stopped before the run", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=MOTO_TRANSIENT)


def test_s3_refused_closed_port(request: pytest.FixtureRequest, case: Case) -> None:
    env = case.s3_env(f"http://127.0.0.1:{tools.closed_port()}")
    running = case.stack.start(*args(S3_TRANSIENT_TIMEOUT), env=env)
    judge(request, case, dependency=S3, fault="refused: closed port",
          how="AWS_ENDPOINT_URL_S3 names a port nobody listens on", running=running,
          timeout=S3_TRANSIENT_TIMEOUT, expect=S3_TRANSIENT)


def test_s3_hung_sigstop(request: pytest.FixtureRequest, case: Case) -> None:
    env = case.s3_env(case.stack.s3_endpoint)
    case.stack.s3.pause()
    running = case.stack.start(*args(HUNG_TIMEOUT), env=env)
    judge(request, case, dependency=S3, fault="hung: SIGSTOP mid-run",
          how="moto SIGSTOPped as preflight starts, never resumed", running=running,
          timeout=HUNG_TIMEOUT, expect=MOTO_TRANSIENT)


def test_s3_hung_then_sigcont_passes(request: pytest.FixtureRequest, case: Case) -> None:
    env = case.s3_env(case.stack.s3_endpoint)
    case.stack.s3.pause()
    running = case.stack.start(*args(RECOVERY_TIMEOUT), env=env)
    running.wait_for_attempt_failure("aws.credentials", RECOVERY_TIMEOUT)
    case.stack.s3.resume()
    judge(request, case, dependency=S3, fault="hung, SIGCONT before the deadline",
          how="SIGSTOP at start, SIGCONT after the first failed attempt", running=running,
          timeout=RECOVERY_TIMEOUT,
          expect=Expect(0, {"aws.credentials": {"pass"}, "s3.bucket": {"pass"}},
                        min_attempts={"aws.credentials": 2}))


def test_s3_black_hole(request: pytest.FixtureRequest, case: Case) -> None:
    hole = case.tool(tools.BlackHole())
    running = case.stack.start(*args(S3_TRANSIENT_TIMEOUT),
                               env=case.s3_env(f"http://{hole.address}"))
    judge(request, case, dependency=S3, fault="black hole",
          how="a listener that accepts and never answers", running=running,
          timeout=S3_TRANSIENT_TIMEOUT, expect=S3_TRANSIENT)


def test_s3_slow(request: pytest.FixtureRequest, case: Case) -> None:
    proxy = case.tool(tools.DelayProxy(case.stack.s3.address, delay=1.5))
    running = case.stack.start(*args(S3_TRANSIENT_TIMEOUT),
                               env=case.s3_env(f"http://{proxy.address}"))
    judge(request, case, dependency=S3, fault="slow: every answer after the attempt "
          "timeout", how="delaying TCP proxy, 1.5 s per chunk, attempt timeout 1 s",
          running=running, timeout=S3_TRANSIENT_TIMEOUT, expect=S3_TRANSIENT)


def test_s3_flapping(request: pytest.FixtureRequest, case: Case) -> None:
    stack = case.stack
    proxy = case.tool(tools.DelayProxy(stack.s3.address, delay=0.3))
    running = stack.start(*args(FLAPPING_TIMEOUT, 2.0),
                          env=case.s3_env(f"http://{proxy.address}"))

    def restart() -> None:
        stack.s3.stop()
        stack.s3.start()
        stack.s3c.create_bucket(Bucket=stack.bucket)  # moto keeps nothing; real S3 would

    _flap(proxy, running, restart)
    judge(request, case, dependency=S3, fault="flapping: restart mid-run",
          how="moto killed and restarted while HeadBucket is in flight", running=running,
          timeout=FLAPPING_TIMEOUT,
          expect=Expect(0, {"s3.bucket": {"pass"}}, min_attempts={"s3.bucket": 2}))


def test_s3_dns(request: pytest.FixtureRequest, case: Case) -> None:
    running = case.stack.start(*args(S3_TRANSIENT_TIMEOUT),
                               env=case.s3_env("http://nonexistent.invalid:9"))
    judge(request, case, dependency=S3, fault="DNS: unresolvable host",
          how="AWS_ENDPOINT_URL_S3=http://nonexistent.invalid:9", running=running,
          timeout=S3_TRANSIENT_TIMEOUT, expect=S3_TRANSIENT)


def test_s3_wrong_protocol(request: pytest.FixtureRequest, case: Case) -> None:
    endpoint = f"http://{case.stack.firestore.address}"
    running = case.stack.start(*args(DEFINITIVE_TIMEOUT), env=case.s3_env(endpoint))
    judge(request, case, dependency=S3, fault="wrong protocol",
          how="the gRPC emulator's port given as the S3 endpoint (it answers HeadBucket 404)",
          running=running, timeout=DEFINITIVE_TIMEOUT,
          expect=Expect(1, {"s3.bucket": {"fail"}, "routing.entries": {"pass"}},
                        message={"s3.bucket": case.stack.firestore.address}))


# ================================================================================ Google

def _google_run(case: Case, timeout: float, **env: str | None) -> harness.Running:
    return case.stack.start(*args(timeout), env=case.google_env(**env))


def _token_process(case: Case, mode: str = "ok") -> servers.Server:
    server = tools.fake_server_process("token", mode)
    case.cleanups.append(server.stop)
    return server.start()


def test_google_refused_server_stopped(request: pytest.FixtureRequest, case: Case) -> None:
    server = _token_process(case)
    key = case.key_file(f"http://{server.address}/token")
    server.stop()
    running = _google_run(case, TRANSIENT_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    judge(request, case, dependency=GOOGLE, fault="refused: server stopped",
          how="key file's token_uri server stopped before the run", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=GOOGLE_TRANSIENT)


def test_google_refused_closed_port(request: pytest.FixtureRequest, case: Case) -> None:
    key = case.key_file(f"http://127.0.0.1:{tools.closed_port()}/token")
    running = _google_run(case, TRANSIENT_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    judge(request, case, dependency=GOOGLE, fault="refused: closed port",
          how="token_uri names a port nobody listens on", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=GOOGLE_TRANSIENT)


def test_google_hung_sigstop(request: pytest.FixtureRequest, case: Case) -> None:
    server = _token_process(case)
    key = case.key_file(f"http://{server.address}/token")
    running = _google_run(case, TRANSIENT_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    server.pause()
    judge(request, case, dependency=GOOGLE, fault="hung: SIGSTOP mid-run",
          how="token endpoint process SIGSTOPped as preflight starts", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=GOOGLE_TRANSIENT)


def test_google_hung_then_sigcont_passes(request: pytest.FixtureRequest, case: Case) -> None:
    server = _token_process(case)
    key = case.key_file(f"http://{server.address}/token")
    timeout = 5.0
    running = _google_run(case, timeout, GOOGLE_APPLICATION_CREDENTIALS=key)
    server.pause()
    running.wait_for_attempt_failure("gcp.credentials", timeout)
    server.resume()
    # The token comes; Firestore itself would be real Google, which the test blocks: exit 3.
    judge(request, case, dependency=GOOGLE, fault="hung, SIGCONT before the deadline",
          how="SIGSTOP at start, SIGCONT after the first failed attempt (then Firestore is "
          "real Google, unreachable here: exit 3)", running=running, timeout=timeout,
          expect=Expect(3, {"gcp.credentials": {"pass"}, "firestore.access": {"error"}},
                        min_attempts={"gcp.credentials": 2}))


def test_google_black_hole(request: pytest.FixtureRequest, case: Case) -> None:
    hole = case.tool(tools.BlackHole())
    key = case.key_file(f"http://{hole.address}/token")
    running = _google_run(case, TRANSIENT_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    judge(request, case, dependency=GOOGLE, fault="black hole",
          how="token_uri is a listener that accepts and never answers", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=GOOGLE_TRANSIENT)


def test_google_slow(request: pytest.FixtureRequest, case: Case) -> None:
    token = case.tool(tools.FakeHTTP(tools.token_endpoint("ok")))
    proxy = case.tool(tools.DelayProxy(token.address, delay=1.5))
    key = case.key_file(f"http://{proxy.address}/token")
    running = _google_run(case, TRANSIENT_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    judge(request, case, dependency=GOOGLE, fault="slow: every answer after the attempt "
          "timeout", how="token endpoint behind a delaying proxy (1.5 s, attempt timeout 1 s)",
          running=running, timeout=TRANSIENT_TIMEOUT, expect=GOOGLE_TRANSIENT)


def test_google_flapping(request: pytest.FixtureRequest, case: Case) -> None:
    server = _token_process(case)
    proxy = case.tool(tools.DelayProxy(server.address, delay=0.3))
    key = case.key_file(f"http://{proxy.address}/token")
    timeout = 5.0
    running = case.stack.start(*args(timeout, 2.0),
                               env=case.google_env(GOOGLE_APPLICATION_CREDENTIALS=key))

    def restart() -> None:
        server.stop()
        server.start()

    _flap(proxy, running, restart)
    judge(request, case, dependency=GOOGLE, fault="flapping: restart mid-run",
          how="token endpoint process restarted while the token request is in flight (then "
          "Firestore is real Google, unreachable here: exit 3)", running=running,
          timeout=timeout,
          expect=Expect(3, {"gcp.credentials": {"pass"}, "firestore.access": {"error"}},
                        min_attempts={"gcp.credentials": 2}))


def test_google_dns(request: pytest.FixtureRequest, case: Case) -> None:
    key = case.key_file("http://nonexistent.invalid/token")
    running = _google_run(case, TRANSIENT_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    judge(request, case, dependency=GOOGLE, fault="DNS: unresolvable host",
          how="token_uri=http://nonexistent.invalid/token", running=running,
          timeout=TRANSIENT_TIMEOUT, expect=GOOGLE_TRANSIENT)


def test_google_wrong_protocol(request: pytest.FixtureRequest, case: Case) -> None:
    key = case.key_file(f"http://{case.stack.firestore.address}/token")
    running = _google_run(case, DEFINITIVE_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    judge(request, case, dependency=GOOGLE, fault="wrong protocol",
          how="token_uri is the gRPC emulator's port (HTTP 404 to the token request)",
          running=running, timeout=DEFINITIVE_TIMEOUT, expect=GOOGLE_DEFINITIVE)


def test_google_key_file_not_json(request: pytest.FixtureRequest, case: Case) -> None:
    key = case.tmp / "key.json"
    key.write_text('{"type": "service_account", "private_key": "' + case.canaries.private_key_id)
    case.canaries.channels.add("service-account key file")
    running = _google_run(case, DEFINITIVE_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=str(key))
    judge(request, case, dependency=GOOGLE, fault="credentials: malformed key file",
          how="GOOGLE_APPLICATION_CREDENTIALS is truncated JSON", running=running,
          timeout=DEFINITIVE_TIMEOUT, expect=GOOGLE_DEFINITIVE)


def test_google_key_file_bad_private_key(request: pytest.FixtureRequest, case: Case) -> None:
    body = "\n".join(line for line in case.canaries.private_key.splitlines()[1:-1])
    broken = "-----BEGIN PRIVATE KEY-----\n" + body[:-40] + "\n-----END PRIVATE KEY-----\n"
    key = case.key_file("http://127.0.0.1:9/token", private_key=broken)
    running = _google_run(case, DEFINITIVE_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    judge(request, case, dependency=GOOGLE, fault="credentials: malformed private key",
          how="valid JSON key file whose private_key PEM is cut short", running=running,
          timeout=DEFINITIVE_TIMEOUT, expect=GOOGLE_DEFINITIVE)


def test_google_invalid_grant(request: pytest.FixtureRequest, case: Case) -> None:
    token = case.tool(tools.FakeHTTP(tools.token_endpoint("invalid_grant")))
    key = case.key_file(f"{token.url}/token")
    running = _google_run(case, DEFINITIVE_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    judge(request, case, dependency=GOOGLE, fault="credentials: invalid_grant",
          how="token_uri answers 400 invalid_grant (revoked key)", running=running,
          timeout=DEFINITIVE_TIMEOUT, expect=GOOGLE_DEFINITIVE)


def test_google_invalid_grant_is_definitive(request: pytest.FixtureRequest, case: Case) -> None:
    """invalid_grant is definitive: exit 1 after one attempt and one token request."""
    token = case.tool(tools.FakeHTTP(tools.token_endpoint("invalid_grant")))
    key = case.key_file(f"{token.url}/token")
    running = _google_run(case, DEFINITIVE_TIMEOUT, GOOGLE_APPLICATION_CREDENTIALS=key)
    result = running.finish(DEFINITIVE_TIMEOUT + 15)
    require_verdict(result)
    assert result.returncode == 1, result.describe()
    check = result.check("gcp.credentials")
    assert check["status"] == "fail" and check["attempts"] == 1, check
    assert "invalid_grant" in check["message"]
    assert result.wall <= DEFINITIVE_TIMEOUT + GRACE, result.describe()
    assert len(token.requests) == 1, token.requests
    audit(result, case.canaries, request.node.name)


def _metadata(case: Case, mode: str) -> dict[str, str]:
    server = case.tool(tools.FakeHTTP(tools.metadata_server(mode)))
    return {"GCE_METADATA_HOST": server.address, "GCE_METADATA_IP": server.address}


@pytest.mark.parametrize(("mode", "fault", "how"), [
    ("token-hang", "metadata: token request times out",
     "GCE_METADATA_HOST server: ping and account answer, the token request hangs"),
    ("all-hang", "metadata: server does not answer",
     "GCE_METADATA_HOST server accepts and never answers anything"),
    ("token-500", "metadata: token answers 500",
     "GCE_METADATA_HOST server: ping and account answer, the token request gets 500"),
    ("all-500", "metadata: answers 500 to everything",
     "GCE_METADATA_HOST server answers every request with 500"),
])
def test_google_metadata(request: pytest.FixtureRequest, case: Case, mode: str, fault: str,
                         how: str) -> None:
    running = _google_run(case, TRANSIENT_TIMEOUT, **_metadata(case, mode))
    judge(request, case, dependency=GOOGLE, fault=fault, how=how, running=running,
          timeout=TRANSIENT_TIMEOUT, expect=GOOGLE_TRANSIENT)


# ----------------------------------------- transient or definitive: decided in one place

def _token_requests(server: tools.FakeHTTP) -> int:
    return sum(1 for _method, path in server.requests if path.split("?")[0].endswith("/token"))


def test_metadata_5xx_is_transient_and_google_auth_does_not_retry_on_its_own(
        case: Case) -> None:
    """google-auth retries a metadata 5xx five times, sleeping 1+2+4+8 s, then raises a
    RefreshError; neither its retries nor that error's "definitive" look may decide."""
    server = case.tool(tools.FakeHTTP(tools.metadata_server("token-500", failures=5)))
    env = case.google_env(GCE_METADATA_HOST=server.address, GCE_METADATA_IP=server.address)
    result = case.stack.run("--only", "gcp.credentials", "--timeout", "20",
                            "--attempt-timeout", "20", "--format", "json", env=env, timeout=40)
    assert result.returncode == 0, result.describe()
    check = result.check("gcp.credentials")
    assert check["status"] == "pass", check
    assert check["attempts"] == 6, check  # five transient failures, retried by the runner
    assert _token_requests(server) == 6, server.requests  # one request per attempt
    failures = [e for e in result.logs if e.get("message") == "check attempt failed"]
    assert len(failures) == 5
    assert all("500" in e["error"] for e in failures), failures
    assert "issue new credentials" not in result.stderr
    audit(result, case.canaries, "metadata 5xx transient")


def test_broken_key_file_is_definitive_even_with_a_metadata_host_set(case: Case) -> None:
    """google-auth never consults the metadata server once GOOGLE_APPLICATION_CREDENTIALS
    names a file: a broken file is the operator's to fix, at once."""
    server = case.tool(tools.FakeHTTP(tools.metadata_server("all-500")))
    key = case.tmp / "key.json"
    key.write_text("{not json")
    env = case.google_env(GOOGLE_APPLICATION_CREDENTIALS=str(key),
                          GCE_METADATA_HOST=server.address, GCE_METADATA_IP=server.address)
    result = case.stack.run("--only", "gcp.credentials", "--timeout", "10",
                            "--attempt-timeout", "2", "--format", "json", env=env, timeout=30)
    assert result.returncode == 1, result.describe()
    check = result.check("gcp.credentials")
    assert (check["status"], check["attempts"]) == ("fail", 1), check
    assert "GOOGLE_APPLICATION_CREDENTIALS" in check["message"] + check["remediation"], check
    assert "metadata" not in (check["message"] + check["remediation"]).lower(), check
    assert server.requests == [], "the metadata server was consulted"
    assert result.wall < 8, result.describe()


# ================================================================================ signals

@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_dependency_hung(request: pytest.FixtureRequest, case: Case,
                                      signum: int, code: int) -> None:
    env = case.firestore_env()
    running = case.stack.start(*args(RECOVERY_TIMEOUT), env=env)
    case.stack.firestore.pause()
    running.wait_for_attempt_failure("firestore.access", RECOVERY_TIMEOUT)
    sent = time.monotonic()
    running.send_signal(signum)
    name = signal.Signals(signum).name
    result = judge(request, case, dependency=SIGNALS, fault=f"{name} mid-run",
                   how=f"{name} while the Firestore emulator is SIGSTOPped", running=running,
                   timeout=RECOVERY_TIMEOUT, bound=(sent - running.started_at) + GRACE,
                   expect=Expect(code, {"firestore.access": {"error"}}))
    assert result.verdict is not None and result.verdict["interrupted"] is True
    assert result.verdict["status"] == "fail"
