"""`preflight aws-credentials`: a credential_process for the engines' boto3 on Cloud Run.

One exchange of the metadata server's ID token with STS inside the command's timeout,
transient trouble retried; botocore shows the engines the one line printed on failure, so it
names the fix and holds no secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from preflight.config.web_identity import WebIdentity
from preflight.observe.web_identity import METHOD, MetadataIdToken, fetcher

ATTEMPT_TIMEOUT = 5.0  # one metadata or STS call; the whole command has --timeout

# Fixes for the engines' process, which runs this command from its AWS config file: it has
# no PREFLIGHT_AWS_WEB_IDENTITY to unset (aws.credentials' fix for preflight's own provider).
CREDENTIAL_PROCESS_FIXES = {
    "MetadataServerRefused": "the metadata server gave no ID token: the workload needs a "
                             "service account (Cloud Run: the service's or job's identity; "
                             "GKE: Workload Identity); where there is no Google metadata "
                             "server, remove `preflight aws-credentials` from the "
                             "credential_process of the AWS config file (AWS_CONFIG_FILE) and "
                             "give the engines AWS credentials another way",
}


def credential_process(identity: WebIdentity, timeout: float) -> tuple[int, str]:
    """One exchange within `timeout`, transient trouble retried: (exit code, output line).

    Exit 0 with the credential_process JSON, or 1 (refused) / 3 (not ready) with one line
    for stderr that botocore shows the engines as is: it names the fix and holds no secret.
    """
    import threading

    box: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: box.append(_exchange(identity, timeout)),
                              name="aws-credentials", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    if not box:
        return 3, (f"not ready: no credentials within {timeout:g}s (the metadata server or "
                   "STS did not answer)")
    return box[0]


def _exchange(identity: WebIdentity, timeout: float) -> tuple[int, str]:
    import time

    from preflight.core.redact import describe_exception
    from preflight.judge.aws import judge_refusal
    from preflight.observe import aws
    from preflight.observe.errors import Transient
    from preflight.run.retry import Backoff

    deadline = time.monotonic() + timeout
    limit = min(ATTEMPT_TIMEOUT, timeout)
    token = MetadataIdToken(identity.audience, limit)
    attempt = 0
    try:
        session = aws.make_session(limit)
        while True:
            attempt += 1
            try:
                answer = fetcher(session, identity, token).fetch_credentials()
                return 0, json.dumps(_document(answer))
            except Exception as error:  # noqa: BLE001 - classified right below
                try:
                    refused = aws.refusal(error, METHOD)
                except Transient as transient:
                    wait = Backoff().delay(attempt)
                    if time.monotonic() + wait >= deadline:
                        return 3, (f"not ready after {attempt} attempt(s): "
                                   f"{describe_exception(transient)}")
                    time.sleep(wait)
                    continue
            seen = aws.Identity(source=METHOD, endpoint="", role_arn=identity.role_arn,
                                token_claims=dict(token.claims))
            outcome = judge_refusal(seen, refused)
            fix = CREDENTIAL_PROCESS_FIXES.get(refused.code, outcome.remediation)
            return 1, f"error: {outcome.message}; fix: {fix}"
    except Exception as error:  # noqa: BLE001 - one line, never a traceback
        return 1, f"error: unexpected {describe_exception(error)}"


def _document(answer: Mapping[str, Any]) -> dict[str, Any]:
    document = {"Version": 1, "AccessKeyId": answer["access_key"],
                "SecretAccessKey": answer["secret_key"], "SessionToken": answer["token"],
                "Expiration": answer["expiry_time"]}
    if answer.get("account_id"):
        document["AccountId"] = answer["account_id"]
    return document
