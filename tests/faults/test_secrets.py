"""Secrets: canaries planted in every input channel never appear in any output.

The `canaries` fixture (conftest.py / common.Canaries) holds distinct secrets for route
`config` values, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, a service-account private key and
key id, and URLs with passwords in the environment. Every scenario here — passing, failing,
transient, with client-library exceptions in the messages, text and JSON formats, debug
logs — is audited: stdout, stderr, the verdict file, the termination log and every file the
run left behind. The fault matrix audits each of its runs the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import harness
from tests.conftest import Stack
from tests.faults import tools
from tests.faults.common import Canaries, audit, require_verdict

pytestmark = pytest.mark.integration

FAST = ["--timeout", "2", "--attempt-timeout", "1"]


def _env(stack: Stack, canaries: Canaries, **extra: str | None) -> dict[str, str]:
    return harness.overridden(stack.env(**canaries.env(s3_endpoint=stack.s3_endpoint)), extra)


@pytest.mark.parametrize("output", ["json", "text"])
def test_passing_run_prints_no_secret(request: pytest.FixtureRequest, stack: Stack,
                                      canaries: Canaries, output: str) -> None:
    stack.seed(canaries.registry())
    result = stack.run("--format", output, "--log-level", "debug",
                       env=_env(stack, canaries))
    require_verdict(result)
    assert result.returncode == 0, result.describe()
    audit(result, canaries, request.node.name)


def test_broken_registry_prints_no_config(request: pytest.FixtureRequest, stack: Stack,
                                          canaries: Canaries) -> None:
    """Invalid, refused, conflicting and near-miss documents, all carrying canary config."""
    docs = canaries.registry()
    docs["kpi-t_system-dev"]["backend_type"] = " MEMORY "
    docs["seo-t_system-dev"]["required"] = canaries.route_config  # wrong type, canary value
    docs["memory-t_system-dev"]["config"] = canaries.route_config  # config not a map
    twin = dict(docs["budget-t_system-dev"])
    twin["config"] = {"root": "/elsewhere", "secret": canaries.route_config_password}
    docs["budget#t_system#dev"] = twin  # conflicting duplicate: configs differ
    near = dict(docs.pop("timeline-t_system-dev"))
    del near["project_id"]  # the engines' lookup misses it: a hint names the document
    docs["timeline-t_system-dev"] = near
    stack.seed(docs)
    for output in ("json",):
        result = stack.run("--format", output, env=_env(stack, canaries))
        verdict = require_verdict(result)
        assert result.returncode == 1, result.describe()
        scope = result.scope("t_system/dev")
        assert "kpi" in scope["refused"] and "budget" in scope["duplicates"], scope
        assert {"seo-t_system-dev", "memory-t_system-dev"} <= set(scope["invalid"]), scope
        assert scope["missing"] == ["timeline"], scope
        assert verdict["status"] == "fail"
        audit(result, canaries, f"{request.node.name}[{output}]")


def test_env_urls_with_passwords_are_shown_without_them(request: pytest.FixtureRequest,
                                                        stack: Stack,
                                                        canaries: Canaries) -> None:
    """env.policy shows the offending values; the password inside them never."""
    stack.seed(canaries.registry())
    user = "u" + canaries.env_url_password[-6:]
    canaries.channels.add("engines variables holding URLs with passwords")
    env = _env(stack, canaries,
               NEXUS_BACKEND=f"https://{user}:{canaries.env_url_password}@nexus.example/x",
               FEATURE_FLAGS_BACKEND=f"redis://:{canaries.env_url_password}@flags:6379/0",
               ROUTING_REGISTRY_BACKEND=f"firestore://{user}:{canaries.env_url_password}@x")
    result = stack.run("--format", "json", env=env)
    require_verdict(result)
    assert result.returncode == 1, result.describe()
    violations = result.check("env.policy")["details"]["violations"]
    assert {v["variable"] for v in violations} >= {"NEXUS_BACKEND", "FEATURE_FLAGS_BACKEND",
                                                   "ROUTING_REGISTRY_BACKEND"}
    shown = {v["variable"]: v["value"] for v in violations}
    assert "nexus.example" in shown["NEXUS_BACKEND"], shown  # still useful to a human
    audit(result, canaries, request.node.name)


def test_client_exceptions_with_credentials_in_urls(request: pytest.FixtureRequest,
                                                    stack: Stack, canaries: Canaries) -> None:
    """botocore puts the endpoint URL (with its user info) in its errors and in the logs."""
    stack.seed(canaries.registry())
    endpoint = f"http://127.0.0.1:{tools.closed_port()}"
    env = stack.env(**canaries.env(s3_endpoint=endpoint))
    for output in ("text",):
        result = stack.run("--format", output, *FAST, env=env)
        require_verdict(result)
        assert result.returncode == 3, result.describe()
        assert "127.0.0.1" in result.check("s3.bucket")["message"]
        audit(result, canaries, f"{request.node.name}[{output}]")


def _google(stack: Stack, canaries: Canaries, key: Path) -> dict[str, str]:
    return _env(stack, canaries, FIRESTORE_EMULATOR_HOST=None,
                GCP_PROJECT_ID="dummy-project", GOOGLE_APPLICATION_CREDENTIALS=str(key),
                CLOUDSDK_CONFIG=str(key.parent / "gcloud"),
                grpc_proxy=f"http://127.0.0.1:{tools.closed_port()}")


@pytest.mark.parametrize("mode", ["invalid_grant", "500"])
def test_service_account_key_never_printed(request: pytest.FixtureRequest, stack: Stack,
                                           canaries: Canaries, tmp_path: Path,
                                           mode: str) -> None:
    token = tools.FakeHTTP(tools.token_endpoint(mode))
    try:
        key = canaries.key_file(tmp_path / "key.json", f"{token.url}/token")
        result = stack.run("--format", "json", "--log-level", "debug", *FAST,
                           env=_google(stack, canaries, key))
    finally:
        token.stop()
    require_verdict(result)
    assert result.returncode in (1, 3), result.describe()
    assert result.status("gcp.credentials") in ("fail", "error")
    audit(result, canaries, f"{request.node.name}")


def test_malformed_key_never_printed(request: pytest.FixtureRequest, stack: Stack,
                                     canaries: Canaries, tmp_path: Path) -> None:
    """The library's error about an unparsable key must not quote the key."""
    lines = canaries.private_key.splitlines()
    broken = "\n".join([lines[0], *lines[1:-1][::-1], lines[-1]]) + "\n"  # reordered body
    key = canaries.key_file(tmp_path / "key.json", "http://127.0.0.1:9/token",
                            private_key=broken)
    result = stack.run("--format", "text", *FAST, env=_google(stack, canaries, key))
    require_verdict(result)
    assert result.returncode == 1, result.describe()
    assert result.status("gcp.credentials") == "fail"
    audit(result, canaries, request.node.name)


def test_key_material_as_plain_values(request: pytest.FixtureRequest, stack: Stack,
                                      canaries: Canaries, tmp_path: Path) -> None:
    """A key file that is not even PEM: the raw canary stands where the key should be."""
    key = canaries.key_file(tmp_path / "key.json", "http://127.0.0.1:9/token",
                            private_key=canaries.private_key_id)
    result = stack.run("--format", "json", *FAST, env=_google(stack, canaries, key))
    require_verdict(result)
    assert result.returncode == 1, result.describe()
    audit(result, canaries, request.node.name)


@pytest.mark.parametrize("user", ["routing", "preflight"])
def test_url_user_name_does_not_corrupt_the_verdict(stack: Stack, canaries: Canaries,
                                                    user: str) -> None:
    stack.seed(canaries.registry())
    env = _env(stack, canaries,
               ENGINES_DATABASE_URL=f"postgresql://{user}:{canaries.env_url_password}@db/e")
    result = stack.run("--format", "json", env=env)
    verdict = require_verdict(result)
    assert result.returncode == 0
    assert {c["name"] for c in verdict["checks"]} == set(harness.CHECK_NAMES)

