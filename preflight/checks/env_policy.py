"""env.policy: the engines' own environment rules (ENGINES.md), judged before any I/O.

Values are compared exactly as the engines read them: case-insensitive, not trimmed. A
variable that is set but empty is a violation: the engines may read it as an unsupported
value, and a false pass is worse than a clear message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflight.checks.base import Check, Context
from preflight.redact import strip_url_userinfo
from preflight.verdict import Outcome, Status

NEXUS_ALLOWED = ("firestore", "bigquery", "bq")
NEXUS_REFUSED = ("noop", "memory", "in-memory")


def _shown(value: str | None) -> str | None:
    if value is None:
        return None
    value = strip_url_userinfo(value)
    return value if len(value) <= 80 else value[:79] + "…"


def _violation(variable: str, value: str | None, rule: str, fix: str) -> dict[str, Any]:
    return {"variable": variable, "value": _shown(value), "rule": rule, "fix": fix}


def judge(env: Mapping[str, str | None]) -> Outcome:
    violations: list[dict[str, Any]] = []

    routing = env.get("ROUTING_REGISTRY_BACKEND")
    if routing is None or routing.lower() != "firestore":
        violations.append(_violation(
            "ROUTING_REGISTRY_BACKEND", routing,
            "must be 'firestore'; the engines refuse to start otherwise",
            "set ROUTING_REGISTRY_BACKEND=firestore"))

    if env.get("GCP_PROJECT_ID") == "":
        # Whether the engines fall through to GCP_PROJECT here depends on how they read it.
        violations.append(_violation(
            "GCP_PROJECT_ID", "", "is set but empty",
            "unset GCP_PROJECT_ID or set it to the Firestore project id"))
    elif not env.get("GCP_PROJECT_ID") and not env.get("GCP_PROJECT"):
        violations.append(_violation(
            "GCP_PROJECT_ID", None,
            "GCP_PROJECT_ID or GCP_PROJECT must name the Firestore project",
            "set GCP_PROJECT_ID to the project that holds the routing registry"))

    bucket = env.get("RAW_BUCKET")
    if not bucket:
        violations.append(_violation(
            "RAW_BUCKET", bucket,
            "must name the S3 bucket for raw storage and media uploads",
            "set RAW_BUCKET to the bucket name (the engines read this variable, "
            "not preflight's --bucket)"))

    nexus = env.get("NEXUS_BACKEND")
    if nexus is not None and nexus.lower() not in NEXUS_ALLOWED:
        refused = nexus.lower() in NEXUS_REFUSED
        violations.append(_violation(
            "NEXUS_BACKEND", nexus,
            ("refused: not durable" if refused else "unsupported value")
            + "; allowed: firestore, bigquery, bq (unset means firestore)",
            "set NEXUS_BACKEND=firestore (or bigquery), or unset it"))

    flags = env.get("FEATURE_FLAGS_BACKEND")
    if flags is not None and flags.lower() != "firestore":
        violations.append(_violation(
            "FEATURE_FLAGS_BACKEND", flags,
            "only 'firestore' is supported (unset means firestore)",
            "set FEATURE_FLAGS_BACKEND=firestore, or unset it"))

    if not violations:
        return Outcome(Status.PASS, "the engines' environment rules hold",
                       details={"violations": []})
    names = ", ".join(dict.fromkeys(v["variable"] for v in violations))
    return Outcome(
        Status.FAIL,
        f"{len(violations)} environment rule(s) broken: {names}",
        remediation="; ".join(dict.fromkeys(v["fix"] for v in violations)),
        details={"violations": violations},
    )


class EnvPolicy(Check):
    name = "env.policy"

    def attempt(self, ctx: Context) -> Outcome:
        return judge(ctx.config.engines_env)
