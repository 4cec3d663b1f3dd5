"""aws.credentials end to end: the real `preflight check` against moto's STS server.

Every credential mode the chain knows is played with real parts: keys in the environment,
a web identity token file, shared profiles, a container credentials endpoint (a loopback
stand-in), preflight's own Cloud Run provider (the metadata server stand-in, then moto's
AssumeRoleWithWebIdentity), and `preflight aws-credentials` as a credential_process used
by a plain boto3 client, as the engines use it. Then what must not pass: no credentials,
STS unreachable or hung, the metadata server down / failing / hung, and refusals — from a
moto server that enforces IAM (unknown key, wrong secret) and, for the refusals moto cannot
produce (it accepts any web identity token), from an STS stand-in that answers with STS's
own error documents.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests import harness, servers
from tests.faults import tools
from tests.metadata_server import (
    ISSUER,
    SA_EMAIL,
    SA_UNIQUE_ID,
    MetadataServer,
    certs,
    mint,
)

ROLE = "arn:aws:iam::123456789012:role/engines-raw"
ACCOUNT = "123456789012"
REGION = "us-east-1"
GRACE = 4.0  # seconds past a deadline a run may take to start, write its verdict and exit
TRANSIENT = ("--timeout", "6", "--attempt-timeout", "1")  # room for several attempts
ONLY = ("--only", "aws.credentials", "--only", "s3.bucket")


# --------------------------------------------------------------------------- fixtures

@dataclass
class Aws:
    """A bucket on the shared moto server, a private HOME, and preflight runs against them."""

    moto: servers.Server
    bucket: str
    tmp: Path

    @property
    def endpoint(self) -> str:
        return f"http://{self.moto.address}"

    def env(self, **overrides: str | None) -> dict[str, str]:
        """No credentials at all unless a test adds some; every endpoint is moto."""
        home = self.tmp / "home"
        home.mkdir(exist_ok=True)
        env = harness.minimal_env(home) | {
            "RAW_BUCKET": self.bucket,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ENDPOINT_URL_STS": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.tmp / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.tmp / "no-aws-credentials"),
        }
        return harness.overridden(env, overrides)

    def keys(self, **overrides: str | None) -> dict[str, str]:
        return self.env(AWS_ACCESS_KEY_ID=harness.AWS_KEY_ID,
                        AWS_SECRET_ACCESS_KEY=harness.AWS_SECRET, **overrides)

    def run(self, env: dict[str, str], *args: str, timeout: float = 30.0) -> harness.Result:
        return harness.run_preflight([*ONLY, *args], env, timeout, workdir=self.tmp / "runs")

    def assumed(self, session_name: str) -> int:
        """AssumeRole* exchanges moto has answered for this role session name."""
        return len(assumed_roles(self.moto.address, session_name))

    def issued_secrets(self, session_name: str) -> list[str]:
        """The secret keys and session tokens moto handed out for this session name."""
        return [role[key] for role in assumed_roles(self.moto.address, session_name)
                for key in ("secret_access_key", "session_token")]


def assumed_roles(address: str, session_name: str) -> list[dict[str, Any]]:
    import urllib.request

    with urllib.request.urlopen(f"http://{address}/moto-api/data.json", timeout=10) as answer:
        data = json.load(answer)
    return [role for role in data.get("sts", {}).get("AssumedRole", [])
            if role.get("session_name") == session_name]


@pytest.fixture
def aws(s3_server: servers.Server, tmp_path: Path) -> Iterator[Aws]:
    s3_server.resume()
    if s3_server.process is None or s3_server.process.poll() is not None:
        s3_server.stop()
        s3_server.start()
    bucket = f"aws-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=f"http://{s3_server.address}", region_name=REGION,
                          aws_access_key_id="setup", aws_secret_access_key="setup-secret")
    client.create_bucket(Bucket=bucket)
    try:
        yield Aws(s3_server, bucket, tmp_path)
    finally:
        s3_server.resume()  # a test may have SIGSTOPped it
        with contextlib.suppress(Exception):
            client.delete_bucket(Bucket=bucket)


@pytest.fixture
def metadata() -> Iterator[MetadataServer]:
    with MetadataServer() as server:
        yield server


def session_name() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"


def cloud_run(aws: Aws, metadata: MetadataServer, name: str, **overrides: str) -> dict[str, str]:
    """preflight's own provider on: the environment a Cloud Run service would give it."""
    return aws.env(PREFLIGHT_AWS_WEB_IDENTITY="gcp", AWS_ROLE_ARN=ROLE,
                   AWS_ROLE_SESSION_NAME=name, **metadata.env(), **overrides)


