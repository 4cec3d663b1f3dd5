"""AWS credentials: who STS says the chain's credentials are, or why they were refused."""

from __future__ import annotations

from typing import Any

from preflight.core.result import Outcome, Status
from preflight.observe import aws

# botocore's credential `method` names (botocore/credentials.py), and preflight's own.
SOURCES = {
    "env": "environment keys (AWS_ACCESS_KEY_ID)",
    "explicit": "keys passed explicitly",
    "assume-role-with-web-identity": "web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE "
                                     "with AWS_ROLE_ARN)",
    "gcp-web-identity": "the metadata server's Google ID token exchanged with STS "
                        "(PREFLIGHT_AWS_WEB_IDENTITY=gcp)",
    "shared-credentials-file": "shared credentials file (AWS_SHARED_CREDENTIALS_FILE or "
                               "~/.aws/credentials)",
    "config-file": "keys in the AWS config file (AWS_CONFIG_FILE or ~/.aws/config)",
    "custom-process": "credential_process in the AWS config file",
    "assume-role": "a profile that assumes a role (role_arn with source_profile or "
                   "credential_source)",
    "container-role": "container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI "
                      "or _RELATIVE_URI)",
    "iam-role": "instance metadata (IMDS)",
    "sso": "IAM Identity Center (SSO) profile",
    "login": "console login session",
    "boto-config": "boto2 config file",
    "ec2-credentials-file": "EC2 credentials file (AWS_CREDENTIAL_FILE)",
}


