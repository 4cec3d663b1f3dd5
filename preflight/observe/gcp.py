"""Application Default Credentials, resolved and refreshed with bounded calls.

google-auth retries on its own: a metadata-server call five times (sleeping 1, 2, 4, 8 s),
a token-endpoint call three times, the detection ping three times. Stacked on the runner's
retries that would outlive the attempt timeout, and the error it raises at the end (a
RefreshError) looks definitive although the server was only down. So the transport handed
to google-auth stops at the first sign of trouble with an error google-auth does not catch,
and this module decides what each outcome means (see observe/errors.py):

- the metadata server or token endpoint unreachable, timing out, or answering 5xx / 429:
  `Transient`, with the cause;
- no credentials anywhere, a broken key file, a refused token request: `Refused`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight.core.redact import describe_exception
from preflight.observe.errors import RETRY_STATUSES, Refused, Transient, classify

DATASTORE_SCOPE = "https://www.googleapis.com/auth/datastore"
# What google-auth itself retries (google.auth.transport.DEFAULT_RETRYABLE_STATUS_CODES),
# plus 502.
GCE_PRODUCT_NAME = Path("/sys/class/dmi/id/product_name")


@dataclass(frozen=True)
class CredentialsObservation:
    credentials: Any
    kind: str  # e.g. "service_account", "compute_engine", "external_account"
    principal: str | None
    project: str | None


class _Stop(Transient):
    """Raised by the transport to end google-auth's own retry loops (it catches only its
    TransportError): transient, unless refresh_default_credentials says otherwise."""

    def __init__(self, what: str, cause: BaseException | None = None) -> None:
        super().__init__(cause, what)


class _Unreachable(_Stop):
    pass


class _Unavailable(_Stop):
    pass


class _OutOfTime(_Stop):
    pass


def _bounded_request(budget: float) -> Any:
    """A google-auth transport: every call bounded by what is left of `budget`, one try."""
    import google.auth.transport.requests
    from google.auth import exceptions

    deadline = time.monotonic() + budget

    class BoundedRequest(google.auth.transport.requests.Request):
        def __call__(self, url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _OutOfTime(f"no answer from {_host(url)} within the attempt timeout")
            kwargs["timeout"] = min(kwargs.get("timeout") or remaining, remaining)
            try:
                response = super().__call__(url, method, *args, **kwargs)  # type: ignore[no-untyped-call]
            except exceptions.TransportError as error:
                raise _Unreachable(f"{_host(url)} unreachable", error) from error
            if response.status in RETRY_STATUSES:
                raise _Unavailable(f"{_host(url)} answered {response.status}")
            return response

    return BoundedRequest()


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def adc_source(environ: Mapping[str, str]) -> str:
    """Where google.auth.default() takes credentials from, in its own order (_default.py)."""
    if environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return "key_file"
    from google.auth import _cloud_sdk

    if os.path.isfile(_cloud_sdk.get_application_default_credentials_path()):
        return "gcloud_file"
    return "metadata"


def metadata_server_expected(environ: Mapping[str, str]) -> bool:
    """A metadata server must be there: configured explicitly, or this is a Google VM."""
    if environ.get("GCE_METADATA_HOST") or environ.get("GCE_METADATA_IP"):
        return True
    try:
        return GCE_PRODUCT_NAME.read_text(encoding="utf-8").startswith("Google")
    except OSError:
        return False



def refresh_default_credentials(timeout: float,
                                environ: Mapping[str, str] | None = None,
                                ) -> CredentialsObservation:
    """An observation, or `Transient` / `Refused` (the only exceptions meant to leave)."""
    import google.auth
    from google.auth import exceptions

    environ = os.environ if environ is None else environ
    source = adc_source(environ)
    request = _bounded_request(timeout)
    try:
        credentials, project = google.auth.default(scopes=[DATASTORE_SCOPE], request=request)
    except _Unreachable as error:
        # Only the metadata server is asked during detection. Unreachable where none is
        # expected is google-auth's "not on Google Cloud": no credentials anywhere.
        if metadata_server_expected(environ):
            raise Transient(error.cause, "the metadata server did not answer") from error
        raise Refused("no_credentials", "no Application Default Credentials: no "
                      "GOOGLE_APPLICATION_CREDENTIALS, no gcloud ADC file, and no metadata "
                      "server (not on Google Cloud)", error) from error
    except exceptions.DefaultCredentialsError as error:
        raise Refused(source if source != "metadata" else "no_credentials",
                      describe_exception(error), error) from error
    try:
        credentials.refresh(request)
    except exceptions.GoogleAuthError as error:
        seen = classify(error)
        if isinstance(seen, Refused) and isinstance(error, exceptions.RefreshError):
            seen = Refused("token_refused", seen.text, error)
        raise seen from error
    module = type(credentials).__module__.rsplit(".", 1)[-1]
    principal = getattr(credentials, "service_account_email", None)
    return CredentialsObservation(
        credentials=credentials,
        kind=module,
        principal=principal if isinstance(principal, str) and "@" in principal else None,
        project=project,
    )
