"""Whether the engines can build the backend of each route they will resolve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflight.config import Config
from preflight.contract import route_model
from preflight.contract.lookups import Located, first_matches
from preflight.contract.profile import BackendSpec, KindSpec, Profile
from preflight.contract.route_model import RouteDoc
from preflight.core.findings import Effect, Finding, summarise
from preflight.core.result import Outcome, Status


def _present(value: Any) -> bool:
    return value is not None and value not in ("", {})


def judge_route(profile: Profile, kind: KindSpec, where: Located, doc: RouteDoc,
                refused: frozenset[str], environ: Mapping[str, str | None]) -> list[Finding]:
    """Why the engines could not build this route's backend, or nothing. Pure."""
    backend_type = doc.data["backend_type"]
    resolved = backend_type.lower()
    subject = f"{kind.name} at {where.scope.label} (route `{doc.doc_id}`)"
    severity = profile.severity_of(kind.name)
    extra = {"kind": kind.name, "scope": where.scope.label, "document": doc.doc_id,
             "backend_type": resolved.strip()}

    def finding(code: str, message: str, fix: str, effect: Effect = Effect.FIRST_USE,
                ) -> Finding:
        return Finding(code, subject, message, fix, effect, severity, extra=extra)

    if resolved.strip() in refused and where.at != "startup":
        return [finding("backend_refused", f"backend_type {resolved.strip()!r} is refused in "
                        f"env {where.scope.env}", "switch the route to a durable backend",
                        Effect.CONTRACT)]
    if kind.backends is None:
        return []
    accepted = kind.backends
    if resolved not in accepted:
        spaced = resolved.strip() in accepted
        why = ("has surrounding spaces, and the resolver compares it untrimmed" if spaced
               else f"is not one the {kind.name} resolver accepts ({', '.join(accepted)})")
        return [finding("backend_unsupported", f"backend_type {backend_type!r} {why}",
                        f"set backend_type to one of {', '.join(accepted)}")]
    return judge_backend(accepted[resolved], profile, doc.data.get("config") or {}, environ,
                         finding)


def judge_backend(spec: BackendSpec, profile: Profile, config: Mapping[str, Any],
                  environ: Mapping[str, str | None], finding: Any) -> list[Finding]:
    found: list[Finding] = []
    served = [mode for mode in profile.serving_modes if spec.modes and mode not in spec.modes]
    if served:
        found.append(finding(
            "backend_mode_only", f"{spec.name} works only for requests in mode "
            f"{', '.join(spec.modes)}; {', '.join(served)} requests fail",
            "route this kind to a cloud backend"))
    for key in spec.config:
        if not key.needed or _present(config.get(key.name)):
            continue
        if any(environ.get(variable) for variable in key.stand_in):
            continue
        stand_in = f" (or set {' or '.join(key.stand_in)})" if key.stand_in else ""
        found.append(finding(
            "config_key_missing", f"{spec.name} needs config key `{key.name}`{stand_in}",
            f"add `{key.name}` to the route's config{stand_in}"))
    return found


def judge(config: Config, docs: Mapping[Any, Any]) -> Outcome:
    profile = config.profile
    located = [where for where in config.lookups()
               if (spec := profile.kinds.get(where.kind)) is not None
               and (spec.backends is not None or where.at != "startup")]
    findings: list[Finding] = []
    judged = 0
    for where, doc in first_matches(located, docs).items():
        if route_model.reason(doc.data) is not None:
            continue  # routing.entries / routing.serving report it
        judged += 1
        findings += judge_route(profile, profile.kinds[where.kind], where, doc,
                                config.disallowed_for(where.scope.env), config.engines_env)
    if not judged:
        # A pass must be earned: with nothing to judge, say why and stay neutral.
        return Outcome(Status.SKIPPED, "no route to judge: none of the request-time routes "
                       "the engines would resolve was found (routing.serving says which are "
                       "missing; --serve-scope names the tenants' scopes)",
                       details={"routes_judged": 0})
    return summarise(findings, what="route(s) whose backend the engines cannot build",
                     passed=f"{judged} route(s) use a backend their kind accepts, with the "
                     "config keys it needs", details={"routes_judged": judged})
