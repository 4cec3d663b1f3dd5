"""firestore: one read in the route's `project`, else the engines' project.

What the engines build is `firestore.Client(project=config.get("project") or
GCP_PROJECT_ID or GCP_PROJECT)` on the `(default)` database (the tabular, event spine and
chat stores alike). The read is the registry check's own (`select([]).limit(1)`): it
proves the project is reachable, the workload may read it, and the database exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, env_text, text

DATABASE = "(default)"


@dataclass(frozen=True, repr=False)
class FirestoreEndpoint(Endpoint):
    backend = "firestore"
    project: str = field(repr=False)
    database: str = DATABASE


def target(subject: ProbeSubject, environ: Mapping[str, str],
           ) -> FirestoreEndpoint | Unbuildable:
    project = text(subject.config, "project")
    if isinstance(project, Unbuildable):
        return project
    if project is not None:
        return FirestoreEndpoint(project=project, where="the `project` of its config")
    for variable in ("GCP_PROJECT_ID", "GCP_PROJECT"):
        value = env_text(environ, variable)
        if value is not None:
            return FirestoreEndpoint(project=value, where=f"the engines' project ({variable})")
    return Unbuildable("no `project` in its config, and neither GCP_PROJECT_ID nor GCP_PROJECT "
                       "is set", "set GCP_PROJECT_ID, or `project` in the route's config")