def passed(result: harness.Result) -> dict[str, Any]:
    check = result.check("aws.credentials")
    assert check["status"] == "pass", result.describe()
    assert check["attempts"] == 1, check
    assert result.status("s3.bucket") == "pass", result.describe()
    assert result.returncode == 0, result.describe()
    return check


def secrets_absent(result: harness.Result, *values: str) -> None:
    everything = result.everything()
    for value in values:
        assert value not in everything, "a credential reached preflight's output"


# --------------------------------------------------------------------------- every mode

@pytest.mark.parametrize("endpoints", ["per service", "one for all"])
def test_environment_keys(aws: Aws, endpoints: str) -> None:
    """botocore's endpoint variables: AWS_ENDPOINT_URL_STS, or AWS_ENDPOINT_URL for all."""
    env = aws.keys() if endpoints == "per service" else aws.keys(
        AWS_ENDPOINT_URL_S3=None, AWS_ENDPOINT_URL_STS=None, AWS_ENDPOINT_URL=aws.endpoint)
    check = passed(aws.run(env))
    assert check["details"]["source"] == "env"
    assert check["details"]["principal"] == f"arn:aws:sts::{ACCOUNT}:user/moto"
    assert check["details"]["account"] == ACCOUNT
    assert check["details"]["sts_endpoint"] == aws.endpoint
    assert check["message"].endswith("from environment keys (AWS_ACCESS_KEY_ID)")


def test_web_identity_token_file(aws: Aws) -> None:
    """GKE keyless: a projected token file, AWS_ROLE_ARN; botocore's own provider."""
    name = session_name()
    token = mint({"iss": "https://container.googleapis.com/v1/projects/p/locations/l/"
                         "clusters/c", "sub": "system:serviceaccount:engines:engines",
                  "aud": ["sts.amazonaws.com"], "exp": int(time.time()) + 3600,
                  "iat": int(time.time())})
    token_file = aws.tmp / "token"
    token_file.write_text(token)
    result = aws.run(aws.env(AWS_ROLE_ARN=ROLE, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
                             AWS_ROLE_SESSION_NAME=name))
    check = passed(result)
    assert check["details"]["source"] == "assume-role-with-web-identity"
    assert check["details"]["principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/engines-raw/" \
                                            f"{name}"
    assert check["details"]["role_arn"] == ROLE
    assert aws.assumed(name) == 1
    secrets_absent(result, token)


@pytest.mark.parametrize(("where", "source"), [
    ("credentials", "shared-credentials-file"),
    ("config", "config-file"),
    ("named profile", "shared-credentials-file"),
])
def test_shared_profile(aws: Aws, where: str, source: str) -> None:
    profile = "engines" if where == "named profile" else "default"
    keys = (f"aws_access_key_id = {harness.AWS_KEY_ID}\n"
            f"aws_secret_access_key = {harness.AWS_SECRET}\n")
    credentials = aws.tmp / "credentials"
    config = aws.tmp / "config"
    if where == "config":
        config.write_text(f"[default]\nregion = {REGION}\n{keys}")
    else:
        credentials.write_text(f"[{profile}]\n{keys}")
        config.write_text(f"[{'default' if profile == 'default' else 'profile ' + profile}]\n"
                          f"region = {REGION}\n")
    env = aws.env(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials),
                  AWS_PROFILE=profile if profile != "default" else None)
    result = aws.run(env)
    check = passed(result)
    assert check["details"]["source"] == source
    secrets_absent(result, harness.AWS_SECRET)


