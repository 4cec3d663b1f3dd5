"""firestore.access: a real read of the routing collection succeeds."""

from __future__ import annotations

from typing import Any

from preflight.checks.base import Check, Context
from preflight.config import Config
from preflight.observe import firestore
from preflight.observe.errors import Refused
from preflight.report.verdict import Outcome, Status

NO_PROJECT = "no Firestore project: set GCP_PROJECT_ID (or --project)"


def judge_no_project(config: Config) -> Outcome | None:
    """Without a project nothing in Firestore can be read: a failure, not a neutral skip."""
    if config.project:
        return None
    return Outcome(Status.FAIL, f"not checked: {NO_PROJECT}",
                   remediation="set GCP_PROJECT_ID to the project that holds the routing "
                   "registry (or pass --project)", details={"unconfigured": "project"})


def firestore_client(ctx: Context) -> Any:
    """One client per run, built with the credentials gcp.credentials already refreshed."""
    config = ctx.config
    assert config.project is not None
    return ctx.shared("firestore.client", lambda: firestore.make_client(
        config.project or "", config.database, ctx.get("gcp.credentials")))



def judge(documents_seen: int, config: Config) -> Outcome:
    where = f"{config.collection} in project {config.project}, database {config.database}"
    message = f"read {where}" + ("" if documents_seen else " (the collection is empty)")
    return Outcome(Status.PASS, message, details={"documents_seen": documents_seen})


def judge_refusal(refusal: Refused, config: Config, principal: str | None) -> Outcome:
    name, text = refusal.kind, refusal.text
    who = principal or "the workload's service account"
    details = {"error": name}
    if name in ("PermissionDenied", "Forbidden"):
        return Outcome(
            Status.FAIL, f"permission denied reading {config.collection}: {text}",
            remediation=f"grant {who} roles/datastore.viewer on project {config.project}",
            details=details)
    if name in ("Unauthenticated", "Unauthorized"):
        return Outcome(Status.FAIL, f"Firestore rejected the credentials: {text}",
                       remediation="check the workload's credentials (gcp.credentials)",
                       details=details)
    if name == "NotFound":
        return Outcome(
            Status.FAIL, f"Firestore database {config.database} not found in project "
            f"{config.project}: {text}",
            remediation="create the Firestore database (Native mode) or fix "
            "GCP_PROJECT_ID / PREFLIGHT_FIRESTORE_DATABASE", details=details)
    return Outcome(Status.FAIL, f"Firestore refused the read: {text}",
                   remediation="check the project, database and collection names",
                   details=details)


def principal_of(ctx: Context) -> str | None:
    principal = getattr(ctx.get("gcp.credentials"), "service_account_email", None)
    return principal if isinstance(principal, str) else None


class FirestoreAccess(Check):
    name = "firestore.access"
    needs = ("gcp.credentials",)

    def unconfigured(self, config: Config) -> Outcome | None:
        return judge_no_project(config)

    def attempt(self, ctx: Context) -> Outcome:
        config = ctx.config
        try:
            seen = firestore.sample(firestore_client(ctx), config.collection, ctx.call_timeout())
        except Refused as refusal:
            return judge_refusal(refusal, config, principal_of(ctx))
        return judge(seen, config)
