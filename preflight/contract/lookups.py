"""Which kinds the engines look up at which scope, and which document each lookup takes.

One place for it: the checks, the probes and the audit all ask here. Start-up kinds at the
start-up scopes; request-time kinds at every serving scope (the caller's tenant, env and
project, exact); a few kinds at a fixed scope (event_stream at t_system/dev). With several
matching documents the engines take the first in document-id order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from preflight.contract.profile import Profile
from preflight.contract.route_model import RouteDoc
from preflight.core.scope import Scope


def matches(kind: str, docs: Iterable[RouteDoc]) -> list[RouteDoc]:
    """The documents the engines' lookup of `kind` returns, in the order they take them."""
    return sorted((doc for doc in docs if doc.data.get("resource_kind") == kind),
                  key=lambda doc: doc.doc_id)


class Located(NamedTuple):
    """A kind the engines look up at a scope, and where (the start-up, serving or fixed one)."""

    kind: str
    scope: Scope
    at: str


def lookups(profile: Profile, startup_scopes: Sequence[Scope], startup_kinds: Sequence[str],
            serving_scopes: Sequence[Scope]) -> list[Located]:
    """Every (kind, scope) the engines will look up, as the profile and options say."""
    found = [Located(kind, scope, "startup") for scope in startup_scopes
             for kind in startup_kinds]
    found += [Located(kind, scope, "serving") for scope in serving_scopes
              for kind in profile.kinds_at("serving")]
    found += [Located(kind, scope, "fixed") for scope, kinds in profile.fixed_scopes().items()
              for kind in kinds]
    return found


def first_matches(located: Sequence[Located], docs: Mapping[Scope, Sequence[RouteDoc]],
                  ) -> dict[Located, RouteDoc]:
    """The document the engines would use for each lookup that finds one."""
    chosen = {}
    for where in located:
        found = matches(where.kind, docs.get(where.scope, ()))
        if found:
            chosen[where] = found[0]
    return chosen


def request_time_scopes(profile: Profile, serving_scopes: Sequence[Scope],
                        ) -> dict[Scope, tuple[str, ...]]:
    """Each scope the engines look request-time kinds up at, with those kinds."""
    scopes = {scope: profile.kinds_at("serving") for scope in serving_scopes}
    for scope, kinds in profile.fixed_scopes().items():
        scopes[scope] = tuple(dict.fromkeys((*scopes.get(scope, ()), *kinds)))
    return scopes


def lookups_at(profile: Profile, scope: Scope) -> dict[str, str]:
    """kind -> how the engines may look it up at this scope (startup, serving or fixed),
    whoever calls: the fleet's view (the audit), where no serving scope is given, so any
    scope with a project in an env they serve is one."""
    found = {}
    if scope == profile.startup_scope:
        found.update(dict.fromkeys(profile.kinds_at("startup"), "startup"))
    if scope.project is not None and scope.env in profile.envs:
        found.update(dict.fromkeys(profile.kinds_at("serving"), "serving"))
    found.update(dict.fromkeys(profile.fixed_scopes().get(scope, ()), "fixed"))
    return found


def role_of(profile: Profile, scope: Scope) -> str:
    """The first way the engines read this scope: startup, serving, fixed, or unread."""
    if scope == profile.startup_scope:
        return "startup"
    if scope.project is not None and scope.env in profile.envs:
        return "serving"
    return "fixed" if scope in profile.fixed_scopes() else "unread"
