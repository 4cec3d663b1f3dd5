"""Audit reports at fleet size, judged in process from generated documents (no emulator).

The documents go through the audit's own facts and judge, so the findings, cells and texts
are what `preflight audit` would report for the same registry; only the reading is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from preflight.audit import judge
from preflight.audit.facts import Facts
from preflight.audit.model import AuditReport
from preflight.contract.profile import load
from tests.audit_fleet import SERVING_KINDS, serving_route, serving_scope, startup_scope

PROFILE = load("engines")
ENVIRON = {"GCP_PROJECT_ID": "p"}  # stands in for the firestore backends' `project` key
TARGET = {"project": "fleet", "database": "(default)", "collection": "routing_registry",
          "profile": "engines", "emulator": True}


def fleet_report(scopes: int, *, failing: bool) -> AuditReport:
    """`scopes` serving scopes beside a healthy start-up scope. Failing: each scope has one
    route (notes_store) and lacks every other request-time kind; healthy: each has them all."""
    facts = Facts(PROFILE)
    for doc_id, document in startup_scope().items():
        facts.add(doc_id, document)
    for number in range(scopes):
        tenant = f"t_{number:05d}"
        documents = dict([serving_route("notes_store", tenant)]) if failing \
            else serving_scope(tenant)
        for doc_id, document in documents.items():
            facts.add(doc_id, document)
    refused = frozenset(PROFILE.refused_all)
    judging = judge.Judge(PROFILE, lambda env: refused, ENVIRON)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return AuditReport(now, now, TARGET, judge.kind_columns(PROFILE),
                       tuple(judge.judge_all(facts, judging)),
                       tuple(judge.registry_findings(facts)), documents=facts.documents,
                       pages=1)


MISSING_PER_FAILING_SCOPE = len(SERVING_KINDS) - 1
