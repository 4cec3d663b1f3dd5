"""AWS credentials from a Google-signed ID token: keyless S3 from Cloud Run.

Cloud Run mounts no projected Kubernetes token, but its metadata server signs ID tokens for
the service's account with any audience asked for. This module asks for one and trades it
with STS AssumeRoleWithWebIdentity (provider `accounts.google.com`) through botocore's own
AssumeRoleWithWebIdentityCredentialFetcher, whose token loader is the metadata request;
botocore's refreshable credentials renew them before they expire, each time with a new ID
token. preflight's own session puts `provider()` at the head of its credential chain;
`preflight aws-credentials` (preflight.app.aws_credentials) serves the engines' boto3.

Metadata calls go through `_metadata_request`: one try each, bounded, and a failing server
(down, 5xx, hung) is raised as transient at once instead of being retried by google-auth
(five tries with 1-8 s sleeps) behind the caller's back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from preflight.config.web_identity import WebIdentity
from preflight.observe.errors import RETRY_STATUSES

METHOD = "gcp-web-identity"  # the credential `method` botocore reports for this provider
_PUBLIC_CLAIMS = ("iss", "aud", "azp", "sub", "email")


class MetadataUnavailable(ConnectionError):
    """The metadata server is down, failing (5xx, 429) or too slow: transient."""


class MetadataRefused(Exception):
    """The metadata server answered, but not with an ID token (4xx): definitive."""

    def __init__(self, status: int, where: str, text: str) -> None:
        self.status = status
        super().__init__(f"the metadata server {where} answered {status} to the ID token "
                         f"request{': ' + text if text else ''}")


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

    inner = Request(urllib3.PoolManager(retries=False))

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
        if response.status in RETRY_STATUSES or response.status >= 500:
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
        credentials = IDTokenCredentials(
            None, self.audience, use_metadata_identity_endpoint=True, bind_id_token=False)
        try:
            credentials.refresh(_metadata_request(self.timeout))
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