class ContainerEndpoint:
    """The ECS / EKS Pod Identity agent's credentials endpoint, on a loopback port."""

    TOKEN = "container-auth-token-0123456789"

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.seen: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                endpoint.seen.append({k.lower(): v for k, v in self.headers.items()})
                expires = datetime.fromtimestamp(time.time() + 3600, UTC)
                body = json.dumps({
                    "AccessKeyId": harness.AWS_KEY_ID, "SecretAccessKey": harness.AWS_SECRET,
                    "Token": "container-session-token",
                    "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
                authorised = self.headers.get("Authorization") == ContainerEndpoint.TOKEN
                status = endpoint.status if authorised else 403
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v2/credentials/it"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def container_endpoint() -> Iterator[ContainerEndpoint]:
    endpoint = ContainerEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.stop()


def test_container_credentials_endpoint(aws: Aws, container_endpoint: ContainerEndpoint) -> None:
    env = aws.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=container_endpoint.url,
                  AWS_CONTAINER_AUTHORIZATION_TOKEN=ContainerEndpoint.TOKEN)
    result = aws.run(env)
    check = passed(result)
    assert check["details"]["source"] == "container-role"
    assert container_endpoint.seen
    assert container_endpoint.seen[0]["authorization"] == ContainerEndpoint.TOKEN
    secrets_absent(result, ContainerEndpoint.TOKEN, harness.AWS_SECRET)


def test_container_endpoint_refusing_is_definitive(aws: Aws,
                                                   container_endpoint: ContainerEndpoint) -> None:
    env = aws.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=container_endpoint.url,
                  AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong-token-value")
    result = aws.run(env)
    check = result.check("aws.credentials")
    assert (check["status"], check["attempts"], result.returncode) == ("fail", 1, 1), \
        result.describe()
    assert check["details"]["error_code"] == "ContainerEndpointRefused"
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" in check["remediation"]


def test_cloud_run_provider(aws: Aws, metadata: MetadataServer) -> None:
    """Keyless Cloud Run: the metadata server's ID token, exchanged with moto's STS."""
    name = session_name()
    result = aws.run(cloud_run(aws, metadata, name))
    check = passed(result)
    details = check["details"]
    assert details["source"] == "gcp-web-identity"
    assert details["principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/engines-raw/{name}"
    assert details["role_arn"] == ROLE
    assert details["token_claims"] == {"iss": ISSUER, "aud": "sts.amazonaws.com",
                                       "azp": SA_UNIQUE_ID, "sub": SA_UNIQUE_ID,
                                       "email": SA_EMAIL}
    # One ID token, asked for as documented, and one exchange: no needless refresh.
    (identity,) = [seen for seen in metadata.requests if seen.kind == "identity"]
    assert identity.query == {"audience": ["sts.amazonaws.com"], "format": ["full"]}
    assert identity.headers["metadata-flavor"] == "Google"
    assert metadata.count("identity") == 1
    assert aws.assumed(name) == 1
    # The token is a real Google-shaped JWT (verifiable with the stand-in's key)...
    import google.auth.jwt

    claims = google.auth.jwt.decode(metadata.issued[0], certs=certs(),
                                    audience="sts.amazonaws.com")
    assert claims["iss"] == ISSUER
    # ...and a bearer credential that no output may carry, no more than what STS returned.
    secrets_absent(result, *metadata.issued, *aws.issued_secrets(name))


def test_cloud_run_provider_slow_metadata_server_within_the_attempt_timeout(
        aws: Aws, metadata: MetadataServer) -> None:
    """Slow is not down: an answer inside the attempt timeout is waited for, once."""
    metadata.delay = 0.5
    result = aws.run(cloud_run(aws, metadata, session_name()), "--attempt-timeout", "3")
    passed(result)
    assert metadata.count("identity") == 1


def test_cloud_run_provider_custom_audience(aws: Aws, metadata: MetadataServer) -> None:
    result = aws.run(cloud_run(aws, metadata, session_name(),
                               PREFLIGHT_AWS_AUDIENCE="https://aws.example/engines"))
    check = passed(result)
    assert check["details"]["token_claims"]["aud"] == "https://aws.example/engines"


def test_cloud_run_provider_refreshes_within_one_run(aws: Aws, metadata: MetadataServer) -> None:
    """15-minute sessions sit inside botocore's 15-minute refresh window: the second use of
    the credentials (s3.bucket, after aws.credentials) refreshes them, with a new token."""
    name = session_name()
    result = aws.run(cloud_run(aws, metadata, name, PREFLIGHT_AWS_SESSION_DURATION="900"))
    passed(result)
    assert metadata.count("identity") == 2
    assert aws.assumed(name) == 2
    assert len(metadata.issued) == 2


def credential_process_config(aws: Aws, name: str, *extra: str) -> Path:
    command = shlex.join(harness.preflight_argv("aws-credentials", "--role-arn", ROLE,
                                                "--session-name", name, "--timeout", "5",
                                                *extra))
    config = aws.tmp / "aws-config"
    config.write_text(f"[default]\nregion = {REGION}\ncredential_process = {command}\n")
    return config


ENGINES_CLIENT = """
import json, os, boto3
session = boto3.session.Session()
identity = session.client("sts").get_caller_identity()
session.client("s3").head_bucket(Bucket=os.environ["RAW_BUCKET"])
print(json.dumps({"arn": identity["Arn"],
                  "method": session.get_credentials().method}))
"""


def test_credential_process_for_the_engines_boto3(aws: Aws, metadata: MetadataServer) -> None:
    """What the engines do on Cloud Run: plain boto3, AWS_CONFIG_FILE, nothing else."""
    name = session_name()
    config = credential_process_config(aws, name)
    env = aws.env(AWS_CONFIG_FILE=str(config), **metadata.env())
    done = harness.run_command([sys.executable, "-c", ENGINES_CLIENT], env, timeout=60,
                               cwd=aws.tmp)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer == {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/engines-raw/{name}",
                      "method": "custom-process"}
    assert not done.stderr
    assert metadata.count("identity") == 1
    assert aws.assumed(name) == 1

    # preflight, given the engines' environment, checks exactly that path.
    result = aws.run(env)
    check = passed(result)
    assert check["details"]["source"] == "custom-process"
    assert check["details"]["principal"].endswith(f"assumed-role/engines-raw/{name}")
    assert metadata.count("identity") == 2
    secrets_absent(result, *metadata.issued, *aws.issued_secrets(name))


# --------------------------------------------------------------------------- not passing

def test_no_credentials_is_a_definitive_fail_with_the_fix(aws: Aws) -> None:
    result = aws.run(aws.env())
    check = result.check("aws.credentials")
    assert (check["status"], check["attempts"], result.returncode) == ("fail", 1, 1), \
        result.describe()
    assert check["message"].startswith("no AWS credentials found")
    assert "PREFLIGHT_AWS_WEB_IDENTITY=gcp" in check["remediation"]
    assert "aws-web-identity" in check["remediation"]
    s3 = result.check("s3.bucket")
    assert (s3["status"], s3["details"]["blocked_by"]) == ("error", "aws.credentials")


def test_sts_at_a_closed_port_is_transient_until_the_deadline(aws: Aws) -> None:
    env = aws.keys(AWS_ENDPOINT_URL_STS=f"http://127.0.0.1:{harness.closed_port()}")
    result = aws.run(env, *TRANSIENT)
    check = result.check("aws.credentials")
    assert (check["status"], check["transient"], result.returncode) == ("error", True, 3), \
        result.describe()
    assert check["attempts"] >= 2
    assert "EndpointConnectionError" in check["message"]
    assert result.wall <= 6 + GRACE, result.describe()


def test_sts_hung_is_transient_within_the_deadline(aws: Aws) -> None:
    aws.moto.pause()
    try:
        result = aws.run(aws.keys(), *TRANSIENT, timeout=20)
    finally:
        aws.moto.resume()
    check = result.check("aws.credentials")
    assert (check["status"], check["transient"], result.returncode) == ("error", True, 3), \
        result.describe()
    assert "Timeout" in check["message"] or "no answer" in check["message"], check
    assert result.wall <= 6 + GRACE, result.describe()


@pytest.mark.parametrize("fault", ["down", "503", "408", "hang"])
def test_metadata_server_trouble_is_transient_not_no_credentials(
        aws: Aws, metadata: MetadataServer, fault: str) -> None:
    """408 and 429 as the one transient policy (observe/errors.py) says, 5xx too."""
    if fault == "down":
        metadata.down()
    elif fault.isdigit():
        metadata.fail(int(fault))
    else:
        metadata.hang()
    result = aws.run(cloud_run(aws, metadata, session_name()), *TRANSIENT, timeout=20)
    check = result.check("aws.credentials")
    assert (check["status"], check["transient"], result.returncode) == ("error", True, 3), \
        result.describe()
    assert "metadata server" in check["message"] or "no answer" in check["message"], check
    assert "no AWS credentials" not in check["message"]
    assert result.wall <= 6 + GRACE, result.describe()
    if fault == "503":
        # One try per attempt: google-auth's own retries (5, with sleeps) are not stacked.
        assert metadata.count("identity", status=503) == check["attempts"]


def test_missing_token_file_is_definitive(aws: Aws) -> None:
    result = aws.run(aws.env(AWS_ROLE_ARN=ROLE,
                             AWS_WEB_IDENTITY_TOKEN_FILE=str(aws.tmp / "nowhere" / "token")))
    check = result.check("aws.credentials")
    assert (check["status"], check["attempts"], result.returncode) == ("fail", 1, 1), \
        result.describe()
    assert check["details"]["error_code"] == "TokenFileUnreadable"
    assert "aws-web-identity" in check["remediation"]


def test_s3_compatible_endpoint_without_sts_is_skipped_and_s3_still_checks(aws: Aws) -> None:
    result = aws.run(aws.keys(AWS_ENDPOINT_URL_STS=None))
    check = result.check("aws.credentials")
    assert check["status"] == "skipped", result.describe()
    assert "AWS_ENDPOINT_URL_STS" in check["message"]
    assert result.status("s3.bucket") == "pass"
    assert result.returncode == 0


def test_usage_error_in_web_identity_settings_is_exit_2(aws: Aws) -> None:
    env = aws.env(PREFLIGHT_AWS_WEB_IDENTITY="gcp", AWS_ROLE_ARN="engines-raw")
    result = aws.run(env)
    assert result.returncode == 2, result.describe()
    assert result.stderr.startswith("preflight: error: AWS_ROLE_ARN: expected an IAM role ARN")
    assert len(result.stderr_lines) == 1


# --------------------------------------------------------------------------- refusals

@pytest.fixture(scope="module")
def moto_iam(_graceful_termination: None) -> Iterator[tuple[servers.Server, str, str, str]]:
    """A moto server that authenticates every request: (server, bucket, key id, secret)."""
    server = servers.s3_server(enforce_iam=True).start()
    try:
        servers.moto_auth(server.address, enforced=False)  # a window to create a user
        endpoint = f"http://{server.address}"
        iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION,
                           aws_access_key_id="setup", aws_secret_access_key="setup-secret")
        iam.create_user(UserName="preflight-it")
        key = iam.create_access_key(UserName="preflight-it")["AccessKey"]
        bucket = "enforced-raw"
        boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                     aws_access_key_id="setup", aws_secret_access_key="setup-secret"
                     ).create_bucket(Bucket=bucket)
        servers.moto_auth(server.address, enforced=True)
        yield server, bucket, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        server.stop()


