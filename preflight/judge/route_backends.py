"""Whether the engines can build the backend of each route they will resolve, and serve
with it: what fails before any network call, from the profile's `kinds.<kind>.backends`.

Every finding names config keys and variables, never a value.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

from preflight.config import Config
from preflight.contract import route_model
from preflight.contract.lookups import Located, first_matches
from preflight.contract.profile import BackendSpec, ConfigKey, KeyGroup, KindSpec, Profile
from preflight.contract.route_model import RouteDoc
from preflight.contract.targets import given
from preflight.core.findings import Effect, Finding, summarise
from preflight.core.result import Outcome, Status
from preflight.core.scope import Scope
from preflight.judge.variables import none_set

FindingOf = Callable[..., Finding]
# botocore's own test of a region name (a host label), applied before any call
_HOST_LABEL = re.compile(r"(?![0-9]+$)(?!-)[a-zA-Z0-9-]{0,63}(?<!-)")


def _base64(value: str) -> bool:
    try:
        binascii.a2b_base64(value.encode())
    except (binascii.Error, UnicodeEncodeError):
        return False
    return True


FORMS: dict[str, tuple[Callable[[str], bool], str]] = {
    "host_label": (lambda value: bool(_HOST_LABEL.fullmatch(value)),
                   "not a region name (a host label), which the client refuses before any call"),
    "base64": (_base64, "not base64, which the client decodes before any call"),
}


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

    found: list[Finding] = []
    if kind.backends is not None:
        accepted = kind.backends
        if resolved not in accepted:
            spaced = resolved.strip() in accepted
            why = ("has surrounding spaces, and the resolver compares it untrimmed" if spaced
                   else f"is not one the {kind.name} resolver accepts ({', '.join(accepted)})")
            return [finding("backend_unsupported", f"backend_type {backend_type!r} {why}",
                            f"set backend_type to one of {', '.join(accepted)}")]
    if resolved.strip() in refused and where.at != "startup":
        found.append(finding("backend_refused", f"backend_type {resolved.strip()!r} is refused "
                             f"in env {where.scope.env}", "switch the route to a durable backend",
                             Effect.CONTRACT))
    if kind.backends is not None:
        found += judge_backend(kind.backends[resolved], profile, doc.data.get("config") or {},
                               environ, where.scope, finding)
    return found


def judge_backend(spec: BackendSpec, profile: Profile, config: Mapping[str, Any],
                  environ: Mapping[str, str | None], scope: Scope, finding: FindingOf,
                  ) -> list[Finding]:
    """What fails before the network when the engines build this backend for a request."""
    found: list[Finding] = []
    served = [mode for mode in profile.serving_modes if spec.modes and mode not in spec.modes]
    if served:
        found.append(finding(
            "backend_mode_only", f"{spec.name} works only for requests in mode "
            f"{', '.join(spec.modes)}; {', '.join(served)} requests fail",
            "route this kind to a cloud backend"))
    values: dict[str, tuple[Any, str]] = {}  # key -> (the value the engines use, its source)
    for key in spec.config:
        if spec.group_of(key.name) is not None:
            continue
        used = _used(key, config, environ)
        if used is None:
            stand_in = f" (or set {' or '.join(key.stand_in)})" if key.stand_in else ""
            found.append(finding(
                "config_key_missing", f"{spec.name} needs config key `{key.name}`{stand_in}",
                f"add `{key.name}` to the route's config{stand_in}"))
        else:
            values[key.name] = used
    for group in spec.together:
        from_group = _group(spec, group, config, environ, finding)
        if isinstance(from_group, Finding):
            found.append(from_group)
        else:
            values.update(from_group)
    if spec.needs_one_of and not any(environ.get(name) for name in spec.needs_one_of):
        variables = " or ".join(spec.needs_one_of)
        found.append(finding(
            "variable_missing", f"{spec.name} needs {variables} set: the engines ignore the "
            "route's config for it", f"set {variables}"))
    found += _forms(spec, values, finding)
    if spec.refuses_other_envs and scope.env.lower() not in profile.envs:
        found.append(finding(
            "env_not_served", f"{spec.name} refuses every request in env {scope.env!r}: the "
            f"engines serve {', '.join(profile.envs)}", "run the engines with ENV set to one "
            f"of {', '.join(profile.envs)}"))
    if spec.unusable is not None and not any(f.code in MISSING for f in found):
        found.append(finding(
            "backend_unusable", f"{spec.name} cannot serve a request at the engines' commit "
            f"{spec.unusable.since}: {spec.unusable.reason}",
            "route this kind to a backend the engines can use until they fix it"))
    return found


MISSING = frozenset({"config_key_missing", "config_group_incomplete", "variable_missing"})


def _used(key: ConfigKey, config: Mapping[str, Any], environ: Mapping[str, str | None],
          ) -> tuple[Any, str] | None:
    """The value the engines use for a key and where it came from; None: they have none."""
    where = f"`{key.name}` in its config"
    value = config.get(key.name)
    if given(value):
        return value, where
    if key.name in config and key.if_empty is not None:
        return key.if_empty, where
    if value is not None and (key.keep_empty or key.default is not None):
        return value, where  # passed on as it is
    for variable in key.stand_in:
        if environ.get(variable):
            return environ[variable], variable
    if key.default is not None:
        return key.default, "the default"
    return None


def _group(spec: BackendSpec, group: KeyGroup, config: Mapping[str, Any],
           environ: Mapping[str, str | None], finding: FindingOf,
           ) -> dict[str, tuple[Any, str]] | Finding:
    """Keys the engines take from the config only all together, else all from variables."""
    if all(given(config.get(key)) for key in group.keys):
        return {key: (config[key], f"`{key}` in its config") for key in group.keys}
    if all(environ.get(variable) for variable in group.stand_in):
        return {key: (environ[variable], variable)
                for key, variable in zip(group.keys, group.stand_in, strict=True)}
    keys = ", ".join(f"`{key}`" for key in group.keys)
    variables = " and ".join(group.stand_in)
    lacking = [f"`{key}`" for key in group.keys if not given(config.get(key))]
    unset = tuple(variable for variable in group.stand_in if not environ.get(variable))
    return finding(
        "config_group_incomplete", f"{spec.name} takes {keys} from its config only when all "
        f"are there, else all from {variables}: the config lacks {', '.join(lacking)}, and "
        f"{none_set(unset)}",
        f"put all of {keys} in the route's config, or set {variables}")


def _forms(spec: BackendSpec, values: Mapping[str, tuple[Any, str]], finding: FindingOf,
           ) -> list[Finding]:
    found = []
    for key in spec.config:
        if key.form is None or key.name not in values:
            continue
        value, source = values[key.name]
        test, why = FORMS[key.form]
        if not isinstance(value, str) or not test(value):
            found.append(finding(
                "config_value_invalid", f"{spec.name}'s {key.name} ({source}) is {why}",
                f"correct {source}"))
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
