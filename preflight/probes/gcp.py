"""Application Default Credentials, resolved and refreshed with bounded calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DATASTORE_SCOPE = "https://www.googleapis.com/auth/datastore"


@dataclass(frozen=True)
class CredentialsObservation:
    credentials: Any
    kind: str  # e.g. "service_account", "compute_engine", "external_account"
    principal: str | None
    project: str | None


def _timed_request(timeout: float) -> Any:
    """A google-auth transport whose every call is bounded, even where google-auth passes none."""
    import google.auth.transport.requests

    class TimedRequest(google.auth.transport.requests.Request):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["timeout"] = min(kwargs.get("timeout") or timeout, timeout)
            return super().__call__(*args, **kwargs)  # type: ignore[no-untyped-call]

    return TimedRequest()


def _metadata_server_trouble(request: Any) -> None:
    """Raises a transient error when a configured metadata server is failing, not absent.

    google-auth reads any non-200 answer to its detection request as "not on Google
    Cloud", which would turn a metadata server's 500 into a definitive "no credentials".
    """
    import os

    from google.auth import exceptions

    host = os.environ.get("GCE_METADATA_HOST") or os.environ.get("GCE_METADATA_IP")
    if not host:
        return
    response = request(url=f"http://{host}/computeMetadata/v1/instance/service-accounts/"
                       "default/email", method="GET", headers={"Metadata-Flavor": "Google"})
    if response.status >= 500 or response.status == 429:
        raise exceptions.TransportError(  # type: ignore[no-untyped-call]
            f"the metadata server {host} answered {response.status}")


def refresh_default_credentials(timeout: float) -> CredentialsObservation:
    """Raises google.auth's DefaultCredentialsError / RefreshError / TransportError as they come."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    request = _timed_request(timeout)
    try:
        credentials, project = google.auth.default(scopes=[DATASTORE_SCOPE], request=request)
    except DefaultCredentialsError:
        _metadata_server_trouble(request)
        raise
    credentials.refresh(request)  # type: ignore[no-untyped-call]
    module = type(credentials).__module__.rsplit(".", 1)[-1]
    principal = getattr(credentials, "service_account_email", None)
    return CredentialsObservation(
        credentials=credentials,
        kind=module,
        principal=principal if isinstance(principal, str) and "@" in principal else None,
        project=project,
    )
