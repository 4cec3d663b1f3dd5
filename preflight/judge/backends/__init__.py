"""What a probe's answer means: each backend's judge, and what they share.

Each backend's module here has `judge(endpoint, observation) -> Outcome`: pass, or fail
with a fix. Observations are definitive answers only: what was not (no answer, a 5xx, a
throttle) never reaches a judge (observe/errors.py; judge/reachable.py judge_one).
"""

from __future__ import annotations

from preflight.core.result import Outcome, Status
from preflight.observe.google_api import ApiAnswer


def passed(message: str) -> Outcome:
    return Outcome(Status.PASS, message)


def failed(message: str, fix: str) -> Outcome:
    return Outcome(Status.FAIL, message, remediation=fix)


def transient(message: str, fix: str | None = None) -> Outcome:
    return Outcome(Status.ERROR, message, remediation=fix, transient=True)


def answer(outcome: Outcome) -> str:
    """How a probe's result reads in the verdict's details: pass, fail or transient."""
    return "transient" if outcome.transient else outcome.status.value


def google_trouble(service: str, where: str, seen: ApiAnswer) -> Outcome | None:
    """What the Google API probes say alike: no credentials, or credentials refused."""
    if seen.no_credentials:
        return failed(f"no Google credentials to reach {where}",
                      "provide Application Default Credentials (Workload Identity on GKE, "
                      "the service account on Cloud Run, or GOOGLE_APPLICATION_CREDENTIALS)")
    if seen.credentials_refused:
        return failed(f"the token endpoint refused the credentials for {where}",
                      "issue new credentials for the workload's service account")
    if seen.status == 401:
        return failed(f"{service} rejected the credentials for {where} (401)",
                      "check the workload's credentials or key")
    return None
