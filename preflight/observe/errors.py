"""The one place that decides what a dependency's error means: transient or definitive.

Every observation (this package) turns what its client library raises into one of three:

- an observation (plain data) for answers a judge reads, e.g. HeadBucket's 404;
- `Refused`: a definitive answer — permission denied, no credentials, a broken key file —
  which its judge turns into a failure with its fix;
- `Transient`: a later attempt could get a different answer (unreachable, timed out, 5xx,
  throttled); it carries the library's error as its cause.

`classify` is the rule for every client preflight uses: google-auth, gRPC and
google-api-core (google-cloud-storage and -bigquery raise its errors), botocore (credential
providers included), requests, redis-py, azure-core and azure-cosmos. The runner retries
`Transient` and nothing else; any other exception is a bug, reported as a non-transient
error (fail closed). Classification looks at exception types by module and name, so this
module imports none of the clients.
"""

from __future__ import annotations

import re

from preflight.core.redact import describe_exception

# google.api_core exceptions for gRPC UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
# ABORTED, INTERNAL and HTTP 5xx / 429, plus a RetryError wrapping one of them.
TRANSIENT_API_CORE = frozenset({
    "ServiceUnavailable", "DeadlineExceeded", "ResourceExhausted", "Aborted",
    "InternalServerError", "GatewayTimeout", "BadGateway", "TooManyRequests", "RetryError",
})
# botocore: connection trouble of every flavour.
TRANSIENT_BOTOCORE = frozenset({
    "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
    "ProxyConnectionError", "HTTPClientError", "ConnectionError", "ResponseStreamingError",
})
# S3 / AWS error codes that say "try again".
TRANSIENT_AWS_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
    "InternalError", "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequestsException",
    "503", "500", "502", "504", "429",
    "IDPCommunicationError",  # STS could not reach the identity provider's keys: try again
})
# gRPC status codes that say "try again".
TRANSIENT_GRPC = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED"})
# redis-py: the server is away, busy or not ready yet.
TRANSIENT_REDIS = frozenset({"ConnectionError", "TimeoutError", "BusyLoadingError",
                             "TryAgainError", "ClusterDownError", "MasterDownError"})
# azure-core: no answer at all; azure-cosmos: its own bound on an operation ran out.
TRANSIENT_AZURE = frozenset({"ServiceRequestError", "ServiceResponseError",
                             "ServiceRequestTimeoutError", "ServiceResponseTimeoutError",
                             "CosmosClientTimeoutError"})
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Where a dependency's answers come from; any other exception is preflight's own bug.
CLIENT_MODULES = ("google.", "grpc", "botocore", "boto3", "urllib3", "requests", "redis",
                  "azure")
# What preflight's own credential_process prints when it is not ready (app/aws_credentials).
PROCESS_NOT_READY = "preflight aws-credentials: not ready"
CONTAINER_STATUS = re.compile(r"non 200 response (\d{3})")


class Transient(Exception):
    """A later attempt could get a different answer. `cause` is the library's error."""

    described_plainly = True  # its text already names the cause

    def __init__(self, cause: BaseException | None, what: str | None = None) -> None:
        self.cause = cause
        text = what or (describe_exception(cause) if cause is not None else "transient error")
        if what and cause is not None:
            text = f"{what}: {describe_exception(cause)}"
        super().__init__(text)


class Refused(Exception):
    """A definitive answer from a dependency, for its check to judge.

    `kind` names the refusal (the library error's class name, or a probe's own word such as
    `key_file`); `text` is a short, single-line description safe to show.
    """

    def __init__(self, kind: str, text: str, cause: BaseException | None = None) -> None:
        self.kind = kind
        self.text = text
        self.cause = cause
        super().__init__(f"{kind}: {text}")


def http_status(error: BaseException) -> int | None:
    """The HTTP status a client library's error carries (botocore, google-api-core,
    azure-core), if any; google-api-core maps a gRPC call's code to one too."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    for name in ("status_code", "code"):
        code = getattr(error, name, None)
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


def classify(error: BaseException) -> Transient | Refused:
    """The one rule: try again (Transient), or a client's definitive answer (Refused).

    An error no client raised is a bug in preflight: it is raised again, for the runner to
    report as an error (never a refusal with a misleading fix, never a pass).
    """
    if isinstance(error, (Transient, Refused)):
        return error
    if is_transient(error):
        return Transient(error)
    if type(error).__module__.startswith(CLIENT_MODULES):
        return Refused(type(error).__name__, describe_exception(error), error)
    raise error


def refresh_failed_in_transport(error: BaseException) -> bool:
    """google-auth's RefreshError whose cause is a transport failure or a 5xx, 429."""
    seen: set[int] = set()
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if type(cause).__name__ == "TransportError" and type(cause).__module__.startswith(
                "google.auth"):
            response = cause.args[1] if len(cause.args) > 1 else None
            status = getattr(response, "status", None)
            return not (isinstance(status, int) and status < 500 and status != 429)
        cause = cause.__cause__ or cause.__context__
    return bool(getattr(error, "retryable", False))


def _credential_provider_transient(error: BaseException) -> bool:
    """botocore's CredentialRetrievalError: a provider that could answer next time."""
    kwargs = getattr(error, "kwargs", {})
    provider = str(kwargs.get("provider", ""))
    text = str(kwargs.get("error_msg", ""))
    if provider == "container-role":
        status = CONTAINER_STATUS.search(text)
        return status is None or int(status.group(1)) in RETRY_STATUSES
    return provider == "custom-process" and PROCESS_NOT_READY in text


def is_transient(error: BaseException) -> bool:
    """True when a later attempt could plausibly get a different answer."""
    import socket  # here, not at the top: the command line imports this module for --help

    if isinstance(error, Transient):
        return True
    if isinstance(error, Refused):
        return False
    module = type(error).__module__
    name = type(error).__name__
    if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror, socket.timeout)):
        return True
    if module.startswith("google.auth"):
        if name == "TransportError":
            return True
        if name == "RefreshError":
            return refresh_failed_in_transport(error)
    if module.startswith("redis"):
        return name in TRANSIENT_REDIS
    if module.startswith("azure"):
        if name in TRANSIENT_AZURE:
            return True
        status = getattr(error, "status_code", None)
        return isinstance(status, int) and status in RETRY_STATUSES
    if module.startswith("requests"):
        return name in ("ConnectionError", "Timeout", "ConnectTimeout", "ReadTimeout",
                        "ChunkedEncodingError")
    if name == "CredentialRetrievalError" and module.startswith("botocore"):
        return _credential_provider_transient(error)
    if module.startswith("google.api_core"):
        return name in TRANSIENT_API_CORE or (http_status(error) or 0) >= 500
    if module.startswith(("botocore", "urllib3")):
        if name in TRANSIENT_BOTOCORE:
            return True
        # ClientError, or a modeled subclass (botocore.errorfactory.*Exception).
        if isinstance(getattr(error, "response", None), dict):
            status = http_status(error) or 0
            aws_code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
            return status >= 500 or status == 429 or aws_code in TRANSIENT_AWS_CODES
    if module.startswith("grpc"):
        code = getattr(error, "code", None)
        code_name = getattr(code(), "name", "") if callable(code) else ""
        return code_name in TRANSIENT_GRPC
    cause = error.__cause__ or error.__context__
    return cause is not None and cause is not error and is_transient(cause)
