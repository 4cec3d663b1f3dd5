"""aws.credentials without a server: the judgment, the error classification, the settings.

The judge is pure; the classification takes the exceptions botocore really raises (built
here as botocore builds them) and must either name a definitive refusal or raise the error
again for the runner to retry.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    InvalidConfigError,
    NoRegionError,
)

from preflight.checks.aws_credentials import endpoint_skip
from preflight.config.web_identity import (
    DEFAULT_AUDIENCE,
    WebIdentity,
    default_session_name,
    from_environ,
)
from preflight.core.errors import ConfigError
from preflight.core.result import Status
from preflight.judge import aws as judge_aws
from preflight.judge.aws import judge
from preflight.observe import aws
from preflight.observe.aws import Identity, Refusal
from preflight.observe.errors import Transient, is_transient
from preflight.observe.web_identity import MetadataRefused, MetadataUnavailable, public_claims

ROLE = "arn:aws:iam::123456789012:role/engines-raw"
ARN = "arn:aws:sts::123456789012:assumed-role/engines-raw/rev-1"


def seen(**fields: object) -> Identity:
    base: dict[str, object] = {"source": "env", "endpoint": "https://sts.us-east-1.amazonaws.com"}
    return Identity(**(base | fields))  # type: ignore[arg-type]


def client_error(code: str, operation: str, status: int = 403) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": f"{code} from STS"},
                     "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


# --------------------------------------------------------------------------- judge

@pytest.mark.parametrize("source", sorted(judge_aws.SOURCES))
def test_pass_names_principal_and_source(source: str) -> None:
    outcome = judge(seen(source=source, arn=ARN, account="123456789012"))
    assert outcome.status is Status.PASS
    assert outcome.message.startswith(ARN)
    assert judge_aws.SOURCES[source] in outcome.message
    assert outcome.details["principal"] == ARN
    assert outcome.details["source"] == source
    assert outcome.details["account"] == "123456789012"


def test_an_unknown_source_is_still_named() -> None:
    outcome = judge(seen(source="some-new-provider", arn=ARN))
    assert "'some-new-provider'" in outcome.message


def test_no_credentials_is_a_definitive_fail_with_the_keyless_fix() -> None:
    outcome = judge(seen(source=None, no_credentials=True))
    assert outcome.status is Status.FAIL and not outcome.transient
    assert outcome.remediation is not None
    for words in ("aws-web-identity", "PREFLIGHT_AWS_WEB_IDENTITY=gcp",
                  "preflight aws-credentials", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        assert words in outcome.remediation


@pytest.mark.parametrize(("code", "words"), [
    ("InvalidClientTokenId", "no such access key"),
    ("SignatureDoesNotMatch", "secret key does not belong"),
    ("ExpiredToken", "cannot be renewed"),
    ("AccessDenied", "fix or replace"),
])
def test_refused_credentials(code: str, words: str) -> None:
    refusal = Refusal(code, "GetCallerIdentity", f"{code} from STS", 403)
    outcome = judge(seen(refusal=refusal))
    assert outcome.status is Status.FAIL and not outcome.transient
    assert code in outcome.message and "GetCallerIdentity" in outcome.message
    assert outcome.remediation is not None and words in outcome.remediation
    assert outcome.details["error_code"] == code
    assert outcome.details["http_status"] == 403


@pytest.mark.parametrize(("source", "words"), [
    ("env", "AWS_ACCESS_KEY_ID"),
    ("shared-credentials-file", "profile"),
    ("config-file", "profile"),
])
def test_invalid_key_fix_depends_on_where_the_key_came_from(source: str, words: str) -> None:
    outcome = judge(seen(source=source, refusal=Refusal("InvalidClientTokenId",
                                                        "GetCallerIdentity", "x")))
    assert outcome.remediation is not None and words in outcome.remediation


@pytest.mark.parametrize(("code", "words"), [
    ("AccessDenied", "trust policy"),
    ("InvalidIdentityToken", "OIDC provider"),
    ("IDPRejectedClaim", "trusted issuer"),
    ("ExpiredTokenException", "projected"),
    ("ValidationError", "maximum session duration"),
    ("RegionDisabledException", "not active in this region"),
    ("MalformedPolicyDocument", "deploy/IAM.md"),
])
def test_refused_web_identity(code: str, words: str) -> None:
    claims = {"iss": "https://accounts.google.com", "aud": "sts.amazonaws.com",
              "azp": "104729550108245186931", "sub": "104729550108245186931"}
    outcome = judge(seen(source="gcp-web-identity", role_arn=ROLE, token_claims=claims,
                         refusal=Refusal(code, "AssumeRoleWithWebIdentity", "no")))
    assert outcome.status is Status.FAIL
    assert outcome.message.startswith(f"STS refused AssumeRoleWithWebIdentity for {ROLE}")
    assert outcome.remediation is not None and words in outcome.remediation
    assert outcome.details["token_claims"] == claims
    assert outcome.details["role_arn"] == ROLE


def test_access_denied_shows_the_claims_to_write_the_trust_policy_against() -> None:
    claims = {"azp": "111", "sub": "111", "aud": "sts.amazonaws.com"}
    outcome = judge(seen(source="gcp-web-identity", role_arn=ROLE, token_claims=claims,
                         refusal=Refusal("AccessDenied", "AssumeRoleWithWebIdentity", "no")))
    assert outcome.remediation is not None
    assert "azp=111, sub=111, aud=sts.amazonaws.com" in outcome.remediation
    for condition in ("oaud", "unique id", "system:serviceaccount:"):
        assert condition in outcome.remediation


@pytest.mark.parametrize("code", sorted(judge_aws.LOCAL_FIXES))
def test_local_refusals_have_their_own_fix(code: str) -> None:
    outcome = judge(seen(refusal=Refusal(code, "somewhere", "it broke")))
    assert outcome.status is Status.FAIL
    assert outcome.remediation == judge_aws.LOCAL_FIXES[code]
    assert outcome.message == f"somewhere failed: {code}: it broke"


@pytest.mark.parametrize(("endpoints", "skips"), [
    ({}, False),
    ({"AWS_ENDPOINT_URL_S3": "http://minio:9000"}, True),
    ({"AWS_ENDPOINT_URL_S3": "http://moto:5000", "AWS_ENDPOINT_URL_STS": "http://moto:5000"},
     False),
    ({"AWS_ENDPOINT_URL_S3": "http://moto:5000", "AWS_ENDPOINT_URL": "http://moto:5000"},
     False),
    ({"AWS_ENDPOINT_URL_S3": "http://minio:9000",
      "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, False),
    ({"AWS_ENDPOINT_URL_STS": "http://moto:5000"}, False),
])
def test_s3_compatible_endpoint_without_sts_skips(endpoints: dict[str, str],
                                                   skips: bool) -> None:
    reason = endpoint_skip(endpoints)
    assert (reason is not None) is skips
    if reason:
        assert "AWS_ENDPOINT_URL_STS" in reason


# --------------------------------------------------------------------------- classification

def modeled(name: str, code: str, operation: str, status: int = 400) -> ClientError:
    """A modeled STS error, of the class botocore's error factory really raises."""
    import botocore.session

    client = botocore.session.get_session().create_client(
        "sts", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    error_class = getattr(client.exceptions, name)
    error: ClientError = error_class({"Error": {"Code": code, "Message": "m"},
                                      "ResponseMetadata": {"HTTPStatusCode": status}},
                                     operation)
    return error


def test_modeled_errors_are_classified_like_client_errors() -> None:
    transient = modeled("IDPCommunicationErrorException", "IDPCommunicationError",
                        "AssumeRoleWithWebIdentity")
    assert type(transient).__name__ == "IDPCommunicationErrorException"
    assert is_transient(transient)
    refused = modeled("InvalidIdentityTokenException", "InvalidIdentityToken",
                      "AssumeRoleWithWebIdentity")
    assert not is_transient(refused)
    assert aws.refusal(refused, None).code == "InvalidIdentityToken"


def test_client_errors_become_refusals_with_their_operation() -> None:
    refusal = aws.refusal(client_error("InvalidClientTokenId", "GetCallerIdentity"), "env")
    assert refusal == Refusal("InvalidClientTokenId", "GetCallerIdentity",
                              "InvalidClientTokenId from STS", 403)


@pytest.mark.parametrize("error", [
    client_error("Throttling", "GetCallerIdentity", 400),
    client_error("InternalFailure", "GetCallerIdentity", 500),
    client_error("IDPCommunicationError", "AssumeRoleWithWebIdentity", 400),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
    ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"),
    MetadataUnavailable("the metadata server 127.0.0.1:9 answered 503"),
])
def test_transient_errors_are_raised_again(error: Exception) -> None:
    assert is_transient(error)
    with pytest.raises(Transient) as caught:
        aws.refusal(error, "gcp-web-identity")
    assert caught.value.cause is error


@pytest.mark.parametrize(("text", "transient"), [
    ("Received error when attempting to retrieve container metadata: Connection refused",
     True),
    ("Received non 200 response 503 from container metadata: busy", True),
    ("Received non 200 response 403 from container metadata: bad token", False),
])
def test_container_endpoint(text: str, transient: bool) -> None:
    error = CredentialRetrievalError(provider="container-role", error_msg=text)
    if transient:
        with pytest.raises(Transient) as caught:
            aws.refusal(error, None)
        assert caught.value.cause is error
    else:
        refusal = aws.refusal(error, None)
        assert (refusal.code, refusal.http_status) == ("ContainerEndpointRefused", 403)


def test_credential_process_not_ready_is_transient_and_error_is_definitive() -> None:
    not_ready = CredentialRetrievalError(
        provider="custom-process",
        error_msg="preflight aws-credentials: not ready after 3 attempt(s): ...\n")
    with pytest.raises(Transient):
        aws.refusal(not_ready, None)
    failed = CredentialRetrievalError(
        provider="custom-process", error_msg="preflight aws-credentials: error: STS refused\n")
    refusal = aws.refusal(failed, None)
    assert refusal.code == "CredentialProcessFailed"
    assert refusal.message == "preflight aws-credentials: error: STS refused"


def test_local_definitive_errors() -> None:
    missing = FileNotFoundError(2, "No such file or directory")
    assert aws.refusal(missing, "assume-role-with-web-identity").code == "TokenFileUnreadable"
    assert aws.refusal(MetadataRefused(404, "127.0.0.1:1", "Not Found"),
                       "gcp-web-identity").code == "MetadataServerRefused"
    for error in (InvalidConfigError(error_msg="no role"), NoRegionError(),
                  ValueError("Unsupported host '10.0.0.1'")):
        assert aws.refusal(error, None).code == "InvalidConfiguration"


def test_a_bug_is_not_mistaken_for_a_refusal() -> None:
    with pytest.raises(KeyError):
        aws.refusal(KeyError("Credentials"), "gcp-web-identity")


# --------------------------------------------------------------------------- settings

ENV = {"PREFLIGHT_AWS_WEB_IDENTITY": "gcp", "AWS_ROLE_ARN": ROLE}


def test_web_identity_is_off_unless_asked_for() -> None:
    assert from_environ({}) is None
    assert from_environ({"PREFLIGHT_AWS_WEB_IDENTITY": " ", "AWS_ROLE_ARN": ROLE}) is None


def test_web_identity_defaults() -> None:
    identity = from_environ(ENV | {"K_REVISION": "engines-00012-abc"})
    assert identity == WebIdentity(ROLE, DEFAULT_AUDIENCE, "engines-00012-abc", None)


def test_web_identity_settings_from_the_environment() -> None:
    identity = from_environ(ENV | {"PREFLIGHT_AWS_WEB_IDENTITY": "GCP",
                                   "PREFLIGHT_AWS_AUDIENCE": "https://aws.example/engines",
                                   "AWS_ROLE_SESSION_NAME": "pod-1",
                                   "PREFLIGHT_AWS_SESSION_DURATION": "7200"})
    assert identity == WebIdentity(ROLE, "https://aws.example/engines", "pod-1", 7200)


@pytest.mark.parametrize(("changes", "where"), [
    ({"PREFLIGHT_AWS_WEB_IDENTITY": "aws"}, "PREFLIGHT_AWS_WEB_IDENTITY"),
    ({"AWS_ROLE_ARN": ""}, "AWS_ROLE_ARN"),
    ({"AWS_ROLE_ARN": "engines-raw"}, "AWS_ROLE_ARN"),
    ({"AWS_ROLE_ARN": "arn:aws:iam::123:role/x"}, "AWS_ROLE_ARN"),
    ({"AWS_ROLE_ARN": "arn:aws:iam::123456789012:user/x"}, "AWS_ROLE_ARN"),
    ({"PREFLIGHT_AWS_AUDIENCE": " "}, "PREFLIGHT_AWS_AUDIENCE"),
    ({"AWS_ROLE_SESSION_NAME": "has space"}, "AWS_ROLE_SESSION_NAME"),
    ({"AWS_ROLE_SESSION_NAME": "x" * 65}, "AWS_ROLE_SESSION_NAME"),
    ({"PREFLIGHT_AWS_SESSION_DURATION": "899"}, "PREFLIGHT_AWS_SESSION_DURATION"),
    ({"PREFLIGHT_AWS_SESSION_DURATION": "43201"}, "PREFLIGHT_AWS_SESSION_DURATION"),
    ({"PREFLIGHT_AWS_SESSION_DURATION": "1h"}, "PREFLIGHT_AWS_SESSION_DURATION"),
])
def test_bad_web_identity_settings_name_their_variable(changes: dict[str, str],
                                                        where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_environ(ENV | changes)
    assert caught.value.where == where
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("environ", "name"), [
    ({"K_REVISION": "engines-00012-abc", "HOSTNAME": "h"}, "engines-00012-abc"),
    ({"CLOUD_RUN_EXECUTION": "engines-preflight-x7k2q"}, "engines-preflight-x7k2q"),
    ({"HOSTNAME": "engines-7d9f/pod 1"}, "engines-7d9f-pod-1"),
    ({"HOSTNAME": "x"}, "preflight"),
    ({}, "preflight"),
])
def test_default_session_name(environ: dict[str, str], name: str) -> None:
    assert default_session_name(environ) == name


def test_public_claims_of_a_jwt_and_of_garbage() -> None:
    from tests.metadata_server import id_token_claims, mint

    token = mint(id_token_claims("sts.amazonaws.com", full=True))
    claims = public_claims(token)
    assert set(claims) == {"iss", "aud", "azp", "sub", "email"}
    assert claims["aud"] == "sts.amazonaws.com"
    assert public_claims("not-a-jwt") == {}
    assert public_claims("a.bm90IGpzb24.c") == {}
