"""What a probe's answer means: each backend's judge, and what they share.

Each backend's module here has `judge(endpoint, observation) -> Outcome`: pass, fail with a
fix, or a transient error (a later attempt could answer differently).
"""

from __future__ import annotations

from preflight.core.result import Outcome, Status
from preflight.observe.rest import HttpObservation


def passed(message: str) -> Outcome:
    return Outcome(Status.PASS, message)


def failed(message: str, fix: str) -> Outcome:
    return Outcome(Status.FAIL, message, remediation=fix)


def transient(message: str, fix: str | None = None) -> Outcome:
    return Outcome(Status.ERROR, message, remediation=fix, transient=True)


def answer(outcome: Outcome) -> str:
    """How a probe's result reads in the verdict's details: pass, fail or transient."""
    return "transient" if outcome.transient else outcome.status.value


RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def http_trouble(service: str, where: str, seen: HttpObservation) -> Outcome | None:
    """What every REST probe says alike: no answer, no credentials, retryable statuses."""
    if seen.no_credentials:
        return failed(f"no Google credentials to reach {where}",
                      "provide Application Default Credentials (Workload Identity on GKE, "
                      "the service account on Cloud Run, or GOOGLE_APPLICATION_CREDENTIALS)")
    if seen.credentials_refused:
        return failed(f"the token endpoint refused the credentials for {where}",
                      "issue new credentials for the workload's service account")
    if seen.status == 0:
        return transient(f"no answer from {service} for {where} ({seen.transport_error})",
                         "check that the endpoint is up and reachable from this pod")
    if seen.status in RETRY_STATUSES:
        return transient(f"{service} answered {seen.status} for {where}")
    if seen.status == 401:
        return failed(f"{service} rejected the credentials for {where} (401)",
                      "check the workload's credentials or key")
    return None
