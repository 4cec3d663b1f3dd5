"""AWS credentials as botocore's own chain resolves them, and who STS says they are.

One botocore session per run serves aws.credentials and s3.bucket, so S3 is called with the
very credentials STS vouched for (and refreshed by the same object). Library errors end
here: a definitive one becomes a `Refusal`, a transient one is raised as `Transient`
(observe/errors.py) for the runner to retry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from preflight.config.web_identity import WebIdentity
from preflight.core.redact import describe_exception, strip_url_userinfo
from preflight.observe.errors import CONTAINER_STATUS, Transient, is_transient
from preflight.observe.web_identity import METHOD as GCP_WEB_IDENTITY
from preflight.observe.web_identity import MetadataRefused

SERVICES = ("s3", "sts", "dynamodb")
# What a developer's IAM Identity Center (`aws sso login`) or `aws login` profile calls to
# resolve its credentials: listed when botocore has their models (a pip install has them;
# the image ships only SERVICES').
DEVELOPER_SERVICES = ("sso", "sso-oidc", "signin")


@dataclass(frozen=True)
class Refusal:
    """A definitive no, from AWS or from a local piece of the chain."""

    code: str  # the AWS error code, or a local one (TokenFileUnreadable, ...)
    operation: str  # GetCallerIdentity, AssumeRoleWithWebIdentity, credential_process, ...
    message: str
    http_status: int | None = None


@dataclass(frozen=True)
class Identity:
    """What the chain and STS said. At most one of arn / no_credentials / refusal is set;
    none when the chain resolved and STS was not asked (`resolve_chain`)."""

    source: str | None  # botocore's credential `method`, e.g. "env"
    endpoint: str  # the STS endpoint asked
    arn: str | None = None
    account: str | None = None
    user_id: str | None = None
    no_credentials: bool = False
    refusal: Refusal | None = None
    role_arn: str | None = None  # the role a web identity provider assumes
    token_claims: dict[str, str] = field(default_factory=dict)  # of a Google ID token

    @property
    def failed(self) -> bool:
        return self.no_credentials or self.refusal is not None


def restricted_loader(data_path: str | None) -> Any:
    """botocore's loader, told that the services preflight calls are the only ones there are.

    Creating a client validates its name against every service botocore knows: about 900
    directory listings and 2,700 stats (~30 ms) on each start, to learn that s3 exists.
    """
    import botocore.loaders

    class ListedServicesLoader(botocore.loaders.Loader):
        def list_available_services(self, type_name: str) -> list[str]:
            return [name for name in (*SERVICES, *DEVELOPER_SERVICES) if any(
                os.path.isdir(os.path.join(path, name)) for path in self.search_paths)]

    extra = [os.path.expanduser(os.path.expandvars(path))
             for path in (data_path or "").split(os.pathsep) if path]
    return ListedServicesLoader(extra_search_paths=extra)


def make_session(timeout: float, web_identity: WebIdentity | None = None) -> Any:
    """A botocore session whose clients make one bounded try per call.

    With `web_identity`, preflight's Google-token provider heads the credential chain; the
    rest of the chain is botocore's, untouched (environment, web identity token file,
    profiles, credential_process, container endpoint, instance metadata).
    """
    import botocore.config
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", restricted_loader(
        session.get_config_variable("data_path")))
    # Also for the clients botocore makes itself, e.g. the AssumeRoleWithWebIdentity one.
    session.set_default_client_config(botocore.config.Config(
        connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1}))
    if web_identity is not None:
        from preflight.observe import web_identity as gcp

        resolver = session.get_component("credential_provider")
        resolver.providers.insert(0, gcp.provider(session, web_identity, timeout))
    return session


def _web_identity(session: Any) -> tuple[str | None, dict[str, str]]:
    """The configured role and the last ID token's claims, when preflight's provider is on."""
    resolver = session.get_component("credential_provider")
    for provider in resolver.providers:
        if provider.METHOD == GCP_WEB_IDENTITY:
            return provider.identity.role_arn, dict(provider.token.claims)
    role = os.environ.get("AWS_ROLE_ARN") if os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") \
        else None
    return role, {}


def caller_identity(session: Any) -> Identity:
    """Resolves the chain and calls GetCallerIdentity; transient trouble is raised."""
    from botocore.exceptions import NoCredentialsError

    source: str | None = None
    endpoint = ""
    try:
        credentials = session.get_credentials()
        if credentials is None:
            return _seen(session, None, endpoint, no_credentials=True)
        source = credentials.method
        client = session.create_client("sts")
        endpoint = strip_url_userinfo(str(client.meta.endpoint_url))
        answer = client.get_caller_identity()
    except NoCredentialsError:
        return _seen(session, source, endpoint, no_credentials=True)
    except Exception as error:  # noqa: BLE001 - refusal() raises again what is not a refusal
        return _seen(session, source, endpoint, refusal=refusal(error, source))
    return _seen(session, source, endpoint, arn=answer.get("Arn"),
                 account=answer.get("Account"), user_id=answer.get("UserId"))


def resolve_chain(session: Any) -> Identity:
    """The credentials a probe is about to call AWS with, resolved as aws.credentials
    resolves them: a chain that fails is its refusal (a credential_process that exits 3,
    a container endpoint that refuses, no credentials at all), judged by aws.credentials'
    own judgement; transient trouble is raised."""
    from botocore.exceptions import NoCredentialsError

    source: str | None = None
    try:
        credentials = session.get_credentials()
        if credentials is None:
            return _seen(session, None, "", no_credentials=True)
        source = credentials.method
        credentials.get_frozen_credentials()  # refreshable ones fetch here (web identity)
    except NoCredentialsError:
        return _seen(session, source, "", no_credentials=True)
    except Exception as error:  # noqa: BLE001 - refusal() raises again what is not a refusal
        return _seen(session, source, "", refusal=refusal(error, source))
    return _seen(session, source, "")


def _seen(session: Any, source: str | None, endpoint: str, **fields: Any) -> Identity:
    role, claims = _web_identity(session)
    return Identity(source=source, endpoint=endpoint, role_arn=role, token_claims=claims,
                    **fields)


def refusal(error: Exception, source: str | None) -> Refusal:
    """A definitive refusal, or the error raised again (as transient) for the runner."""
    from botocore.exceptions import ClientError, CredentialRetrievalError

    if is_transient(error):
        raise Transient(error) from error
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return Refusal(str(details.get("Code") or "Unknown"), error.operation_name,
                       _one_line(str(details.get("Message") or "")),
                       status if isinstance(status, int) else None)
    if isinstance(error, CredentialRetrievalError):
        return _retrieval(error)
    if type(error).__name__ in ("UnknownServiceError", "DataNotFoundError") and any(
            f"'{name}'" in str(error) or getattr(error, "kwargs", {}).get("service_name") == name
            for name in DEVELOPER_SERVICES):
        return Refusal("DeveloperProfileUnsupported", "resolve the AWS credential chain",
                       "the profile signs in with IAM Identity Center (SSO) or `aws login`, "
                       "whose service models this install of preflight does not have (the "
                       "image ships only those of S3, STS and DynamoDB)")
    if isinstance(error, MetadataRefused):
        return Refusal("MetadataServerRefused", "metadata identity", str(error),
                       error.status)
    if isinstance(error, OSError) and source == "assume-role-with-web-identity":
        return Refusal("TokenFileUnreadable", "read AWS_WEB_IDENTITY_TOKEN_FILE",
                       describe_exception(error))
    if type(error).__module__.startswith("botocore") or isinstance(error, (OSError,
                                                                          ValueError)):
        # InvalidConfigError, PartialCredentialsError, ProfileNotFound, ParamValidationError,
        # a container endpoint on a host botocore refuses, an unreadable file...
        return Refusal("InvalidConfiguration", "resolve the AWS credential chain",
                       describe_exception(error))
    raise error  # a bug: the runner reports it as an error, never a pass


def _retrieval(error: Exception) -> Refusal:
    """A credential provider's definitive failure (is_transient ruled out the others)."""
    kwargs = getattr(error, "kwargs", {})
    provider = str(kwargs.get("provider", ""))
    text = str(kwargs.get("error_msg", "")).strip()
    if provider == "container-role":  # with a status is_transient judged definitive
        status = CONTAINER_STATUS.search(text)
        return Refusal("ContainerEndpointRefused", "container credentials endpoint",
                       _one_line(text), int(status.group(1)) if status else None)
    if provider == "custom-process":
        return Refusal("CredentialProcessFailed", "credential_process", _one_line(text))
    return Refusal("CredentialRetrievalFailed", provider or "credential provider",
                   _one_line(text))


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