def enforced_env(aws: Aws, moto_iam: tuple[servers.Server, str, str, str], key_id: str,
                 secret: str) -> dict[str, str]:
    server, bucket, _, _ = moto_iam
    endpoint = f"http://{server.address}"
    return aws.env(RAW_BUCKET=bucket, AWS_ENDPOINT_URL_S3=endpoint,
                   AWS_ENDPOINT_URL_STS=endpoint, AWS_ACCESS_KEY_ID=key_id,
                   AWS_SECRET_ACCESS_KEY=secret)


def test_enforcing_moto_accepts_a_real_key(aws: Aws, moto_iam: Any) -> None:
    """The refusals below come from checking, not from a server that refuses everything."""
    _, _, key_id, secret = moto_iam
    result = aws.run(enforced_env(aws, moto_iam, key_id, secret))
    check = result.check("aws.credentials")
    assert check["status"] == "pass", result.describe()
    assert check["details"]["principal"] == f"arn:aws:iam::{ACCOUNT}:user/preflight-it"
    secrets_absent(result, secret)


@pytest.mark.parametrize(("which", "code", "words"), [
    ("unknown key", "InvalidClientTokenId", "no such access key"),
    ("wrong secret", "SignatureDoesNotMatch", "secret key does not belong"),
])
def test_sts_refuses_the_credentials(aws: Aws, moto_iam: Any, which: str, code: str,
                                     words: str) -> None:
    _, _, key_id, secret = moto_iam
    if which == "unknown key":
        key_id = "AKIAPREFLIGHTUNKNOWN1"
    else:
        secret = "not-the-secret-of-this-key"
    started = time.monotonic()
    result = aws.run(enforced_env(aws, moto_iam, key_id, secret), "--timeout", "20")
    check = result.check("aws.credentials")
    assert (check["status"], check["attempts"], result.returncode) == ("fail", 1, 1), \
        result.describe()
    assert check["details"]["error_code"] == code
    assert check["details"]["operation"] == "GetCallerIdentity"
    assert check["details"]["http_status"] == 403
    assert words in check["remediation"]
    assert "AWS_ACCESS_KEY_ID" in check["remediation"]  # the keys came from the environment
    assert result.status("s3.bucket") == "error"  # blocked, never neutral
    assert time.monotonic() - started < 15, "a refusal is not retried until the deadline"
    secrets_absent(result, secret)


