"""firestore: one read in the route's `project`, else the engines' project.

What the engines build is `firestore.Client(project=config.get("project") or
GCP_PROJECT_ID or GCP_PROJECT)` on the `(default)` database (the tabular, event spine and
chat stores alike). The read is the registry check's own (`select([]).limit(1)`): it
proves the project is reachable, the workload may read it, and the database exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import (
    Endpoint,
    Finding,
    ProbeResult,
    ProbeSubject,
    Shared,
    env_text,
    failed,
    passed,
    text,
)

DATABASE = "(default)"
COLLECTION = "routing_registry"  # any collection proves access; this one is documented
PERMISSION_FIX = ("grant the workload's service account roles/datastore.user (the engines "
                  "read and write) on the project of {where}")


@dataclass(frozen=True, repr=False)
class FirestoreEndpoint(Endpoint):
    backend = "firestore"
    project: str = field(repr=False)


@dataclass(frozen=True)
class FirestoreObservation:
    documents: int | None  # None when the read was refused
    error: str | None = None  # the refusal's class name, e.g. PermissionDenied


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> FirestoreEndpoint | Finding:
    project = text(subject.config, "project")
    if isinstance(project, Finding):
        return project
    if project is not None:
        return FirestoreEndpoint(project=project, where="the `project` of its config")
    for variable in ("GCP_PROJECT_ID", "GCP_PROJECT"):
        value = env_text(environ, variable)
        if value is not None:
            return FirestoreEndpoint(project=value, where=f"the engines' project ({variable})")
    return Finding("no `project` in its config, and neither GCP_PROJECT_ID nor GCP_PROJECT "
                   "is set", "set GCP_PROJECT_ID, or `project` in the route's config")


def observe(endpoint: FirestoreEndpoint, timeout: float, shared: Shared) -> FirestoreObservation:
    """Refusals come back as data; transient trouble is raised (the runner's rules)."""
    from preflight.observe import firestore
    from preflight.observe.errors import is_transient

    # No credentials given: the client resolves them as the engines' own client does.
    client = firestore.make_client(endpoint.project, DATABASE, None)
    try:
        return FirestoreObservation(firestore.sample(client, COLLECTION, timeout))
    except Exception as error:
        if is_transient(error) or not type(error).__module__.startswith("google"):
            raise
        return FirestoreObservation(None, type(error).__name__)
    finally:
        client.close()


def judge(endpoint: FirestoreEndpoint, seen: FirestoreObservation) -> ProbeResult:
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
        return failed(f"{where} has no Firestore {DATABASE} database",
                      "create the Firestore database (Native mode) in that project, or fix "
                      "the project the route or variables name")
    if seen.error == "FailedPrecondition":
        return failed(f"Firestore in {where} cannot serve the engines (e.g. a Datastore-mode "
                      "database)", "use a Firestore database in Native mode")
    return failed(f"Firestore refused a read in {where} ({seen.error})",
                  "check the project the route or variables name")
