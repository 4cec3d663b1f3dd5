"""The minimal hand-written check a team would write instead of preflight.

Same round trips as `preflight check` on one scope: import the two clients, one Firestore
query for the scope's routes (the engines' field equality, all kinds at once), one STS
GetCallerIdentity (who the AWS credentials are), one S3 HeadBucket, then exit the ordinary
way. No retries, no deadline, no verdict file, no
structured logs: it is the floor preflight is measured against, not a tool.

Reads the same variables as preflight: GCP_PROJECT_ID, RAW_BUCKET, FIRESTORE_EMULATOR_HOST,
AWS_* (endpoint and credentials).
"""

import os
import sys

import boto3
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

KINDS = {
    "feature_flags", "strategy_lock", "kpi", "budget", "maybes", "memory", "analytics_events",
    "rate_limit", "firearms", "page_content", "seo", "realtime_registry", "chat_bus",
    "nexus_backend", "media_v2_storage", "raw_storage", "timeline",
}
REFUSED = {"memory", "noop", "local", "tmp", "localhost"}


def main() -> int:
    db = firestore.Client(project=os.environ["GCP_PROJECT_ID"])
    query = (db.collection("routing_registry")
             .where(filter=FieldFilter("tenant_id", "==", "t_system"))
             .where(filter=FieldFilter("env", "==", "dev"))
             .where(filter=FieldFilter("project_id", "==", None)))
    routes = {}
    for doc in query.stream():
        data = doc.to_dict() or {}
        routes[data.get("resource_kind")] = str(data.get("backend_type", "")).strip().lower()
    missing = sorted(KINDS - routes.keys())
    refused = sorted(kind for kind in KINDS & routes.keys() if routes[kind] in REFUSED)

    boto3.client("sts").get_caller_identity()
    boto3.client("s3").head_bucket(Bucket=os.environ["RAW_BUCKET"])

    if missing or refused:
        print(f"FAIL missing={missing} refused={refused}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
