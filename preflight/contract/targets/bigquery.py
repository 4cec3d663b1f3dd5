"""bigquery: the Nexus events table exists (NEXUS_BACKEND selects BigQuery).

The engines build `bigquery.Client()` and write to a dataset and table named by variables
with defaults (docs/ENGINES.md §5.8): the profile's `probe` of the selecting variable says
which. The client's project is google-cloud-core's (GOOGLE_CLOUD_PROJECT or GCLOUD_PROJECT,
else the credentials'), its host BIGQUERY_EMULATOR_HOST when set: the library reads them.
The engines swallow BigQuery errors when they write (`{"status": "error"}`), so a missing
table would go unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import Endpoint, ProbeSubject, Unbuildable, VariableRead

# google-cloud-core's project variables, in its order (google.cloud.environment_vars).
PROJECT_VARIABLES = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT")
CREDENTIALS_PROJECT = "the credentials' project"


@dataclass(frozen=True, repr=False)
class BigQueryEndpoint(Endpoint):
    backend = "bigquery"
    project: str | None = field(repr=False)  # None: the credentials' project
    dataset: str = field(repr=False)
    table: str = field(repr=False)
    # The variables that name them, for fixes (not part of the identity).
    named_by: tuple[str, ...] = field(default=(), compare=False)


def _name(read: VariableRead | None, role: str, environ: Mapping[str, str],
          ) -> tuple[str, str] | Unbuildable:
    """(value, phrase) of one variable the backend reads."""
    reading = read.reading(environ) if read is not None else None
    if reading is None or not reading.value:
        what = read.variable if read is not None else f"the profile's `{role}` read"
        return Unbuildable(f"no {role} name: {what} is unset and has no default",
                           f"set {what}" if read is not None
                           else f"name the {role} variable in the profile's `probe`")
    phrase = f"in {reading.variable}" if reading.raw else f"{reading.value} (the default)"
    return reading.value, phrase


def target(subject: ProbeSubject, environ: Mapping[str, str]) -> BigQueryEndpoint | Unbuildable:
    dataset = _name(subject.reads.get("dataset"), "dataset", environ)
    table = _name(subject.reads.get("table"), "table", environ)
    for found in (dataset, table):
        if isinstance(found, Unbuildable):
            return found
    assert not isinstance(dataset, Unbuildable)
    assert not isinstance(table, Unbuildable)
    variable = next((name for name in PROJECT_VARIABLES if environ.get(name)), None)
    project = environ[variable] if variable else None
    where = (f"table {table[1]} of dataset {dataset[1]} in "
             f"{variable or CREDENTIALS_PROJECT}")
    named_by = tuple(read.variable for role in ("dataset", "table")
                     if (read := subject.reads.get(role)) is not None)
    return BigQueryEndpoint(project=project, dataset=dataset[0], table=table[0],
                            named_by=named_by, where=where)
