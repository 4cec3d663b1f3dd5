"""Verdict rendering, the termination message limit, redaction and error classification."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.auth import exceptions as auth

from preflight.config import Config
from preflight.core.redact import REDACTED, Scrubber, describe_exception, known_secrets
from preflight.core.result import CheckResult, ExitCode, Outcome, Status
from preflight.core.scope import Scope
from preflight.core.verdict import Verdict
from preflight.observe import errors
from preflight.observe.errors import Refused, Transient, is_transient
from preflight.report import text as render
from tests.harness import ENGINES_KINDS as ENGINES_REQUIRED_KINDS
from tests.verdict_schema import validate_verdict

CONFIG = Config(project="p", database="(default)", bucket="raw", collection="routing_registry",
                kinds=ENGINES_REQUIRED_KINDS, scopes=(Scope("t_system", "dev"),),
                disallowed=frozenset({"memory"}), timeout=60, attempt_timeout=5,
                verdict_file=None, termination_log=None, format="json", log_level="info",
                engines_env={}, emulator_host=None)
START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def verdict(*outcomes: Outcome, interrupted_by: int | None = None) -> Verdict:
    checks = tuple(CheckResult(f"check.{i}", outcome, 1, 5) for i, outcome in enumerate(outcomes))
    return Verdict(CONFIG.target(), checks, START, START + timedelta(seconds=1.5), interrupted_by)


PASS = Outcome(Status.PASS, "fine")
WARN = Outcome(Status.WARN, "duplicates", "delete one")
FAIL = Outcome(Status.FAIL, "broken", "fix it")
TRANSIENT = Outcome(Status.ERROR, "deadline exceeded", "retry", transient=True)
CRASH = Outcome(Status.ERROR, "unexpected error", transient=False)


@pytest.mark.parametrize(("outcomes", "code", "status"), [
    ((PASS, PASS), ExitCode.PASS, "pass"),
    ((PASS, WARN), ExitCode.PASS, "pass"),
    ((PASS, Outcome(Status.SKIPPED, "n/a")), ExitCode.PASS, "pass"),
    ((FAIL, TRANSIENT), ExitCode.FAIL, "fail"),
    ((TRANSIENT, PASS), ExitCode.NOT_READY, "fail"),
    ((CRASH, PASS), ExitCode.FAIL, "fail"),
])
def test_exit_codes(outcomes: tuple[Outcome, ...], code: ExitCode, status: str) -> None:
    result = verdict(*outcomes)
    assert result.exit_code is code
    assert result.to_dict()["status"] == status
    assert result.to_dict()["exit_code"] == code


@pytest.mark.parametrize(("signum", "code"), [(15, 143), (2, 130)])
def test_interrupted_verdicts_fail(signum: int, code: int) -> None:
    document = verdict(PASS, interrupted_by=signum).to_dict()
    assert (document["status"], document["exit_code"], document["interrupted"]) == (
        "fail", code, True)


def test_document_matches_the_published_schema() -> None:
    document = json.loads(render.to_json(verdict(PASS, WARN, FAIL, TRANSIENT)))
    validate_verdict(document)
    assert document["summary"] == {"pass": 1, "warn": 1, "fail": 1, "error": 1, "skipped": 0}
    assert document["started_at"] == "2026-11-26T10:00:00.000Z"
    assert document["duration_ms"] == 1500


def test_text_lists_failures_first_with_their_fix() -> None:
    lines = render.to_text(verdict(PASS, FAIL)).splitlines()
    assert lines[0].startswith("preflight FAIL (exit 1)")
    assert lines[1].strip().startswith("start-up:")
    assert "check.1" in lines[2]
    assert lines[3].strip() == "fix: fix it"
    assert "check.0" in lines[4]


def test_termination_message_fits_kubernetes_limit_most_important_first() -> None:
    many = [Outcome(Status.WARN, "w" * 300, "x" * 300)] * 20 + [
        Outcome(Status.FAIL, "the real problem " + "f" * 500, "the fix")]
    message = render.to_termination_message(verdict(*many))
    assert len(message.encode()) <= 4096
    assert message.splitlines()[1].startswith("✗ check.20: the real problem")
    assert "more line(s)" in message.splitlines()[-1]


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "verdict.json"
    render.write_atomically(target, "{}\n")
    render.write_atomically(target, '{"a": 1}\n')
    assert [p.name for p in tmp_path.iterdir()] == ["verdict.json"]
    assert target.read_text() == '{"a": 1}\n'


def test_known_secrets_come_from_names_urls_and_the_key_file(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"type": "service_account", "private_key_id": "CANARY-key-id",
                               "private_key": "-----BEGIN PRIVATE KEY-----\nCANARYLINE\n"
                                              "-----END PRIVATE KEY-----\n"}))
    secrets = known_secrets({"AWS_SECRET_ACCESS_KEY": "CANARY-aws", "HOME": "/root",
                             "DATABASE_URL": "postgres://admin:CANARY-pw@db/x",
                             "GOOGLE_APPLICATION_CREDENTIALS": str(key)})
    assert {"CANARY-aws", "CANARY-pw", "CANARY-key-id", "CANARYLINE"} <= secrets
    assert "/root" not in secrets
    scrub = Scrubber(secrets)
    assert scrub("a CANARY-aws b CANARYLINE c") == f"a {REDACTED} b {REDACTED} c"
    assert scrub("see http://admin:CANARY-pw@db/x") == f"see http://{REDACTED}@db/x"


def test_token_files_hide_their_content_not_their_path(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.CANARY-token.sig\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIAPUBLICID\n"
                           "aws_secret_access_key = CANARY-secret-key\n")
    secrets = known_secrets({"AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
                             "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(tmp_path / "none"),
                             "AWS_SHARED_CREDENTIALS_FILE": str(credentials)})
    assert "eyJhbGciOiJSUzI1NiJ9.CANARY-token.sig" in secrets
    assert "CANARY-secret-key" in secrets
    assert not {str(token), str(credentials)} & secrets


def test_known_secrets_include_the_probes_stand_in_variables() -> None:
    """Connection strings and keys the engines read from the environment (backends.reachable)."""
    secrets = known_secrets({
        "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=acct;"
                                           "AccountKey=CANARY-account-key==;EndpointSuffix=x",
        "AZURE_COSMOSDB_KEY": "CANARY-cosmos-key", "REDIS_HOST": "cache.internal",
        "OTHER": "BlobEndpoint=https://b/;SharedAccessSignature=sv=1&sig=CANARY-sas"})
    assert {"CANARY-account-key==", "CANARY-cosmos-key", "sv=1&sig=CANARY-sas"} <= secrets
    assert any("AccountName=acct" in secret for secret in secrets)  # the whole string
    assert "cache.internal" not in secrets


def test_exception_descriptions_are_short_single_lines() -> None:
    text = describe_exception(ValueError("line one\nline two " + "z" * 1000))
    assert "\n" not in text
    assert len(text) <= 240
    assert text.startswith("ValueError: line one line two")


def test_transient_classification_of_real_client_exceptions() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
    from google.api_core import exceptions as api

    def client_error(status: int, code: str) -> ClientError:
        response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(response, "HeadBucket")

    transient = [api.ServiceUnavailable("x"), api.DeadlineExceeded("x"),
                 api.ResourceExhausted("x"), api.Aborted("x"), api.InternalServerError("x"),
                 EndpointConnectionError(endpoint_url="http://x"),
                 ReadTimeoutError(endpoint_url="http://x"), client_error(503, "SlowDown"),
                 client_error(429, "TooManyRequests"), client_error(500, "InternalError"),
                 ConnectionRefusedError(), TimeoutError(), socket.gaierror()]
    definitive = [api.PermissionDenied("x"), api.Unauthenticated("x"), api.NotFound("x"),
                  api.InvalidArgument("x"), client_error(404, "404"),
                  client_error(403, "403"), ValueError("x")]
    assert [e for e in transient if not is_transient(e)] == []
    assert [e for e in definitive if is_transient(e)] == []
    assert not isinstance(errors.classify(auth.RefreshError("invalid_grant")), Transient)
    assert isinstance(errors.classify(auth.TransportError("x")), Transient)


def chained(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


class Response:
    def __init__(self, status: int) -> None:
        self.status = status


@pytest.mark.parametrize(("error", "transient"), [
    # compute_engine.Credentials.refresh: the metadata server down, or answering 5xx
    (chained(auth.RefreshError("Failed to retrieve …/token"),
             auth.TransportError("Compute Engine Metadata server unavailable")), True),
    (chained(auth.RefreshError("x"), auth.TransportError("x", Response(503))), True),
    # …but a definitive answer from it: no such service account
    (chained(auth.RefreshError("x"), auth.TransportError("x", Response(404))), False),
    (auth.RefreshError("invalid_grant: Invalid JWT Signature."), False),
    (auth.RefreshError("temporarily unavailable", retryable=True), True),
    (auth.DefaultCredentialsError("File /k.json is not a valid json file."), False),
])
def test_google_auth_errors_are_classified_by_their_cause(error: Exception,
                                                           transient: bool) -> None:
    classified = errors.classify(error)
    assert isinstance(classified, Transient if transient else Refused), classified