KEYLESS_HELP = (
    "give the pod AWS credentials without static keys: on GKE add the aws-web-identity "
    "component (a projected token with audience sts.amazonaws.com, AWS_ROLE_ARN and "
    "AWS_WEB_IDENTITY_TOKEN_FILE); on Cloud Run set PREFLIGHT_AWS_WEB_IDENTITY=gcp and "
    "AWS_ROLE_ARN for preflight, and an AWS_CONFIG_FILE whose credential_process is "
    "`preflight aws-credentials` for the engines (deploy/IAM.md); elsewhere a profile or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


TRUST_HELP = "deploy/IAM.md shows the trust policies"


def describe_source(method: str | None) -> str:
    if method is None:
        return "an unknown source"
    return SOURCES.get(method, f"botocore's {method!r} provider")


def _static_keys_fix(source: str | None) -> str:
    if source == "env":
        return "replace AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
    if source in ("shared-credentials-file", "config-file"):
        return "fix the keys of the profile in use (AWS_PROFILE, default: default)"
    return f"fix the credentials from {describe_source(source)}"


def credentials_fix(code: str, source: str | None) -> str:
    """For a refusal of the credentials themselves (GetCallerIdentity)."""
    if code in ("InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId"):
        return (f"AWS knows no such access key (deleted, deactivated, or from another "
                f"partition): {_static_keys_fix(source)}, or better, use a role without "
                f"static keys ({TRUST_HELP})")
    if code in ("SignatureDoesNotMatch", "InvalidSignatureException"):
        return (f"the secret key does not belong to the access key ID: "
                f"{_static_keys_fix(source)} with a matching pair")
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
        return ("the session credentials have expired and nothing refreshes them (a copied "
                "AWS_SESSION_TOKEN cannot be renewed): let the pod assume its role itself "
                f"with web identity ({TRUST_HELP})")
    return f"STS refused the credentials from {describe_source(source)}: fix or replace them"


def _assume_role_fix(seen: aws.Identity, code: str) -> str:
    role = seen.role_arn or "the role"
    claims = ", ".join(f"{k}={v}" for k, v in seen.token_claims.items())
    token = f" (the token's claims: {claims})" if claims else ""
    if code == "AccessDenied":
        return (f"the trust policy of {role} does not accept this token{token}: it must allow "
                "sts:AssumeRoleWithWebIdentity for the token's issuer with conditions that "
                "match it — on GKE the cluster's OIDC provider with sub "
                "system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT and aud sts.amazonaws.com; "
                "on Cloud Run accounts.google.com with aud = the service account's unique id, "
                f"oaud = the audience and sub = the unique id; {TRUST_HELP}")
    if code in ("InvalidIdentityToken", "IDPRejectedClaim"):
        return (f"STS did not accept the token as coming from a trusted issuer{token}: on GKE "
                "create an IAM OIDC provider whose URL is exactly the cluster's issuer and "
                "whose audiences include sts.amazonaws.com; Google ID tokens need no provider "
                f"(the trust policy names accounts.google.com); {TRUST_HELP}")
    if code in ("ExpiredTokenException", "ExpiredToken"):
        return ("the web identity token had expired when STS read it: mount it as a "
                "projected serviceAccountToken volume (the kubelet renews it), not a copied "
                "Secret, and check the node's clock")
    if code in ("ValidationError", "InvalidParameterValue"):
        return ("STS refused the request's parameters: the session duration "
                "(PREFLIGHT_AWS_SESSION_DURATION / --duration) must not exceed the role's "
                "maximum session duration, and the role ARN and session name must be valid")
    if code == "RegionDisabledException":
        return ("STS is not active in this region: activate it in the account or point "
                "AWS_DEFAULT_REGION / AWS_ENDPOINT_URL_STS at a region where it is")
    return f"STS refused to let the token assume {role}{token}: {TRUST_HELP}"


LOCAL_FIXES = {
    "TokenFileUnreadable": "mount the projected service-account token where "
                           "AWS_WEB_IDENTITY_TOKEN_FILE points (deploy/k8s/components/"
                           "aws-web-identity), readable by the container's user, or unset it",
    "CredentialProcessFailed": "the credential_process of the AWS config file failed: run it "
                               "by hand in the container; for `preflight aws-credentials` its "
                               "message names the fix",
    "ContainerEndpointRefused": "the container credentials endpoint refused: check "
                                "AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) and the pod's "
                                "association with a role",
    "MetadataServerRefused": "the metadata server gave no ID token: the workload needs a "
                             "service account (Cloud Run: the service's identity; GKE: "
                             "Workload Identity), or unset PREFLIGHT_AWS_WEB_IDENTITY where "
                             "there is no Google metadata server",
    "DeveloperProfileUnsupported": "SSO and `aws login` profiles are for developer machines: "
                                   "there, run preflight from a pip install, or export the "
                                   "profile's credentials first (`eval \"$(aws configure "
                                   "export-credentials --profile NAME --format env)\"`); in a "
                                   "pod, give it a role (web identity) instead",
    "InvalidConfiguration": "fix the AWS configuration named in the message (variables, "
                            "AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE)",
}


def judge_refusal(seen: aws.Identity, refusal: aws.Refusal) -> Outcome:
    details = _details(seen) | {"error_code": refusal.code, "operation": refusal.operation,
                                "http_status": refusal.http_status}
    text = f"{refusal.code}: {refusal.message}" if refusal.message else refusal.code
    if refusal.operation in ("AssumeRoleWithWebIdentity", "AssumeRole"):
        role = seen.role_arn or "the role"
        return Outcome(Status.FAIL, f"STS refused {refusal.operation} for {role}: {text}",
                       remediation=_assume_role_fix(seen, refusal.code), details=details)
    if refusal.code in LOCAL_FIXES:
        return Outcome(Status.FAIL, f"{refusal.operation} failed: {text}",
                       remediation=LOCAL_FIXES[refusal.code], details=details)
    return Outcome(Status.FAIL, f"STS refused the credentials from "
                   f"{describe_source(seen.source)} ({refusal.operation}): {text}",
                   remediation=credentials_fix(refusal.code, seen.source), details=details)


def judge(seen: aws.Identity) -> Outcome:
    if seen.refusal is not None:
        return judge_refusal(seen, seen.refusal)
    if seen.no_credentials:
        return Outcome(Status.FAIL, "no AWS credentials found: not in the environment, a web "
                       "identity token file, a profile, a credential_process, a container "
                       "endpoint nor instance metadata", remediation=KEYLESS_HELP,
                       details=_details(seen))
    return Outcome(Status.PASS, f"{seen.arn}, from {describe_source(seen.source)}",
                   details=_details(seen))


def _details(seen: aws.Identity) -> dict[str, Any]:
    details: dict[str, Any] = {"principal": seen.arn, "account": seen.account,
                               "source": seen.source,
                               "source_description": describe_source(seen.source)
                               if seen.source else None,
                               "sts_endpoint": seen.endpoint or None}
    if seen.role_arn:
        details["role_arn"] = seen.role_arn
    if seen.token_claims:
        details["token_claims"] = dict(seen.token_claims)
    return details
