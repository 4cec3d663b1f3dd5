"""AWS credentials from a Google-signed ID token: keyless S3 from Cloud Run.

Cloud Run mounts no projected Kubernetes token, but its metadata server signs ID tokens for
the service's account with any audience asked for. This module asks for one and trades it
with STS AssumeRoleWithWebIdentity (provider `accounts.google.com`) through botocore's own
AssumeRoleWithWebIdentityCredentialFetcher, whose token loader is the metadata request;
botocore's refreshable credentials renew them before they expire, each time with a new ID
token. Two ways in:

- preflight itself: PREFLIGHT_AWS_WEB_IDENTITY=gcp (with AWS_ROLE_ARN) puts `provider()` at
  the head of its botocore session's credential chain;
- the engines' boto3: `preflight aws-credentials` is a credential_process
  (`credential_process()`).

Metadata calls go through `_metadata_request`: one try each, bounded, and a failing server
(down, 5xx, hung) is raised as transient at once instead of being retried by google-auth
(five tries with 1-8 s sleeps) behind the caller's back.

Nothing here imports botocore or google-auth at module level: config parsing uses it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENV_MODE = "PREFLIGHT_AWS_WEB_IDENTITY"
ENV_ROLE_ARN = "AWS_ROLE_ARN"
ENV_AUDIENCE = "PREFLIGHT_AWS_AUDIENCE"
ENV_SESSION_NAME = "AWS_ROLE_SESSION_NAME"
ENV_DURATION = "PREFLIGHT_AWS_SESSION_DURATION"
MODES = ("gcp",)
DEFAULT_AUDIENCE = "sts.amazonaws.com"
METHOD = "gcp-web-identity"  # the credential `method` botocore reports for this provider
MIN_DURATION, MAX_DURATION = 900, 43_200  # STS's bounds for DurationSeconds

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_NOT_SESSION_CHARACTER = re.compile(r"[^\w+=,.@-]")
_PUBLIC_CLAIMS = ("iss", "aud", "azp", "sub", "email")


@dataclass(frozen=True)
class WebIdentity:
    """Which role to assume with the metadata server's ID token, and how."""

    role_arn: str
    audience: str = DEFAULT_AUDIENCE
    session_name: str = "preflight"
    duration: int | None = None  # DurationSeconds; None: the role's default (1 hour)


class MetadataUnavailable(ConnectionError):
    """The metadata server is down, failing (5xx, 429) or too slow: transient."""


class MetadataRefused(Exception):
    """The metadata server answered, but not with an ID token (4xx): definitive."""

    def __init__(self, status: int, where: str, text: str) -> None:
        self.status = status
        super().__init__(f"the metadata server {where} answered {status} to the ID token "
                         f"request{': ' + text if text else ''}")


# --------------------------------------------------------------------------- configuration

def default_session_name(environ: Mapping[str, str]) -> str:
    """The Cloud Run revision or job execution, so CloudTrail shows who assumed the role."""
    for name in ("K_REVISION", "CLOUD_RUN_EXECUTION", "HOSTNAME"):
        cleaned = _NOT_SESSION_CHARACTER.sub("-", environ.get(name, "").strip())[:64]
        if len(cleaned) >= 2:
            return cleaned
    return "preflight"


def parse(role_arn: str | None, audience: str | None, session_name: str | None,
          duration: str | None, where: Mapping[str, str],
          environ: Mapping[str, str]) -> WebIdentity:
    """Validated settings, or ConfigError naming the variable or flag (`where[field]`)."""
    from preflight.config import ConfigError

    if not role_arn or not role_arn.strip():
        raise ConfigError(where["role_arn"], "the ARN of the role to assume "
                          "(arn:aws:iam::ACCOUNT_ID:role/NAME)")
    role_arn = role_arn.strip()
    if not _ROLE_ARN.fullmatch(role_arn):
        raise ConfigError(where["role_arn"], "an IAM role ARN like "
                          "arn:aws:iam::123456789012:role/NAME", role_arn)
    audience = DEFAULT_AUDIENCE if audience is None else audience.strip()
    if not audience or not audience.isprintable() or len(audience) > 2048:
        raise ConfigError(where["audience"], "a non-empty audience string (the ID token's "
                          "aud claim, pinned as accounts.google.com:oaud)", audience)
    name = default_session_name(environ) if session_name is None else session_name.strip()
    if not _SESSION_NAME.fullmatch(name):
        raise ConfigError(where["session_name"], "a role session name of 2-64 letters, "
                          "digits and + = , . @ _ -", name)
    seconds: int | None = None
    if duration is not None and duration.strip():
        text = duration.strip()
        if not text.isdigit() or not MIN_DURATION <= int(text) <= MAX_DURATION:
            raise ConfigError(where["duration"], f"a whole number of seconds from "
                              f"{MIN_DURATION} to {MAX_DURATION}", duration)
        seconds = int(text)
    return WebIdentity(role_arn, audience, name, seconds)