STS_ERROR = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>"""
REFUSALS = {
    "AccessDenied": (403, "Not authorized to perform sts:AssumeRoleWithWebIdentity"),
    "InvalidIdentityToken": (400, "No OpenIDConnect provider found in your account for "
                                  "https://accounts.google.com"),
    "ExpiredTokenException": (400, "Token expired: current date/time 1 must be before the "
                                   "expiration date/time 0"),
    "IDPCommunicationError": (400, "Couldn't retrieve verification key from your identity "
                                   "provider"),
}


def sts_stand_in(code: str) -> tools.FakeHTTP:
    """STS answering AssumeRoleWithWebIdentity with one of its documented errors."""
    status, message = REFUSALS[code]

    def script(_method: str, _path: str) -> tools.Reply:
        return tools.Reply(status, STS_ERROR.format(code=code, message=message),
                           {"Content-Type": "text/xml"})

    return tools.FakeHTTP(script)


@pytest.mark.parametrize(("code", "words"), [
    ("AccessDenied", "trust policy"),
    ("InvalidIdentityToken", "OIDC provider"),
    ("ExpiredTokenException", "projected"),
])
def test_sts_refuses_the_web_identity_exchange(aws: Aws, metadata: MetadataServer, code: str,
                                                words: str) -> None:
    with sts_stand_in(code) as sts:
        result = aws.run(cloud_run(aws, metadata, session_name(),
                                   AWS_ENDPOINT_URL_STS=sts.url), "--timeout", "20")
    check = result.check("aws.credentials")
    assert (check["status"], check["attempts"], result.returncode) == ("fail", 1, 1), \
        result.describe()
    assert check["message"].startswith(f"STS refused AssumeRoleWithWebIdentity for {ROLE}: "
                                       f"{code}")
    assert words in check["remediation"]
    assert check["details"]["token_claims"]["azp"] == SA_UNIQUE_ID
    assert len(sts.requests) == 1
    secrets_absent(result, *metadata.issued)


def test_identity_provider_unreachable_from_sts_is_retried(aws: Aws,
                                                           metadata: MetadataServer) -> None:
    with sts_stand_in("IDPCommunicationError") as sts:
        result = aws.run(cloud_run(aws, metadata, session_name(),
                                   AWS_ENDPOINT_URL_STS=sts.url), *TRANSIENT)
    check = result.check("aws.credentials")
    assert (check["status"], check.get("transient"), result.returncode) == ("error", True, 3), \
        result.describe()
    assert check["attempts"] >= 2 and len(sts.requests) == check["attempts"]


# --------------------------------------------------------------------------- aws-credentials

def aws_credentials(env: dict[str, str], *args: str,
                    timeout: float = 30) -> tuple[int, str, str, float]:
    started = time.monotonic()
    done = harness.run_command(harness.preflight_argv("aws-credentials", *args), env,
                               timeout=timeout)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def test_aws_credentials_prints_working_credential_process_json(
        aws: Aws, metadata: MetadataServer) -> None:
    name = session_name()
    code, out, err, _ = aws_credentials(aws.env(**metadata.env()), "--role-arn", ROLE,
                                        "--session-name", name)
    assert (code, err) == (0, ""), err
    document = json.loads(out)
    assert set(document) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken",
                             "Expiration", "AccountId"}
    assert document["Version"] == 1
    assert document["AccountId"] == ACCOUNT
    expires = datetime.fromisoformat(document["Expiration"].replace("Z", "+00:00"))
    assert 3000 < (expires - datetime.now(UTC)).total_seconds() <= 3600
    sts = boto3.client("sts", endpoint_url=aws.endpoint, region_name=REGION,
                       aws_access_key_id=document["AccessKeyId"],
                       aws_secret_access_key=document["SecretAccessKey"],
                       aws_session_token=document["SessionToken"])
    assert sts.get_caller_identity()["Arn"].endswith(f"assumed-role/engines-raw/{name}")


def test_aws_credentials_takes_its_settings_from_the_environment(
        aws: Aws, metadata: MetadataServer) -> None:
    name = session_name()
    env = aws.env(AWS_ROLE_ARN=ROLE, AWS_ROLE_SESSION_NAME=name,
                  PREFLIGHT_AWS_AUDIENCE="aws.example", PREFLIGHT_AWS_SESSION_DURATION="1800",
                  **metadata.env())
    code, out, err, _ = aws_credentials(env)
    assert code == 0, err
    expires = datetime.fromisoformat(json.loads(out)["Expiration"].replace("Z", "+00:00"))
    assert 1500 < (expires - datetime.now(UTC)).total_seconds() <= 1800
    (identity,) = [seen for seen in metadata.requests if seen.kind == "identity"]
    assert identity.query["audience"] == ["aws.example"]
    assert aws.assumed(name) == 1


@pytest.mark.parametrize("fault", ["down", "503", "hang"])
def test_aws_credentials_not_ready_is_one_line_and_exit_3(aws: Aws, metadata: MetadataServer,
                                                          fault: str) -> None:
    if fault == "down":
        metadata.down()
    elif fault == "503":
        metadata.fail(503)
    else:
        metadata.hang()
    code, out, err, wall = aws_credentials(aws.env(**metadata.env()), "--role-arn", ROLE,
                                           "--timeout", "2")
    assert code == 3, err
    assert out == ""
    assert err.startswith("preflight aws-credentials: not ready"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert wall <= 2 + GRACE


def test_aws_credentials_refused_is_one_line_with_the_fix(aws: Aws,
                                                          metadata: MetadataServer) -> None:
    with sts_stand_in("AccessDenied") as sts:
        code, out, err, _ = aws_credentials(aws.env(AWS_ENDPOINT_URL_STS=sts.url,
                                                    **metadata.env()), "--role-arn", ROLE)
    assert code == 1
    assert out == ""
    assert err.startswith(f"preflight aws-credentials: error: STS refused "
                          f"AssumeRoleWithWebIdentity for {ROLE}: AccessDenied"), err
    assert "fix: the trust policy of" in err and f"azp={SA_UNIQUE_ID}" in err
    assert err.count("\n") == 1
    for token in metadata.issued:
        assert token not in err


def test_aws_credentials_metadata_refusal_names_the_engines_fix(
        aws: Aws, metadata: MetadataServer) -> None:
    """No ID token (a 404: no service account): the engines' process runs the command from
    its AWS config file and has no PREFLIGHT_AWS_WEB_IDENTITY, so the fix names that file."""
    metadata.fail(404)
    code, out, err, _ = aws_credentials(aws.env(**metadata.env()), "--role-arn", ROLE)
    assert (code, out) == (1, ""), err
    assert err.startswith("preflight aws-credentials: error: metadata identity failed: "
                          "MetadataServerRefused"), err
    assert err.count("\n") == 1
    fix = err.split("; fix: ", 1)[1]
    assert "PREFLIGHT_AWS_WEB_IDENTITY" not in fix
    assert "service account" in fix and "credential_process" in fix and "AWS_CONFIG_FILE" in fix
    # preflight's own provider, which that variable does turn on, keeps naming it.
    result = aws.run(cloud_run(aws, metadata, session_name()), "--timeout", "10")
    check = result.check("aws.credentials")
    assert (check["status"], result.returncode) == ("fail", 1), result.describe()
    assert "unset PREFLIGHT_AWS_WEB_IDENTITY" in check["remediation"]


@pytest.mark.parametrize(("args", "env", "message"), [
    ((), {}, "--role-arn: expected the ARN of the role to assume"),
    (("--role-arn", "nope"), {}, "--role-arn: expected an IAM role ARN"),
    (("--role-arn", ROLE, "--duration", "60"), {}, "--duration: expected a whole number"),
    ((), {"AWS_ROLE_ARN": ROLE, "PREFLIGHT_AWS_SESSION_DURATION": "x"},
     "PREFLIGHT_AWS_SESSION_DURATION: expected a whole number"),
    (("--role-arn", ROLE, "--timeout", "0"), {}, "--timeout: expected a number of seconds"),
])
def test_aws_credentials_usage_errors(tmp_path: Path, args: tuple[str, ...],
                                      env: dict[str, str], message: str) -> None:
    code, out, err, _ = aws_credentials(harness.minimal_env(tmp_path) | env, *args)
    assert code == 2
    assert out == ""
    assert err.startswith(f"preflight: error: {message}"), err
    assert err.count("\n") == 1


def test_metadata_stand_in_is_faithful(metadata: MetadataServer) -> None:
    """What google-auth relies on: the header both ways, 403 without it, the ping."""
    import urllib.error
    import urllib.request

    def get(path: str, **headers: str) -> tuple[int, dict[str, str], str]:
        request = urllib.request.Request(metadata.url + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    flavor = {"Metadata-Flavor": "Google"}
    status, headers, body = get("/")
    assert (status, headers["Metadata-Flavor"]) == (200, "Google")
    status, headers, _ = get("/computeMetadata/v1/project/project-id")
    assert (status, headers["Metadata-Flavor"]) == (403, "Google")
    assert get("/computeMetadata/v1/project/project-id", **flavor)[2] == "stand-in-project"
    assert get("/computeMetadata/v1/project/project-id", **flavor,
               **{"X-Forwarded-For": "1.2.3.4"})[0] == 403
    assert get("/computeMetadata/v1/instance/service-accounts/default/identity",
               **flavor)[0] == 400
    status, _, token = get("/computeMetadata/v1/instance/service-accounts/default/identity"
                           "?audience=x&format=standard", **flavor)
    assert status == 200 and token.count(".") == 2
    status, _, body = get("/computeMetadata/v1/instance/service-accounts/default/token",
                          **flavor)
    assert status == 200 and json.loads(body)["token_type"] == "Bearer"
    status, _, body = get("/computeMetadata/v1/instance/service-accounts/default/"
                          "?recursive=true", **flavor)
    assert json.loads(body)["email"] == SA_EMAIL
    assert get("/computeMetadata/v1/instance/nothing-here", **flavor)[0] == 404

    # google-auth itself: detection ping, the account, a token, the project.
    import google.auth.transport.requests
    from google.auth.compute_engine import _metadata

    request = google.auth.transport.requests.Request()
    saved = os.environ.get("GCE_METADATA_IP")
    os.environ["GCE_METADATA_IP"] = metadata.address
    try:
        assert _metadata.ping(request)
    finally:
        if saved is None:
            del os.environ["GCE_METADATA_IP"]
        else:
            os.environ["GCE_METADATA_IP"] = saved
    root = f"{metadata.url}/computeMetadata/v1/"
    assert _metadata.get(request, "project/project-id", root=root) == "stand-in-project"
    info = _metadata.get(request, "instance/service-accounts/default/", root=root,
                         recursive=True)
    assert info["email"] == SA_EMAIL


def test_explain_shows_where_aws_credentials_will_come_from(tmp_path: Path) -> None:
    env = harness.minimal_env(tmp_path) | {
        "RAW_BUCKET": "raw", "PREFLIGHT_AWS_WEB_IDENTITY": "gcp", "AWS_ROLE_ARN": ROLE,
        "K_REVISION": "engines-00042-xyz", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9"}
    done = harness.run_command(harness.preflight_argv("explain", "--format", "json"), env)
    assert done.returncode == 0, done.stderr
    aws = json.loads(done.stdout)["aws_credentials"]
    assert aws["endpoint"] == "http://127.0.0.1:9"
    assert aws["web_identity"] == {"role_arn": ROLE, "audience": "sts.amazonaws.com",
                                   "session_name": "engines-00042-xyz", "duration_s": None}
    plan = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert plan["aws.credentials"]["runs"] is True
    assert plan["s3.bucket"]["needs"] == ["aws.credentials"]


# --------------------------------------------------------------------------- developer machines

SSO_TOKEN = "sso-access-token-0123456789"


def sso_portal() -> tools.FakeHTTP:
    """IAM Identity Center's portal API (sso:GetRoleCredentials) on a loopback port: moto
    has no such server. It answers only the bearer token of the profile's login cache."""
    portal: tools.FakeHTTP

    def script(_method: str, path: str) -> tools.Reply:
        headers = {k.lower(): v for k, v in portal.current.headers.items()}
        if not (path.startswith("/federation/credentials?")
                and headers.get("x-amz-sso_bearer_token") == SSO_TOKEN):
            return tools.Reply(401, {"message": "Session token not found or invalid"})
        return tools.Reply(200, {"roleCredentials": {
            "accessKeyId": harness.AWS_KEY_ID, "secretAccessKey": harness.AWS_SECRET,
            "sessionToken": "sso-session-token",
            "expiration": int((time.time() + 3600) * 1000)}})

    portal = tools.FakeHTTP(script)
    return portal


