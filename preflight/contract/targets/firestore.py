"""firestore: one read in the project the engines' client uses.

What the engines build is `firestore.Client(project=...)` on the client's default database
(docs/ENGINES.md §5.3, §5.5): the project from the route's config or its stand-in
variables, or, for a backend whose config they ignore (`needs_one_of`), from those
variables only. The read is the registry check's own (`select([]).limit(1)`): it proves
the project is reachable, the workload may read it, and the database exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import (
    Endpoint,
    ProbeSubject,
    Unbuildable,
    resolve,
    text,
    unset,
)

KEY = "project"


@dataclass(frozen=True, repr=False)
class FirestoreEndpoint(Endpoint):
    backend = "firestore"
    project: str = field(repr=False)


def target(subject: ProbeSubject, environ: Mapping[str, str],
           ) -> FirestoreEndpoint | Unbuildable:
    spec = subject.contract
    values = resolve(spec, subject.config, environ)
    if isinstance(values, Unbuildable):
        return values
    if KEY in values:
        found = values[KEY]
        project = text(found, KEY)
        if isinstance(project, Unbuildable):
            return project
        where = (f"the {found.source}" if found.from_config
                 else f"the engines' project ({found.source})")
        return FirestoreEndpoint(project=project, where=where)
    variable = next((name for name in spec.needs_one_of if environ.get(name)), None)
    if variable is not None:
        return FirestoreEndpoint(project=environ[variable],
                                 where=f"the engines' project ({variable})")
    named = spec.needs_one_of or ()
    return Unbuildable(f"no `{KEY}` in its config" + (f", and {unset(named)}" if named else ""),
                       f"set {named[0]}" if named else f"set `{KEY}` in the route's config")
