"""`preflight explain`: the effective configuration and the plan, without any network call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from preflight import checks
from preflight.config import Config, Raw
from preflight.core.redact import strip_url_userinfo
from preflight.judge.variables import described, echoable
from preflight.observe.registry import plan_queries

# Option name -> how its effective value reads from the validated Config.
EFFECTIVE: dict[str, Any] = {
    "profile": lambda c: c.profile.name,
    "project": lambda c: c.project,
    "database": lambda c: c.database,
    "bucket": lambda c: c.bucket,
    "collection": lambda c: c.collection,
    "kinds": lambda c: list(c.kinds),
    "scopes": lambda c: [scope.label for scope in c.scopes],
    "serving_scopes": lambda c: [scope.label for scope in c.serving_scopes],
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
    "extra_envs": lambda c: list(c.extra_envs),
    "no_color": lambda c: not c.color,
    "probes": lambda c: c.probes,
}


def describe_source(raw: Raw) -> str:
    if raw.source.value in ("flag", "env"):
        return f"{raw.source.value} {raw.where}"
    if raw.source.value == "profile":
        return raw.where
    return "default"


def plan(config: Config, environ: Mapping[str, str]) -> dict[str, Any]:
    profile = config.profile
    shown = echoable(profile.environment) | echoable(profile.backend_variables) | {
        "GCP_PROJECT_ID", "GCP_PROJECT", "RAW_BUCKET"}
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
            unconfigured = None if reason else check.unconfigured(config)
            note = (f"skipped: {reason}" if reason else
                    f"fails: {unconfigured.message.removeprefix('not checked: ')}"
                    if unconfigured else "runs")
        if check.name in config.ignore:
            note += "; a failure is reported as warn (--ignore)"
        planned.append({"name": check.name, "runs": note.startswith("runs"),
                        "needs": list(check.needs_for(config)), "note": note})
    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
    applied, unmatched = config.per_env_rules(config.every_scope())
    return {
        "configuration": configuration,
        "engines_environment": {name: described(value, name in shown)
                                for name, value in config.engines_env.items()},
        "checks": planned,
        "profile": {"name": config.profile.name, "source": config.profile.source,
                    "description": config.profile.description},
        "scopes": [{"scope": scope.label, "at": "startup", "kinds": list(config.kinds),
                    "refused_backends": sorted(config.disallowed_for(scope.env)),
                    "per_env_rule": applied[scope.label]}
                   for scope in config.scopes] + [
                   {"scope": scope.label, "at": "serving" if scope in config.serving_scopes
                    else "fixed", "kinds": list(kinds),
                    "refused_backends": sorted(config.disallowed_for(scope.env)),
                    "per_env_rule": applied[scope.label]}
                   for scope, kinds in config.request_time_scopes().items()],
        "per_env_rules_unmatched": unmatched,
        "firestore": {
            "project": config.project, "database": config.database,
            "collection": config.collection,
            "emulator": config.emulator_host,
            "queries": [{"collection": config.collection,
                         "where": [[field, operator, list(value) if operator == "in"
                                    else value] for field, operator, value in query.filters],
                         "serves": [scope.label for scope in query.scopes]}
                        for query in plan_queries(config.every_scope())],
        },
        "bucket": {"name": config.bucket, "call": "HeadBucket",
                   "endpoint": strip_url_userinfo(endpoint) if endpoint
                   else "the AWS default for the configured region"},
        "aws_credentials": _aws_credentials(config),
        "deadline": {"timeout_s": config.timeout, "attempt_timeout_s": config.attempt_timeout,
                     "strict": config.strict},
    }


def _aws_credentials(config: Config) -> dict[str, Any]:
    """Where AWS credentials will come from, as far as is known without resolving them."""
    endpoints = config.aws_endpoints
    sts = endpoints.get("AWS_ENDPOINT_URL_STS") or endpoints.get("AWS_ENDPOINT_URL")
    identity = config.aws_web_identity
    return {
        "call": "STS GetCallerIdentity",
        "endpoint": strip_url_userinfo(sts) if sts
        else "the AWS default for the configured region",
        "source": "the metadata server's Google ID token, exchanged for the role "
                  "(PREFLIGHT_AWS_WEB_IDENTITY=gcp), then botocore's chain" if identity
        else "botocore's chain: environment, web identity token file, profiles, "
             "credential_process, container endpoint, instance metadata",
        "web_identity": None if identity is None else {
            "role_arn": identity.role_arn, "audience": identity.audience,
            "session_name": identity.session_name,
            "duration_s": identity.duration},
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
    profile = document["profile"]
    lines.append(f"Profile: {profile['name']} ({profile['source']})")
    lines.append("")
    lines.append("The engines' environment (judged by env.policy and env.backends):")
    for name, value in document["engines_environment"].items():
        shown = "(unset)" if value is None else value if value in ("(set)", "(empty)") \
            else repr(value)
        lines.append(f"  {name}={shown}")
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
        filters = " AND ".join(f"{f} {op} {json.dumps(v)}" for f, op, v in query["where"])
        lines.append(f"  query {query['collection']} WHERE {filters}"
                     f"  → scopes {', '.join(query['serves'])}")
    lines.append("")
    lines.append("Scopes:")
    for scope in document["scopes"]:
        env = scope["scope"].split("/")[1]
        rule = (f" (--disallow-in {env}: {', '.join(scope['per_env_rule'])})"
                if scope["per_env_rule"] else "")
        lines.append(f"  {scope['scope']} ({scope['at']}): {len(scope['kinds'])} kinds "
                     f"({', '.join(scope['kinds'])}); refused backends "
                     f"{', '.join(scope['refused_backends'])}{rule}")
    for env, refused in document["per_env_rules_unmatched"].items():
        lines.append(f"  --disallow-in {env} ({', '.join(refused)}) applies to no scope here")
    bucket = document["bucket"]
    lines.append("")
    lines.append(f"S3: {bucket['call']} {_value(bucket['name'])} at {bucket['endpoint']}")
    aws = document["aws_credentials"]
    lines.append(f"AWS: {aws['call']} at {aws['endpoint']}; credentials from {aws['source']}")
    if aws["web_identity"]:
        web = aws["web_identity"]
        lines.append(f"  role {web['role_arn']}, audience {web['audience']}, session "
                     f"{web['session_name']}")
    deadline = document["deadline"]
    strict = "; strict: warnings fail" if deadline["strict"] else ""
    lines.append(f"Deadline: {deadline['timeout_s']:g}s overall, "
                 f"{deadline['attempt_timeout_s']:g}s per call{strict}")
    return "\n".join(lines) + "\n"