def sso_profile(aws: Aws, portal: tools.FakeHTTP) -> dict[str, str]:
    """A developer's `aws sso login` profile: the config and the login's token cache."""
    import hashlib

    start_url = "https://example-dev.awsapps.com/start"
    config = aws.tmp / "sso-config"
    config.write_text(f"[profile dev]\nregion = {REGION}\nsso_start_url = {start_url}\n"
                      f"sso_region = {REGION}\nsso_account_id = 123456789012\n"
                      "sso_role_name = Developer\n")
    cache = aws.tmp / "home" / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    expires = datetime.fromtimestamp(time.time() + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (cache / f"{hashlib.sha1(start_url.encode()).hexdigest()}.json").write_text(json.dumps(
        {"startUrl": start_url, "region": REGION, "accessToken": SSO_TOKEN,
         "expiresAt": expires}))
    return aws.env(AWS_CONFIG_FILE=str(config), AWS_PROFILE="dev",
                   AWS_ENDPOINT_URL_SSO=portal.url)


def test_an_sso_profile_on_a_developer_machine_works(aws: Aws) -> None:
    with sso_portal() as portal:
        result = aws.run(sso_profile(aws, portal))
    check = passed(result)
    assert check["details"]["source"] == "sso", check
    assert "IAM Identity Center (SSO)" in check["message"]
    assert any(path.startswith("/federation/credentials?") for _, path in portal.requests)
    secrets_absent(result, harness.AWS_SECRET, SSO_TOKEN)


def test_an_sso_profile_without_the_services_model_says_it_plainly() -> None:
    """The image ships only the S3, STS and DynamoDB models: an SSO profile there is named as
    unsupported, with what to do, never botocore's "Unknown service"."""
    from botocore.exceptions import UnknownServiceError

    from preflight.judge.aws import judge_refusal
    from preflight.observe.aws import Identity, refusal

    error = UnknownServiceError(service_name="sso", known_service_names="dynamodb, s3, sts")
    seen = Identity(source=None, endpoint="")
    outcome = judge_refusal(seen, refusal(error, None))
    assert "IAM Identity Center" in outcome.message, outcome
    assert "Unknown service" not in outcome.message
    assert "export-credentials" in (outcome.remediation or ""), outcome
