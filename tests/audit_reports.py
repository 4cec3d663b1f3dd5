"""Audit reports at fleet size, judged in process from generated documents (no emulator).

The documents go through the audit's own facts and judge, so the findings, cells and texts
are what `preflight audit` would report for the same registry; only the reading is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from preflight.audit import judge
from preflight.audit.model import AuditReport, ScopeResult
from preflight.contract.profile import load
from tests.audit_fleet import SERVING_KINDS, serving_route, serving_scope, startup_scope

PROFILE = load("engines")
ENVIRON = {"GCP_PROJECT_ID": "p"}  # stands in for the firestore backends' `project` key
TARGET = {"project": "fleet", "database": "(default)", "collection": "routing_registry",
          "profile": "engines", "emulator": True}


def fleet_report(scopes_count: int, *, failing: bool) -> AuditReport:
    """`scopes` serving scopes beside a healthy start-up scope. Failing: each scope has one
    route (notes_store) and lacks every other request-time kind; healthy: each has them all."""
    refused = frozenset(PROFILE.refused_all)
    scopes: list[ScopeResult] = []
    stream = judge.TenantStream(judge.Judge(PROFILE, lambda env: refused, ENVIRON),
                                scopes.append)
    stream.begin(None, None)
    documents = dict(startup_scope())
    for number in range(scopes_count):
        tenant = f"t_{number:05d}"
        documents.update(dict([serving_route("notes_store", tenant)]) if failing
                         else serving_scope(tenant))
    # In the tenant index's order, as the audit reads them.
    for doc_id, document in sorted(documents.items(),
                                   key=lambda item: (item[1]["tenant_id"], item[0])):
        stream.add(doc_id, document)
    stream.finish()
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return AuditReport(now, now, TARGET, judge.kind_columns(PROFILE), tuple(scopes),
                       tuple(judge.registry_findings(stream.facts.unplaced)),
                       documents=stream.facts.documents, pages=1, tally=stream.tally)


MISSING_PER_FAILING_SCOPE = len(SERVING_KINDS) - 1
