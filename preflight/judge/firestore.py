"""Firestore access: a read of the registry collection, or its refusal, judged."""

from __future__ import annotations

from preflight.config import Config
from preflight.core.result import Outcome, Status
from preflight.observe.errors import Refused

NO_PROJECT = "no Firestore project: set GCP_PROJECT_ID (or --project)"


def judge_no_project(config: Config) -> Outcome | None:
    """Without a project nothing in Firestore can be read: a failure, not a neutral skip."""
    if config.project:
        return None
    return Outcome(Status.FAIL, f"not checked: {NO_PROJECT}",
                   remediation="set GCP_PROJECT_ID to the project that holds the routing "
                   "registry (or pass --project)", details={"unconfigured": "project"})


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
