"""A Google Cloud client library's answer as data: what GCS and BigQuery probes share.

google-cloud-storage and google-cloud-bigquery raise google-api-core's errors for an HTTP
refusal (its status and the API's reason token are kept, never the body or message) and
google-auth's for credentials. Definitive answers come back as an `ApiAnswer`; the rest is
raised as `classify` says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from preflight.observe.errors import classify, is_transient

_REASON = re.compile(r"[A-Za-z]{1,40}")


@dataclass(frozen=True)
class ApiAnswer:
    """One call's definitive answer: 200, or the refusal's status and reason token."""

    status: int  # 0 when the credentials, not the API, answered
    reason: str | None = None  # e.g. notFound, accessDenied
    no_credentials: bool = False  # Application Default Credentials could not be found
    credentials_refused: bool = False  # the token endpoint refused them


def _reason(error: Exception) -> str | None:
    errors = getattr(error, "errors", None)
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
        if isinstance(reason, str) and _REASON.fullmatch(reason):
            return reason
    return None


def refusal(error: Exception) -> ApiAnswer:
    """The definitive answer `error` carries, or `classify(error)` raised."""
    module, name = type(error).__module__, type(error).__name__
    if is_transient(error):
        raise classify(error) from error
    if module.startswith("google.auth") and name == "DefaultCredentialsError":
        return ApiAnswer(0, no_credentials=True)
    if module.startswith("google.auth") and name == "RefreshError":
        return ApiAnswer(0, credentials_refused=True)
    status = getattr(error, "code", None)
    if module.startswith("google.api_core") and isinstance(status, int):
        return ApiAnswer(status, _reason(error))
    raise classify(error) from error


def no_retry() -> Any:
    """The runner owns retries. (retry=None would be the obvious way, but with it
    google-cloud-firestore 2.34 turns an error mid-stream into an AttributeError, and
    google-cloud-bigquery's types do not allow it.)"""
    from google.api_core.retry import Retry

    return Retry(predicate=lambda _error: False)


def answer(call: Callable[[], Any]) -> ApiAnswer:
    try:
        call()
    except Exception as error:  # noqa: BLE001 - refusal() raises again what is not one
        return refusal(error)
    return ApiAnswer(200)
