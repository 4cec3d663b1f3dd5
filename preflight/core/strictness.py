"""Where preflight blocks although the engines would start: the deliberate strictness rules.

A block either predicts an engines crash at start-up ("the engines will not start") or
applies a rule of the contract (or an operator's option) that the engines' own code does
not enforce. The second kind is never silent: the check result carries
`details.stricter_than_engines`, a list of `{"code", "message"}` with a code from `RULES`.
docs/STRICTNESS.md's table of deliberate strictness is written from these rules (make docs;
a test compares them), so a user reading a block can tell the two kinds apart.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINES_CRASH = "the engines will not start"
STRICTER = "stricter than the engines"


@dataclass(frozen=True)
class Rule:
    code: str
    rule: str
    reason: str


RULES: tuple[Rule, ...] = (
    Rule("backend_trims_to_refused",
         "a route's `backend_type` that is refused only once trimmed (`' memory'`, "
         "`'noop\\t'`)",
         "the engines compare it untrimmed and start, but no resolver accepts it at first use"),
    Rule("backend_empty",
         "a route's `backend_type` that is empty or only whitespace",
         "the engines skip an empty `backend_type` at start-up, but no resolver accepts it at "
         "first use"),
    Rule("backend_refused_by_option",
         "a `backend_type` that `--disallow` or `--disallow-in` refuses but the engines accept",
         "the operator asked for it"),
    Rule("duplicates_disagree",
         "several documents answer one lookup and differ in `backend_type` (trimmed, "
         "lower-cased), `config`, or validity",
         "the engines take the first in document-id order: which backend serves is an "
         "accident of naming, and renaming or deleting a document switches it silently"),
    Rule("not_checked_at_startup",
         "a finding in a scope other than `t_system/dev`, or for a kind outside the engines' "
         "17",
         "the engines check only their 17 kinds in `t_system/dev` at start-up; `--scope` and "
         "`--kinds` ask for more"),
    Rule("routing_registry_not_firestore",
         "`ROUTING_REGISTRY_BACKEND` unset or `filesystem`",
         "the engines start on a filesystem registry in their working folder; the contract "
         "requires firestore"),
    Rule("project_required",
         "neither `GCP_PROJECT_ID` nor `GCP_PROJECT` set while no Firestore backend is chosen",
         "the engines need a project only for Firestore backends; the contract requires one"),
    Rule("value_untrimmed",
         "`GCP_PROJECT_ID`, `GCP_PROJECT` or `RAW_BUCKET` with leading or trailing whitespace",
         "the engines use the value verbatim; preflight checks the trimmed name, so it cannot "
         "vouch for what the engines will use"),
    Rule("raw_bucket_required",
         "`RAW_BUCKET` unset or empty",
         "the engines read it at first use only (raw storage, media uploads); the contract "
         "requires it"),
    Rule("raw_bucket_must_exist",
         "the bucket `RAW_BUCKET` names does not exist or cannot be read (`s3.bucket` fails)",
         "the engines use it at first use only; the contract requires it"),
    Rule("nexus_backend_refused",
         "`NEXUS_BACKEND` set to anything but `firestore`, `bigquery` or `bq` (lower-cased, "
         "not trimmed; empty means unset)",
         "the engines start, and refuse it at first use"),
    Rule("feature_flags_memory",
         "`FEATURE_FLAGS_BACKEND` = `memory` or `in_memory`",
         "the engines accept it; the contract forbids memory backends"),
    Rule("route_missing",
         "no route for a request-time kind at a serving scope (or at its fixed scope), where "
         "the profile makes first-use rules `fail`",
         "the engines start; the requests that look the route up fail"),
    Rule("route_invalid",
         "the request-time route the engines would take fails their route model, where first-use "
         "rules `fail`",
         "the engines start; the lookup raises on every request that needs the route"),
    Rule("backend_unsupported",
         "a request-time route whose `backend_type` (lower-cased, untrimmed) its kind's resolver "
         "does not accept, where first-use rules `fail`",
         "the engines start; the resolver refuses it on every request"),
    Rule("backend_mode_only",
         "a backend the resolver accepts only for requests in another mode (`filesystem`: `lab`), "
         "where first-use rules `fail`",
         "the engines start; requests in the modes this deployment serves fail"),
    Rule("config_key_missing",
         "a route's backend lacks a config key it needs and no stand-in variable is set, where "
         "first-use rules `fail`",
         "the engines start; building the backend fails on first use"),
    Rule("config_group_incomplete",
         "config keys the engines take from a route's config only all together (Cosmos "
         "`endpoint` and `key`) are incomplete there and their variables are incomplete too, "
         "where first-use rules `fail`",
         "the engines start; building the backend fails on first use"),
    Rule("config_value_invalid",
         "a value the engines use for a route's backend has a form its client refuses before "
         "any call (a DynamoDB `region` that is not a host label, a Cosmos key that is not "
         "base64), where first-use rules `fail`",
         "the engines start; building the backend fails on first use"),
    Rule("variable_missing",
         "a route's backend that takes what it needs from variables only (the timeline on "
         "`firestore`: `GCP_PROJECT_ID` or `GCP_PROJECT`) while none is set, where first-use "
         "rules `fail`",
         "the engines start; building the backend fails on first use"),
    Rule("env_not_served",
         "`object_store` on `s3` while the engines run in an env outside the profile's `envs`, "
         "where first-use rules `fail`",
         "the engines start; raw storage answers 400 to every request in that env"),
    Rule("backend_unusable",
         "a request-time route on a backend the engines build but cannot use at the profile's "
         "commit (`object_store` on `azure_blob` or `gcs`), where first-use rules `fail`",
         "the engines start; every request that needs the route raises"),
    Rule("backend_refused",
         "a request-time route on a backend the profile's `refused_backends` (or "
         "`--disallow-in`) refuses for its env",
         "the engines would serve it; the contract or the operator refuses it"),
)
CODES: frozenset[str] = frozenset(rule.code for rule in RULES)


def reason_of(code: str) -> str | None:
    """The reason docs/STRICTNESS.md gives for a built-in code; None for an operator's own."""
    return next((rule.reason for rule in RULES if rule.code == code), None)


def finding(code: str, message: str) -> dict[str, str]:
    """One entry of `details.stricter_than_engines`."""
    if code not in CODES:
        raise ValueError(f"unknown strictness code {code!r}")
    return {"code": code, "message": message}
