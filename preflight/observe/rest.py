"""Bounded GET requests for the REST probes (GCS, BigQuery, Cosmos), answers as data.

`requests` is already loaded by google-auth; no REST client library is needed for one
GET. Transport trouble (refused, timed out, reset) comes back as an observation with no
status, so every probe's judge can call it transient; bodies are reduced to the API's
error reason token and dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

READ_ONLY_SCOPE = "https://www.googleapis.com/auth/cloud-platform.read-only"
_REASON = re.compile(r"[A-Za-z]{1,40}")


@dataclass(frozen=True)
class HttpObservation:
    """One REST call's answer: the status and the API's error reason token, never a body."""

    status: int  # 0: no HTTP answer at all
    reason: str | None = None  # e.g. notFound, accessDenied, Unauthorized
    transport_error: str | None = None  # the class of the error when there was no answer
    no_credentials: bool = False  # Application Default Credentials could not be found
    credentials_refused: bool = False  # the token endpoint refused them



def google_credentials() -> tuple[Any, str | None]:
    """Application Default Credentials with a read-only scope, and their project.

    Raises google.auth's DefaultCredentialsError when there are none.
    """
    import google.auth

    credentials, project = google.auth.default(scopes=[READ_ONLY_SCOPE])
    return credentials, project


def google_session(credentials: Any | None) -> Any:
    """An authorised session, or a plain one (emulators take no credentials)."""
    import requests

    if credentials is None:
        return requests.Session()
    from google.auth.transport.requests import AuthorizedSession

    return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]


def _reason(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    candidates: list[Any] = []
    if isinstance(error, dict):  # Google: {"error": {"errors": [{"reason": …}], "status": …}}
        errors = error.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            candidates.append(errors[0].get("reason"))
        candidates.append(error.get("status"))
    candidates.append(body.get("code"))  # Cosmos: {"code": "NotFound", "message": …}
    return next((str(c) for c in candidates if isinstance(c, str) and _REASON.fullmatch(c)),
                None)


def get(session: Any, url: str, timeout: float, *, params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None) -> HttpObservation:
    import requests
    from google.auth import exceptions as auth_errors

    try:
        with session.get(url, params=params, headers=headers, timeout=(timeout, timeout),
                         allow_redirects=False) as response:
            return HttpObservation(response.status_code,
                                   None if response.ok else _reason(response))
    except (requests.ConnectionError, requests.Timeout) as error:
        return HttpObservation(0, transport_error=type(error).__name__)
    except auth_errors.TransportError as error:
        return HttpObservation(0, transport_error=type(error).__name__)
    except auth_errors.RefreshError as error:
        if getattr(error, "retryable", False):
            return HttpObservation(0, transport_error=type(error).__name__)
        return HttpObservation(0, credentials_refused=True)