def from_environ(environ: Mapping[str, str]) -> WebIdentity | None:
    """PREFLIGHT_AWS_WEB_IDENTITY=gcp turns the provider on; unset or empty leaves it off."""
    from preflight.config import ConfigError

    mode = environ.get(ENV_MODE, "").strip().lower()
    if not mode:
        return None
    if mode not in MODES:
        raise ConfigError(ENV_MODE, "gcp (exchange the metadata server's ID token for AWS "
                          "credentials) or unset", environ[ENV_MODE])
    where = {"role_arn": ENV_ROLE_ARN, "audience": ENV_AUDIENCE,
             "session_name": ENV_SESSION_NAME, "duration": ENV_DURATION}
    return parse(environ.get(ENV_ROLE_ARN), environ.get(ENV_AUDIENCE),
                 environ.get(ENV_SESSION_NAME), environ.get(ENV_DURATION), where, environ)


# --------------------------------------------------------------------------- the ID token

def public_claims(token: str) -> dict[str, str]:
    """The claims a trust policy is written against; the signature is STS's business."""
    try:
        payload = token.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    if not isinstance(decoded, dict):
        return {}
    return {claim: str(decoded[claim]) for claim in _PUBLIC_CLAIMS if claim in decoded}


def _metadata_request(limit: float) -> Any:
    """A google-auth transport for the metadata server: one bounded try, failures raised."""
    from urllib.parse import urlsplit

    import urllib3
    from google.auth import exceptions
    from google.auth.transport.urllib3 import Request

    inner = Request(urllib3.PoolManager(retries=False))  # type: ignore[no-untyped-call]

    def request(url: str, method: str = "GET", body: Any = None,
                headers: Mapping[str, str] | None = None, timeout: float | None = None,
                **kwargs: Any) -> Any:
        where = urlsplit(url).netloc
        bounded = min(timeout or limit, limit)
        try:
            response = inner(url, method=method, body=body, headers=headers, timeout=bounded,
                             **kwargs)
        except exceptions.TransportError as error:
            cause = error.__cause__ or error
            raise MetadataUnavailable(f"the metadata server {where} did not answer within "
                                      f"{bounded:g}s: {type(cause).__name__}") from None
        if response.status >= 500 or response.status == 429:
            raise MetadataUnavailable(f"the metadata server {where} answered "
                                      f"{response.status}")
        if response.status != 200:
            text = bytes(response.data or b"")[:200].decode("utf-8", "replace")
            raise MetadataRefused(response.status, where, " ".join(text.split()))
        return response

    return request


class MetadataIdToken:
    """botocore's web_identity_token_loader: a new Google-signed ID token per exchange."""

    def __init__(self, audience: str, timeout: float) -> None:
        self.audience = audience
        self.timeout = timeout
        self.claims: dict[str, str] = {}  # of the last token: for refusals' details

    def __call__(self) -> str:
        from google.auth.compute_engine import IDTokenCredentials

        # No request at construction (it would look up the account's e-mail first); an
        # unbound token (no Agent Identity certificate lookup).
        credentials = IDTokenCredentials(  # type: ignore[no-untyped-call]
            None, self.audience, use_metadata_identity_endpoint=True, bind_id_token=False)
        try:
            credentials.refresh(_metadata_request(self.timeout))  # type: ignore[no-untyped-call]
        except ValueError:
            raise MetadataRefused(200, "", "the ID token it sent is not a JWT") from None
        token = str(credentials.token)
        self.claims = public_claims(token)
        return token


# --------------------------------------------------------------------------- botocore

