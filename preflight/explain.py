"""`preflight explain`: the effective configuration and the plan, without any network call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from preflight import checks
from preflight.checks.routing_entries import plan_queries
from preflight.config import Config, Raw
from preflight.redact import strip_url_userinfo

# Option name -> how its effective value reads from the validated Config.
EFFECTIVE: dict[str, Any] = {
    "project": lambda c: c.project,
    "database": lambda c: c.database,
    "bucket": lambda c: c.bucket,
    "collection": lambda c: c.collection,
    "kinds": lambda c: list(c.kinds),
    "scopes": lambda c: [scope.label for scope in c.scopes],
    "disallow": lambda c: sorted(c.disallowed),
    "timeout": lambda c: c.timeout,
    "attempt_timeout": lambda c: c.attempt_timeout,
    "verdict_file": lambda c: None if c.verdict_file is None else str(c.verdict_file),
    "termination_log": lambda c: None if c.termination_log is None else str(c.termination_log),
    "format": lambda c: c.format,
    "log_level": lambda c: c.log_level,
    "ignore": lambda c: sorted(c.ignore),
    "only": lambda c: list(c.selected),
    "skip": lambda c: [name for name in checks.NAMES if name not in c.selected],
    "strict": lambda c: c.strict,
    "disallow_in": lambda c: {env: sorted(b) for env, b in c.disallowed_by_env.items()},
    "no_color": lambda c: not c.color,
    "probes": lambda c: c.probes,
}


def describe_source(raw: Raw) -> str:
    if raw.source.value == "flag":
        return f"flag {raw.where}"
    if raw.source.value == "env":
        return f"env {raw.where}"
    return "default"


def plan(config: Config, environ: Mapping[str, str]) -> dict[str, Any]:
    configuration = {
        name: {"value": read(config), "source": config.sources[name].source.value,
               "from": describe_source(config.sources[name])}
        for name, read in EFFECTIVE.items() if name in config.sources
    }
    planned = []
    for check in checks.fresh():
        if check.name not in config.selected:
            note = f"skipped: not selected ({config.deselected_by})"
        else:
            reason = check.skip_reason(config)
            note = f"skipped: {reason}" if reason else "runs"
        if check.name in config.ignore:
            note += "; a failure is reported as warn (--ignore)"
        planned.append({"name": check.name, "runs": note.startswith("runs"),
                        "needs": list(check.needs), "note": note})
    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
    return {
        "configuration": configuration,
        "engines_environment": {name: None if value is None else strip_url_userinfo(value)
                                for name, value in config.engines_env.items()},
        "checks": planned,
        "scopes": [{"scope": scope.label, "kinds": list(config.kinds),
                    "refused_backends": sorted(config.disallowed_for(scope.env))}
                   for scope in config.scopes],
        "firestore": {
            "project": config.project, "database": config.database,
            "collection": config.collection,
            "emulator": config.emulator_host,
            "queries": [{"collection": config.collection,
                         "where": [[field, "==", value] for field, value in query.equal],
                         "serves": [scope.label for scope in query.scopes]}
                        for query in plan_queries(config.scopes)],
        },
        "bucket": {"name": config.bucket, "call": "HeadBucket",
                   "endpoint": strip_url_userinfo(endpoint) if endpoint
                   else "the AWS default for the configured region"},
        "deadline": {"timeout_s": config.timeout, "attempt_timeout_s": config.attempt_timeout,
                     "strict": config.strict},
    }


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "(none)"
    if isinstance(value, dict):
        return "; ".join(f"{k}={','.join(v)}" for k, v in value.items()) or "(none)"
    return "(unset)" if value is None else str(value)


def to_text(document: dict[str, Any]) -> str:
    lines = ["Configuration (value ← where it came from):"]
    width = max(map(len, document["configuration"]))
    for name, entry in document["configuration"].items():
        lines.append(f"  {name:<{width}}  {_value(entry['value'])}  ← {entry['from']}")
    lines.append("")
    lines.append("The engines' environment (judged by env.policy):")
    for name, value in document["engines_environment"].items():
        lines.append(f"  {name}={'(unset)' if value is None else repr(value)}")
    lines.append("")
    lines.append("Checks:")
    for check in document["checks"]:
        needs = f" (after {', '.join(check['needs'])})" if check["needs"] else ""
        lines.append(f"  {check['name']}{needs}: {check['note']}")
    lines.append("")
    firestore = document["firestore"]
    where = (f"emulator {firestore['emulator']}" if firestore["emulator"]
             else "Application Default Credentials")
    lines.append(f"Firestore: project {_value(firestore['project'])}, database "
                 f"{firestore['database']}, via {where}")
    for query in firestore["queries"]:
        filters = " AND ".join(f"{f} == {json.dumps(v)}" for f, _, v in query["where"])
        lines.append(f"  query {query['collection']} WHERE {filters}"
                     f"  → scopes {', '.join(query['serves'])}")
    lines.append("")
    lines.append("Scopes:")
    for scope in document["scopes"]:
        lines.append(f"  {scope['scope']}: {len(scope['kinds'])} kinds "
                     f"({', '.join(scope['kinds'])}); refused backends "
                     f"{', '.join(scope['refused_backends'])}")
    bucket = document["bucket"]
    lines.append("")
    lines.append(f"S3: {bucket['call']} {_value(bucket['name'])} at {bucket['endpoint']}")
    deadline = document["deadline"]
    strict = "; strict: warnings fail" if deadline["strict"] else ""
    lines.append(f"Deadline: {deadline['timeout_s']:g}s overall, "
                 f"{deadline['attempt_timeout_s']:g}s per call{strict}")
    return "\n".join(lines) + "\n"
