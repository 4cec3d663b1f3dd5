"""The AWS probes and aws.credentials, end to end: the real `preflight check` on the Firestore
emulator and moto (issue 19, items 5 and 6).

- aws.credentials runs whenever a check will use AWS: with RAW_BUCKET unset it reads the
  routes (after firestore.access) and runs for an S3 or DynamoDB route the engines use; it
  is skipped only when nothing uses AWS.
- A credential helper that fails — a real `credential_process` script exiting 3, a
  container credentials endpoint answering 403 — is judged by the probes exactly as
  aws.credentials judges it: a credentials finding with its fix, never "a bug in
  preflight's probe", never a permission to grant.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.judge.aws import LOCAL_FIXES
from tests import harness, seed, servers
from tests.conftest import Stack
from tests.faults import tools

pytestmark = pytest.mark.integration

SERVED = seed.SERVED
AWS_ROUTES = {"notes_store": ("dynamodb", {"table_name": "tabular_store"}),
              "object_store": ("s3", {"bucket": "some-probe-bucket"})}
ROUTES = (f"notes_store-{SERVED.replace('/', '-')}", f"object_store-{SERVED.replace('/', '-')}")


@pytest.fixture
def durable(redis_server: servers.Server) -> dict[str, str]:
    return {**harness.first_use_healthy_env(redis_server.port),
            "PRIVACY_BACKEND": "firestore", "THREE_WISE_BACKEND": "firestore"}


def run(stack: Stack, env: dict[str, str | None], *args: str) -> harness.Result:
    return stack.run("--serve-scope", SERVED, "--timeout", "20", *args, env=stack.env(**env))


def probe_items(result: harness.Result) -> dict[str, dict[str, str]]:
    details = result.check("backends.reachable")["details"]
    return {item["origin"].split("`")[1]: item for item in details["results"]
            if "`" in item["origin"]}


def test_aws_credentials_runs_for_aws_routes_without_a_bucket(
        stack: Stack, durable: dict[str, str]) -> None:
    stack.seed(seed.serving_registry(**AWS_ROUTES))
    result = run(stack, {**durable, "RAW_BUCKET": None})
    assert result.status("aws.credentials") == "pass", result.describe()
    assert "arn:aws:sts::" in result.check("aws.credentials")["message"]
    assert result.status("s3.bucket") == "fail"  # the contract still wants RAW_BUCKET


def test_aws_credentials_is_skipped_only_when_nothing_uses_aws(
        stack: Stack, durable: dict[str, str]) -> None:
    stack.seed(seed.serving_registry(object_store=("s3", {})))  # RAW_BUCKET unset: unbuildable
    result = run(stack, {**durable, "RAW_BUCKET": None})
    check = result.check("aws.credentials")
    assert check["status"] == "skipped", result.describe()
    assert check["message"] == ("nothing uses AWS: no bucket (--bucket) for s3.bucket, and no "
                                "route the engines use is on S3 or DynamoDB")
    off = run(stack, {**durable, "RAW_BUCKET": None}, "--no-probes")
    assert off.check("aws.credentials")["message"].startswith("nothing uses AWS")


@pytest.fixture
def failing_process(tmp_path: Path) -> Path:
    """An AWS config whose credential_process exits 3, as a broken helper does."""
    script = tmp_path / "credential-helper"
    script.write_text("#!/bin/sh\necho 'helper: token store unreachable' >&2\nexit 3\n")
    script.chmod(0o755)
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\ncredential_process = {script}\n")
    return config


@pytest.fixture
def refusing_container() -> Iterator[tools.FakeHTTP]:
    """A container credentials endpoint that refuses (403), as one for another role does."""
    endpoint = tools.FakeHTTP(lambda _m, _p: tools.Reply(403, {"message": "not associated"}))
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.mark.parametrize("helper", ["credential_process", "container endpoint"])
def test_a_failing_credential_helper_is_a_credentials_finding(
        stack: Stack, durable: dict[str, str], failing_process: Path,
        refusing_container: tools.FakeHTTP, tmp_path: Path, helper: str) -> None:
    chain: dict[str, str | None] = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
                                    "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    if helper == "credential_process":
        chain |= {"AWS_CONFIG_FILE": str(failing_process)}
        code = "CredentialProcessFailed"
    else:
        chain |= {"AWS_CONFIG_FILE": str(tmp_path / "none"),
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{refusing_container.url}/creds"}
        code = "ContainerEndpointRefused"
    stack.seed(seed.serving_registry(**AWS_ROUTES))
    result = run(stack, {**durable, **chain, "RAW_BUCKET": None})
    credentials = result.check("aws.credentials")
    assert credentials["status"] == "fail", result.describe()
    assert credentials["details"]["error_code"] == code
    items = probe_items(result)
    for route in ROUTES:
        item = items[route]
        assert item["status"] == "fail", item
        assert code in item["message"], item
        assert item["fix"] == LOCAL_FIXES[code] == credentials["remediation"]
        assert "bug" not in item["message"] + item["fix"]
        assert not any(word in item["fix"] for word in ("allow ", "grant ", "s3:", "dynamodb:"))
