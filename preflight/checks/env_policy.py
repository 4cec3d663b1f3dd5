"""env.policy: the engines' environment rules (ENGINES.md section 1), judged before any I/O.

Values are read exactly as the engines read them: lower-cased, never trimmed; an empty value
counts as unset where the engines' code treats it so (`os.getenv(X) or default`), and not
where it does not. Each rule is data (`Choice`, `Name`): what the engines do with a value
decides whether a violation means "the engines will not start", and what the contract
allows decides the stricter rules, each with its strictness code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight import strictness
from preflight.checks.base import Check, Context
from preflight.redact import strip_url_userinfo
from preflight.verdict import Outcome, Status


@dataclass(frozen=True)
class Choice:
    """A variable that picks a backend."""

    variable: str
    empty_means_unset: bool  # does the engines' code read "" as unset?
    default: str  # what the engines use when it is unset
    # Values (lower-cased) the engines start with; None: they start with any value and
    # judge it at first use.
    engines_start: frozenset[str] | None
    contract: frozenset[str]  # values the contract allows
    otherwise: str  # what the engines do with a value outside engines_start
    code: str  # the strictness code when the engines start but the contract refuses
    stricter: str  # what the engines do with a value they start with but the contract refuses
    fix: str
    why: Mapping[str, str] = field(default_factory=dict)  # value -> a specific explanation


@dataclass(frozen=True)
class Name:
    """A variable that names something (a project, a bucket): it must be set."""

    variables: tuple[str, ...]  # read in order; an empty one falls through to the next
    needed_at_startup_by: tuple[tuple[str, str], ...]  # (choice variable, resolved value)
    code: str  # the strictness code when the engines would start without it
    rule: str
    stricter: str  # what the engines do without it, when they start
    fix: str


ROUTING_REGISTRY = Choice(
    "ROUTING_REGISTRY_BACKEND", empty_means_unset=False, default="filesystem",
    engines_start=frozenset({"firestore", "filesystem"}),
    contract=frozenset({"firestore"}),
    otherwise="they accept only firestore, filesystem and memory",
    code="routing_registry_not_firestore",
    stricter="the engines would start on a filesystem registry in their working folder; "
             "the contract requires firestore",
    fix="set ROUTING_REGISTRY_BACKEND=firestore",
    why={"memory": "an in-memory registry is empty, so their start-up validation finds no "
                   "route"})
NEXUS = Choice(
    "NEXUS_BACKEND", empty_means_unset=True, default="firestore", engines_start=None,
    contract=frozenset({"firestore", "bigquery", "bq"}),
    otherwise="", code="nexus_backend_refused",
    stricter="the engines would start, but refuse it at first use (allowed: firestore, "
             "bigquery, bq; unset or empty means firestore)",
    fix="set NEXUS_BACKEND=firestore (or bigquery), or unset it")
FEATURE_FLAGS = Choice(
    "FEATURE_FLAGS_BACKEND", empty_means_unset=True, default="firestore",
    engines_start=frozenset({"firestore", "memory", "in_memory"}),
    contract=frozenset({"firestore"}),
    otherwise="they accept only firestore, memory and in_memory; unset or empty means "
              "firestore",
    code="feature_flags_memory",
    stricter="the engines would start with in-memory feature flags; the contract forbids "
             "memory backends",
    fix="set FEATURE_FLAGS_BACKEND=firestore, or unset it")
PROJECT = Name(
    ("GCP_PROJECT_ID", "GCP_PROJECT"),
    needed_at_startup_by=(("ROUTING_REGISTRY_BACKEND", "firestore"),
                          ("FEATURE_FLAGS_BACKEND", "firestore")),
    code="project_required",
    rule="GCP_PROJECT_ID or GCP_PROJECT must name the Firestore project",
    stricter="the engines would start, as no Firestore backend is chosen; the contract "
             "requires a project",
    fix="set GCP_PROJECT_ID to the project that holds the routing registry")
RAW_BUCKET = Name(
    ("RAW_BUCKET",), needed_at_startup_by=(), code="raw_bucket_required",
    rule="must name the S3 bucket for raw storage and media uploads",
    stricter="the engines would start; they read it at first use only",
    fix="set RAW_BUCKET to the bucket name (the engines read this variable, not preflight's "
        "--bucket)")

# In the order violations are listed.
RULES: tuple[Choice | Name, ...] = (ROUTING_REGISTRY, PROJECT, RAW_BUCKET, NEXUS, FEATURE_FLAGS)
CHOICES = {rule.variable: rule for rule in RULES if isinstance(rule, Choice)}


def _shown(value: str | None) -> str | None:
    if value is None:
        return None
    value = strip_url_userinfo(value)
    return value if len(value) <= 80 else value[:79] + "…"


def resolve(choice: Choice, env: Mapping[str, str | None]) -> str:
    """The value the engines act on."""
    raw = env.get(choice.variable)
    if raw is None or (raw == "" and choice.empty_means_unset):
        return choice.default
    return raw.lower()


def _violation(variable: str, value: str | None, rule: str, fix: str,
               code: str | None) -> dict[str, Any]:
    return {"variable": variable, "value": _shown(value), "rule": rule, "fix": fix,
            "engines_start": code is not None, "code": code}


def _judge_choice(choice: Choice, env: Mapping[str, str | None]) -> dict[str, Any] | None:
    raw = env.get(choice.variable)
    value = resolve(choice, env)
    said = "unset" if raw is None else "empty" if raw == "" else repr(_shown(raw))
    if choice.engines_start is not None and value not in choice.engines_start:
        reason = choice.why.get(value, choice.otherwise)
        return _violation(choice.variable, raw,
                          f"{said}: {strictness.ENGINES_CRASH} ({reason})", choice.fix, None)
    if value not in choice.contract:
        reason = choice.why.get(value, choice.stricter)
        return _violation(choice.variable, raw, f"{said}: {reason}", choice.fix, choice.code)
    return None


def _judge_name(name: Name, env: Mapping[str, str | None]) -> dict[str, Any] | None:
    variable = next((v for v in name.variables if env.get(v)), None)
    if variable is None:
        needed = [f"{v}={value}" for v, value in name.needed_at_startup_by
                  if resolve(CHOICES[v], env) == value]
        if needed:
            return _violation(name.variables[0], env.get(name.variables[0]),
                              f"{name.rule}: {strictness.ENGINES_CRASH} (they need it for "
                              f"{' and '.join(needed)})", name.fix, None)
        return _violation(name.variables[0], env.get(name.variables[0]),
                          f"{name.rule}: {name.stricter}", name.fix, name.code)
    value = env[variable] or ""
    if value != value.strip():
        return _violation(variable, value, "has leading or trailing whitespace, which the "
                          "engines keep; preflight checks the trimmed name", f"remove the "
                          f"whitespace around {variable}", "value_untrimmed")
    return None


def judge(env: Mapping[str, str | None]) -> Outcome:
    violations = [v for v in (_judge_choice(rule, env) if isinstance(rule, Choice)
                              else _judge_name(rule, env) for rule in RULES) if v]
    if not violations:
        return Outcome(Status.PASS, "the engines' environment rules hold",
                       details={"violations": []})
    names = ", ".join(dict.fromkeys(v["variable"] for v in violations))
    crash = [v["variable"] for v in violations if not v["engines_start"]]
    contract = [v["variable"] for v in violations if v["engines_start"]]
    if crash and contract:
        effect = (f"{strictness.ENGINES_CRASH}: {', '.join(crash)}; {strictness.STRICTER}: "
                  f"{', '.join(contract)}")
    else:
        effect = (strictness.ENGINES_CRASH if crash
                  else f"{strictness.STRICTER}: they would start")
    details: dict[str, Any] = {"violations": violations}
    stricter = [strictness.finding(v["code"], v["rule"] if v["rule"].startswith(v["variable"])
                                   else f"{v['variable']} {v['rule']}")
                for v in violations if v["engines_start"]]
    if stricter:
        details["stricter_than_engines"] = stricter
    return Outcome(
        Status.FAIL,
        f"{len(violations)} environment rule(s) broken: {names} ({effect})",
        remediation="; ".join(dict.fromkeys(v["fix"] for v in violations)),
        details=details,
    )


class EnvPolicy(Check):
    name = "env.policy"

    def attempt(self, ctx: Context) -> Outcome:
        return judge(ctx.config.engines_env)
