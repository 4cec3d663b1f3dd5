"""Definitive refusals end to end, through the real clients against real local servers.

- Firestore PERMISSION_DENIED: the emulator enforces security rules on requests without its
  owner token; a gRPC forwarder (tests/grpc_forwarder.py) drops the token the Python client
  sends, and the project's rules deny reads.
- S3 403: a moto server of its own, with IAM enforced (moto's /moto-api/reset-auth after the
  set-up): an unknown access key, and a known user without S3 permissions.

Each must be a definitive `fail` with the right fix after one attempt, long before the
deadline: never retried until it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests import harness, servers
from tests.conftest import Stack
from tests.grpc_forwarder import HeaderDroppingForwarder

pytestmark = pytest.mark.integration

DEADLINE = 20.0
AT_ONCE = 10.0  # a definitive refusal: one attempt, well before the deadline
DENY_ALL = ("rules_version = '2';\nservice cloud.firestore {\n  match /databases/{database}/"
            "documents {\n    match /{document=**} {\n      allow read, write: if false;\n"
            "    }\n  }\n}\n")
ALLOW_READ = DENY_ALL.replace("allow read, write: if false;", "allow read: if true;")


def put_rules(address: str, project: str, rules: str) -> None:
    body = json.dumps({"rules": {"files": [{"name": "firestore.rules",
                                            "content": rules}]}}).encode()
    request = urllib.request.Request(
        f"http://{address}/emulator/v1/projects/{project}:securityRules", data=body,
        method="PUT", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@pytest.fixture
def without_owner_token(stack: Stack) -> Iterator[HeaderDroppingForwarder]:
    forwarder = HeaderDroppingForwarder(stack.firestore.address)
    try:
        yield forwarder
    finally:
        forwarder.stop()


def assert_refused_at_once(result: harness.Result, check: str) -> dict[str, Any]:
    assert result.returncode == 1, result.describe()
    found = result.check(check)
    assert found["status"] == "fail", found
    assert found["attempts"] == 1, found
    assert not [e for e in result.logs if e.get("message") == "check attempt failed"
                and e.get("check") == check], "a definitive refusal was retried"
    assert result.wall < AT_ONCE, f"{result.wall:.1f}s of a {DEADLINE:g}s deadline"
    return found


def test_firestore_permission_denied_is_a_definitive_fail(
        stack: Stack, without_owner_token: HeaderDroppingForwarder) -> None:
    stack.seed()
    put_rules(stack.firestore.address, stack.project, DENY_ALL)
    env = stack.env(FIRESTORE_EMULATOR_HOST=without_owner_token.address)
    result = stack.run("--timeout", f"{DEADLINE:g}", env=env, timeout=DEADLINE + 15)
    access = assert_refused_at_once(result, "firestore.access")
    assert access["details"]["error"] == "PermissionDenied", access
    assert "permission denied" in access["message"]
    assert access["remediation"] == (f"grant the workload's service account "
                                     f"roles/datastore.viewer on project {stack.project}")
    routing = result.check("routing.entries")
    assert (routing["status"], routing["transient"]) == ("error", False), routing
    assert routing["details"]["blocked_by"] == "firestore.access"
    assert "RunQuery" in without_owner_token.calls


def test_the_forwarder_alone_does_not_refuse(
        stack: Stack, without_owner_token: HeaderDroppingForwarder) -> None:
    """Control: with rules that allow reads, the same path passes."""
    stack.seed()
    put_rules(stack.firestore.address, stack.project, ALLOW_READ)
    env = stack.env(FIRESTORE_EMULATOR_HOST=without_owner_token.address)
    result = stack.run("--timeout", f"{DEADLINE:g}", env=env, timeout=DEADLINE + 15)
    assert result.returncode == 0, result.describe()
    assert result.scope("t_system/dev")["routed"] == 17


# ------------------------------------------------------------------------------- S3 403

@dataclass
class Principal:
    key_id: str
    secret: str


@dataclass
class GuardedS3:
    """A moto server enforcing IAM, its bucket, and principals with known permissions."""

    server: servers.Server
    bucket: str
    reader: Principal  # may read the bucket
    stranger: Principal  # a real user, without any S3 permission

    @property
    def endpoint(self) -> str:
        return f"http://{self.server.address}"


def _user(iam: Any, name: str, policy: dict[str, Any]) -> Principal:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy",
                        PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Principal(key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="module")
def guarded_s3() -> Iterator[GuardedS3]:
    import boto3

    server = servers.s3_server()
    server.start()
    try:
        endpoint = f"http://{server.address}"
        bucket = "guarded-raw-bucket"
        boto3.client("s3", endpoint_url=endpoint, region_name=harness.AWS_REGION,
                     aws_access_key_id=harness.AWS_KEY_ID,
                     aws_secret_access_key=harness.AWS_SECRET).create_bucket(Bucket=bucket)
        iam = boto3.client("iam", endpoint_url=endpoint, region_name=harness.AWS_REGION,
                           aws_access_key_id=harness.AWS_KEY_ID,
                           aws_secret_access_key=harness.AWS_SECRET)
        reader = _user(iam, "reader", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
        stranger = _user(iam, "stranger", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]})
        # From now on every request must be signed by a known key and be allowed.
        request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0",
                                         method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        yield GuardedS3(server, bucket, reader, stranger)
    finally:
        server.stop()


def s3_run(stack: Stack, guarded: GuardedS3, key_id: str, secret: str) -> harness.Result:
    env = stack.env(AWS_ENDPOINT_URL_S3=guarded.endpoint, RAW_BUCKET=guarded.bucket,
                    AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
    return stack.run("--only", "s3.bucket", "--timeout", f"{DEADLINE:g}", env=env,
                     timeout=DEADLINE + 15)


def test_s3_with_permission_passes(stack: Stack, guarded_s3: GuardedS3) -> None:
    """Control: IAM is enforced, and a principal allowed to read the bucket passes."""
    result = s3_run(stack, guarded_s3, guarded_s3.reader.key_id, guarded_s3.reader.secret)
    assert result.returncode == 0, result.describe()
    assert result.status("s3.bucket") == "pass"


def test_s3_403_for_a_principal_without_permission(stack: Stack,
                                                   guarded_s3: GuardedS3) -> None:
    result = s3_run(stack, guarded_s3, guarded_s3.stranger.key_id,
                    guarded_s3.stranger.secret)
    check = assert_refused_at_once(result, "s3.bucket")
    assert check["details"]["http_status"] == 403
    assert check["details"]["error_code"] == "AccessDenied", check
    assert check["remediation"] == (
        f"allow s3:ListBucket on arn:aws:s3:::{guarded_s3.bucket} (and the engines' object "
        "calls) for the workload's role"), check


def test_s3_403_for_an_unknown_access_key(stack: Stack, guarded_s3: GuardedS3) -> None:
    result = s3_run(stack, guarded_s3, "AKIAPREFLIGHTUNKNOWN", "not-a-known-secret-key")
    check = assert_refused_at_once(result, "s3.bucket")
    assert check["details"]["http_status"] == 403
    assert check["details"]["error_code"] == "InvalidAccessKeyId", check
    assert "access key" in check["message"], check
    assert "AWS_ACCESS_KEY_ID" in check["remediation"], check
    assert "s3:ListBucket" not in check["remediation"], "not a permission problem"


def test_s3_403_for_a_wrong_secret(stack: Stack, guarded_s3: GuardedS3) -> None:
    result = s3_run(stack, guarded_s3, guarded_s3.reader.key_id, "a-wrong-secret-key-value")
    check = assert_refused_at_once(result, "s3.bucket")
    assert check["details"]["error_code"] == "SignatureDoesNotMatch", check
    assert "AWS_SECRET_ACCESS_KEY" in check["remediation"], check
