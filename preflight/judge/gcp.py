"""Google credentials: what a refreshed token, or a refusal, means for the pod."""

from __future__ import annotations

from preflight.core.result import Outcome, Status
from preflight.observe import gcp
from preflight.observe.errors import Refused

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


def judge_refusal(refusal: Refused) -> Outcome:
    """Definitive refusals: no credentials found, a broken key file, a refused token."""
    details = {"error": refusal.kind}
    if refusal.kind == "key_file":
        return Outcome(
            Status.FAIL, f"GOOGLE_APPLICATION_CREDENTIALS does not name a usable key file: "
            f"{refusal.text}", remediation="mount a valid service-account key (or external "
            "account configuration) at the path GOOGLE_APPLICATION_CREDENTIALS names, or unset "
            "it to use the workload's own identity", details=details)
    if refusal.kind == "gcloud_file":
        return Outcome(
            Status.FAIL, f"the gcloud Application Default Credentials file is not usable: "
            f"{refusal.text}", remediation="run `gcloud auth application-default login` again, "
            "or delete the file to use the workload's own identity", details=details)
    if refusal.kind == "no_credentials":
        return Outcome(Status.FAIL, f"no usable Application Default Credentials: "
                       f"{refusal.text}", remediation=ADC_HELP, details=details)
    if refusal.kind == "token_refused":
        return Outcome(
            Status.FAIL, f"the token endpoint refused the credentials: {refusal.text}",
            remediation="the key or binding may be revoked, expired or for a deleted service "
            "account: issue new credentials for the service account and redeploy",
            details=details)
    return Outcome(Status.FAIL, f"Google credentials refused: {refusal.text}",
                   remediation="check the workload's Google credentials configuration",
                   details=details)
