"""The one place that decides what a dependency's error means: transient or definitive.

Probes catch every error their client library raises and turn it into one of three things:

- an observation (plain data) for answers a check judges, e.g. HeadBucket's 404;
- `Refused`: a definitive answer — permission denied, no credentials, a broken key file —
  which the check judges into a failure with its fix;
- `Transient`: a later attempt could get a different answer (unreachable, timed out, 5xx,
  throttled); it carries the library's error as its cause.

The runner retries `Transient` and nothing else; any other exception is a bug, reported as
a non-transient error (fail closed). Classification looks at exception types by module and
name, so this module imports none of the cloud clients.
"""

from __future__ import annotations

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


def _http_status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    code = getattr(error, "code", None)
    return code if isinstance(code, int) else None


def is_transient(error: BaseException) -> bool:
    """True when a later attempt could plausibly get a different answer.

    For the Firestore and S3 clients' errors; google-auth's are classified in probes/gcp.py,
    which knows which of its calls reached which server.
    """
    import socket  # here, not at the top: the command line imports this module for --help

    if isinstance(error, Transient):
        return True
    module = type(error).__module__
    name = type(error).__name__
    if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror, socket.timeout)):
        return True
    if module.startswith("google.api_core"):
        return name in TRANSIENT_API_CORE or (_http_status(error) or 0) >= 500
    if module.startswith(("botocore", "urllib3")):
        if name in TRANSIENT_BOTOCORE:
            return True
        # ClientError, or a modeled subclass (botocore.errorfactory.*Exception).
        if isinstance(getattr(error, "response", None), dict):
            status = _http_status(error) or 0
            aws_code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
            return status >= 500 or status == 429 or aws_code in TRANSIENT_AWS_CODES
    if module.startswith("grpc"):
        code = getattr(error, "code", None)
        code_name = getattr(code(), "name", "") if callable(code) else ""
        return code_name in TRANSIENT_GRPC
    cause = error.__cause__ or error.__context__
    return cause is not None and cause is not error and is_transient(cause)
