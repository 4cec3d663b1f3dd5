"""gcp.credentials: Application Default Credentials resolve and a token can be obtained."""

from __future__ import annotations

from preflight.checks.base import Check, Context
from preflight.config import Config
from preflight.probes import gcp
from preflight.redact import describe_exception
from preflight.retry import is_transient
from preflight.verdict import Outcome, Status

ADC_HELP = (
    "provide Application Default Credentials: on GKE bind the Kubernetes service account "
    "with Workload Identity, on Cloud Run give the service a service account, elsewhere set "
    "GOOGLE_APPLICATION_CREDENTIALS to a key file (or FIRESTORE_EMULATOR_HOST for an emulator)"
)


def judge(observation: gcp.CredentialsObservation) -> Outcome:
    who = observation.principal or f"{observation.kind} credentials"
    return Outcome(
        Status.PASS,
        f"token obtained for {who}",
        details={"principal": observation.principal, "credentials_type": observation.kind,
                 "adc_project": observation.project},
    )


def judge_refusal(error: Exception) -> Outcome:
    """Definitive refusals: no credentials found, a broken key file, a revoked key."""
    name = type(error).__name__
    text = describe_exception(error)
    if name == "DefaultCredentialsError":
        return Outcome(Status.FAIL, f"no usable Application Default Credentials: {text}",
                       remediation=ADC_HELP, details={"error": name})
    return Outcome(
        Status.FAIL, f"the token endpoint refused the credentials: {text}",
        remediation="the key or binding may be revoked, expired or for a deleted service "
        "account: issue new credentials for the service account and redeploy",
        details={"error": name})


class GcpCredentials(Check):
    name = "gcp.credentials"

    def skip_reason(self, config: Config) -> str | None:
        if config.emulator_host:
            return f"FIRESTORE_EMULATOR_HOST is set ({config.emulator_host}): no credentials needed"
        return None

    def attempt(self, ctx: Context) -> Outcome:
        try:
            observation = gcp.refresh_default_credentials(ctx.call_timeout())
        except Exception as error:
            if is_transient(error) or type(error).__module__.split(".")[0] != "google":
                raise
            return judge_refusal(error)
        ctx.put("gcp.credentials", observation.credentials)
        return judge(observation)