def fetcher(session: Any, identity: WebIdentity, token: MetadataIdToken) -> Any:
    """botocore's own AssumeRoleWithWebIdentity fetcher, fed by the metadata server."""
    from botocore.credentials import AssumeRoleWithWebIdentityCredentialFetcher

    extra: dict[str, Any] = {"RoleSessionName": identity.session_name}
    if identity.duration is not None:
        extra["DurationSeconds"] = identity.duration
    return AssumeRoleWithWebIdentityCredentialFetcher(
        client_creator=session.create_client, web_identity_token_loader=token,
        role_arn=identity.role_arn, extra_args=extra)


def provider(session: Any, identity: WebIdentity, timeout: float) -> Any:
    """A botocore credential provider: deferred, refreshable, method `gcp-web-identity`."""
    from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials

    class GcpWebIdentityProvider(CredentialProvider):
        METHOD = METHOD

        def __init__(self) -> None:
            super().__init__()
            self.identity = identity
            self.token = MetadataIdToken(identity.audience, timeout)

        def load(self) -> DeferredRefreshableCredentials:
            fetch = fetcher(session, identity, self.token)
            return DeferredRefreshableCredentials(method=METHOD,
                                                  refresh_using=fetch.fetch_credentials)

    return GcpWebIdentityProvider()


# --------------------------------------------------------------------------- credential_process

ATTEMPT_TIMEOUT = 5.0  # one metadata or STS call; the whole command has --timeout

# Fixes for the engines' process, which runs this command from its AWS config file: it has
# no PREFLIGHT_AWS_WEB_IDENTITY to unset (aws.credentials' fix for preflight's own provider).
CREDENTIAL_PROCESS_FIXES = {
    "MetadataServerRefused": "the metadata server gave no ID token: the workload needs a "
                             "service account (Cloud Run: the service's or job's identity; "
                             "GKE: Workload Identity); where there is no Google metadata "
                             "server, remove `preflight aws-credentials` from the "
                             "credential_process of the AWS config file (AWS_CONFIG_FILE) and "
                             "give the engines AWS credentials another way",
}


def credential_process(identity: WebIdentity, timeout: float) -> tuple[int, str]:
    """One exchange within `timeout`, transient trouble retried: (exit code, output line).

    Exit 0 with the credential_process JSON, or 1 (refused) / 3 (not ready) with one line
    for stderr that botocore shows the engines as is: it names the fix and holds no secret.
    """
    import threading

    box: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: box.append(_exchange(identity, timeout)),
                              name="aws-credentials", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    if not box:
        return 3, (f"not ready: no credentials within {timeout:g}s (the metadata server or "
                   "STS did not answer)")
    return box[0]


def _exchange(identity: WebIdentity, timeout: float) -> tuple[int, str]:
    import time

    from preflight.checks.aws_credentials import judge_refusal
    from preflight.probes import aws
    from preflight.probes.errors import Transient
    from preflight.redact import describe_exception
    from preflight.retry import Backoff

    deadline = time.monotonic() + timeout
    limit = min(ATTEMPT_TIMEOUT, timeout)
    token = MetadataIdToken(identity.audience, limit)
    attempt = 0
    try:
        session = aws.make_session(limit)
        while True:
            attempt += 1
            try:
                answer = fetcher(session, identity, token).fetch_credentials()
                return 0, json.dumps(_document(answer))
            except Exception as error:  # noqa: BLE001 - classified right below
                try:
                    refused = aws.refusal(error, METHOD)
                except Transient as transient:
                    wait = Backoff().delay(attempt)
                    if time.monotonic() + wait >= deadline:
                        return 3, (f"not ready after {attempt} attempt(s): "
                                   f"{describe_exception(transient)}")
                    time.sleep(wait)
                    continue
            seen = aws.Identity(source=METHOD, endpoint="", role_arn=identity.role_arn,
                                token_claims=dict(token.claims))
            outcome = judge_refusal(seen, refused)
            fix = CREDENTIAL_PROCESS_FIXES.get(refused.code, outcome.remediation)
            return 1, f"error: {outcome.message}; fix: {fix}"
    except Exception as error:  # noqa: BLE001 - one line, never a traceback
        return 1, f"error: unexpected {describe_exception(error)}"


def _document(answer: Mapping[str, Any]) -> dict[str, Any]:
    document = {"Version": 1, "AccessKeyId": answer["access_key"],
                "SecretAccessKey": answer["secret_key"], "SessionToken": answer["token"],
                "Expiration": answer["expiry_time"]}
    if answer.get("account_id"):
        document["AccountId"] = answer["account_id"]
    return document
