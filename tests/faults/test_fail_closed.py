"""Fail closed: an exception anywhere at a client's transport edge is an error, never a pass.

The failure is injected inside the real preflight process by a `sitecustomize` module (on
PYTHONPATH) that patches the *client library* right after it is imported — gRPC's channel
(Firestore), botocore's HTTP session (S3), google-auth's requests transport (credentials).
None of preflight's own functions is patched: whatever preflight does with the exception is
what is tested.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.faults import results, tools
from tests.faults.common import Canaries, audit, require_verdict

pytestmark = pytest.mark.integration

SITECUSTOMIZE = '''
"""Test-only fault injection at a client library's transport edge (tests/faults)."""
import importlib.abc
import os
import sys

FAULT = os.environ.get("PREFLIGHT_TEST_INJECT", "")
TARGETS = {"grpc": "grpc._channel", "botocore": "botocore.httpsession",
           "google-auth": "google.auth.transport.requests"}
EDGE, _, KIND = FAULT.partition(":")


def boom(*_args, **_kwargs):
    if KIND == "SystemExit":
        raise SystemExit("injected: the transport called exit")
    if KIND == "KeyError":
        raise KeyError("injected")
    raise RuntimeError("injected: the transport exploded")


def garbage(*_args, **_kwargs):
    return iter([object(), object()])


def patch(module):
    replacement = garbage if KIND == "garbage" else boom
    if EDGE == "grpc":
        for name in ("_UnaryStreamMultiCallable", "_SingleThreadedUnaryStreamMultiCallable",
                     "_UnaryUnaryMultiCallable"):
            if hasattr(module, name):
                setattr(getattr(module, name), "__call__", replacement)
    elif EDGE == "botocore":
        module.URLLib3Session.send = boom
    elif EDGE == "google-auth":
        module.Request.__call__ = boom


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGETS.get(EDGE):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        original = spec.loader.exec_module

        def exec_module(module):
            original(module)
            patch(module)

        spec.loader.exec_module = exec_module
        return spec


if EDGE in TARGETS:
    sys.meta_path.insert(0, Finder())
'''

CASES = [
    # (edge, kind, check that meets it, how preflight gets there)
    ("grpc", "RuntimeError", "firestore.access", "emulator"),
    ("grpc", "SystemExit", "firestore.access", "emulator"),
    ("grpc", "garbage", "firestore.access", "emulator"),
    # STS is botocore's first call: aws.credentials meets the broken session before s3.bucket.
    ("botocore", "RuntimeError", "aws.credentials", "emulator"),
    ("botocore", "KeyError", "aws.credentials", "emulator"),
    ("google-auth", "RuntimeError", "gcp.credentials", "key file"),
]
DESCRIPTION = {
    "grpc": "gRPC channel (Firestore)",
    "botocore": "botocore HTTP session (STS, S3)",
    "google-auth": "google-auth requests transport (token)",
}


@pytest.mark.parametrize(("edge", "kind", "check", "route"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_transport_failure_is_an_error_and_a_nonzero_exit(
        request: pytest.FixtureRequest, stack: Stack, canaries: Canaries, tmp_path: Path,
        edge: str, kind: str, check: str, route: str) -> None:
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(SITECUSTOMIZE)
    stack.seed(canaries.registry())
    env = stack.env(**canaries.env(s3_endpoint=stack.s3_endpoint))
    env.update(PYTHONPATH=str(inject), PREFLIGHT_TEST_INJECT=f"{edge}:{kind}")
    if route == "key file":
        env.pop("FIRESTORE_EMULATOR_HOST")
        env["GCP_PROJECT_ID"] = "dummy-project"
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(canaries.key_file(
            tmp_path / "key.json", "http://127.0.0.1:9/token"))
        env["grpc_proxy"] = f"http://127.0.0.1:{tools.closed_port()}"
    result = stack.run("--format", "json", "--timeout", "4", "--attempt-timeout", "1",
                       env=env)
    verdict = require_verdict(result)
    found = result.check(check)
    ok = found["status"] == "error" and result.returncode == 1 and verdict["status"] == "fail"
    results.record("fail_closed", edge=DESCRIPTION[edge], injected=kind, check=check,
                   status=found["status"], exit_code=result.returncode, ok=ok)
    audit(result, canaries, request.node.name)
    assert found["status"] == "error", f"{found}\n{result.describe()}"
    assert ("injected" if kind != "garbage" else "object") in found["message"], found
    assert found.get("transient") is False, found  # a bug is not 'not ready'
    assert result.returncode == 1, result.describe()
    assert "Traceback" not in result.stdout
    assert result.wall < 4 + 1, result.describe()
