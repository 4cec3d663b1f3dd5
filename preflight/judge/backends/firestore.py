"""What the firestore probe's answer means for the engines."""

from __future__ import annotations

from preflight.contract.targets.firestore import FirestoreEndpoint
from preflight.core.result import Outcome
from preflight.judge.backends import failed, passed
from preflight.observe.firestore import FirestoreObservation

PERMISSION_FIX = ("grant the workload's service account roles/datastore.user (the engines "
                  "read and write) on the project of {where}")


def judge(endpoint: FirestoreEndpoint, seen: FirestoreObservation) -> Outcome:
    where = endpoint.where
    if seen.error is None:
        return passed(f"Firestore answered a read in {where}")
    if seen.error in ("PermissionDenied", "Forbidden"):
        return failed(f"permission denied reading Firestore in {where}",
                      PERMISSION_FIX.format(where=where))
    if seen.error in ("Unauthenticated", "Unauthorized"):
        return failed(f"Firestore rejected the credentials for {where}",
                      "check the workload's credentials (gcp.credentials)")
    if seen.error == "NotFound":
        return failed(f"{where} has no default Firestore database",
                      "create the Firestore database (Native mode) in that project, or fix "
                      "the project the route or variables name")
    if seen.error == "FailedPrecondition":
        return failed(f"Firestore in {where} cannot serve the engines (e.g. a Datastore-mode "
                      "database)", "use a Firestore database in Native mode")
    return failed(f"Firestore refused a read in {where} ({seen.error})",
                  "check the project the route or variables name")
