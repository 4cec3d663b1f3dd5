"""Retry policy as data: what is transient, and how long to wait before the next try.

Classification looks at exception types by module and name so that this module imports
none of the cloud clients (they load lazily, inside the checks that need them).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity

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
# google.auth: the token endpoint or metadata server could not be reached.
TRANSIENT_GOOGLE_AUTH = frozenset({"TransportError"})


def _http_status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    code = getattr(error, "code", None)
    return code if isinstance(code, int) else None


def is_transient(error: BaseException) -> bool:
    """True when a later attempt could plausibly get a different answer."""
    module = type(error).__module__
    name = type(error).__name__
    if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror, socket.timeout)):
        return True
    if module.startswith("google.api_core"):
        return name in TRANSIENT_API_CORE or (_http_status(error) or 0) >= 500
    if module.startswith("google.auth"):
        if name in TRANSIENT_GOOGLE_AUTH:
            return True
        return bool(getattr(error, "retryable", False))
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
        return code_name in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED")
    cause = error.__cause__ or error.__context__
    return cause is not None and cause is not error and is_transient(cause)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, capped; the cap bounds time-to-green."""

    initial: float = 0.2
    cap: float = 2.0

    def wait(self) -> tenacity.wait.wait_base:
        return tenacity.wait_random_exponential(multiplier=self.initial, max=self.cap)

    def delay(self, attempt_number: int) -> float:
        """The same wait outside a tenacity loop: between rounds of --wait and serve."""
        state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt_number
        return float(self.wait()(state))


LAST_ATTEMPT_MARGIN = 0.1  # seconds: no new attempt this close to the deadline


class Cancelled(Exception):
    """The run was stopped (deadline or signal) while a check was waiting to retry."""


def retrying(
    backoff: Backoff,
    deadline: float,
    cancel: threading.Event,
    on_retry: Callable[[tenacity.RetryCallState], None],
) -> tenacity.Retrying:
    """A tenacity policy that retries up to the deadline and wakes up on cancel.

    The last wait is cut short rather than skipped, so a dependency that comes back in the
    final second is still seen; the runner abandons whatever attempt is in flight at the
    deadline itself.
    """

    def past_deadline(_state: tenacity.RetryCallState) -> bool:
        return cancel.is_set() or time.monotonic() >= deadline - LAST_ATTEMPT_MARGIN

    def sleep(seconds: float) -> None:
        remaining = deadline - LAST_ATTEMPT_MARGIN - time.monotonic()
        if cancel.wait(max(0.0, min(seconds, remaining))):
            raise Cancelled

    kwargs: dict[str, Any] = {
        "retry": tenacity.retry_if_exception(is_transient),
        "wait": backoff.wait(),
        "stop": past_deadline,
        "sleep": sleep,
        "before_sleep": on_retry,
        "reraise": True,
    }
    return tenacity.Retrying(**kwargs)
