"""Facts read from the engines' code against a profile: what differs, nothing else.

Pure: no file or network access. Each comparison is a small function over the facts and
the profile; what the profile cannot say yet becomes a note, not a difference. To teach
the check a new profile feature, add one function to COMPARISONS (or one check to
CONFIG_KEY_CHECKS / VARIABLE_CHECKS) and move the matching note out of `notes`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from preflight.contract.profile import (
    BackendSpec,
    ConfigKey,
    KindSpec,
    Profile,
    VariableRule,
    dotted,
)
from preflight.engines_code.facts import (
    Backend,
    ConfigRead,
    Facts,
    Lookup,
    NotUnderstood,
    ScopeArgument,
    StartupCheck,
    VariableRead,
)
from preflight.engines_code.tree import Where

BLOCKING_AREAS = frozenset({"start-up kinds", "refused backends"})
BACKEND_SUFFIX = "_BACKEND"


class Difference(NamedTuple):
    code: str
    message: str
    engines: Where | None  # where in the engines' code; None: the code lacks it
    profile_key: str  # dotted key path in the profile
    profile_at: str  # its file:line
    also: tuple[Where, ...] = ()  # the same fact elsewhere in the code


class Note(NamedTuple):
    """An engines fact the profile cannot express yet; reported, not judged."""

    engines: Where
    message: str


class Comparison(NamedTuple):
    differences: tuple[Difference, ...]
    not_understood: tuple[NotUnderstood, ...]  # in code the app runs
    blocking: tuple[NotUnderstood, ...]  # among the start-up kinds and refused backends
    dormant: tuple[Lookup, ...]
    notes: tuple[Note, ...]
    counts: dict[str, int]  # what was read and compared

    @property
    def exit_code(self) -> int:
        return 1 if self.differences or self.blocking else 0


class Context(NamedTuple):
    facts: Facts
    profile: Profile
    live: tuple[Lookup, ...]
    choosing: tuple[Lookup, ...]  # live lookups whose resolver picks a backend
    startup: tuple[StartupCheck, ...]
    variables: tuple[VariableRead, ...]  # the reads to judge (profile's or *_BACKEND)

    def difference(self, code: str, message: str, engines: Where | None, *key: str,
                   also: Iterable[Where] = ()) -> Difference:
        return Difference(code, message, engines, dotted(key), self.profile.where(*key),
                          tuple(also))


def _quote(values: Iterable[object]) -> str:
    return ", ".join(repr(v) for v in values) or "none"


# ---------------------------------------------------------------------- start-up

def startup_found(ctx: Context) -> Iterator[Difference]:
    if not ctx.startup:
        yield ctx.difference(
            "startup_check_missing", "no start-up validation found in code the app runs "
            "(a loop over a constant list of kinds, looking each up and refusing backend "
            "types); the profile requires "
            f"{len(ctx.profile.kinds_at('startup'))} kinds at start-up", None, "kinds")


def startup_kinds(ctx: Context) -> Iterator[Difference]:
    expected = ctx.profile.kinds_at("startup")
    for check in ctx.startup:
        found = dict(check.kinds)
        for kind, where in check.kinds:
            if kind not in expected:
                yield ctx.difference("startup_kind_added", f"the engines require {kind!r} at "
                                     "start-up; the profile does not", where, "kinds")
        for kind in expected:
            if kind not in found:
                yield ctx.difference("startup_kind_removed", f"the profile requires {kind!r} "
                                     "at start-up; the engines' start-up check no longer "
                                     "looks it up", check.kinds_at, "kinds", kind)


def startup_scope(ctx: Context) -> Iterator[Difference]:
    scope = ctx.profile.startup_scope
    for check in ctx.startup:
        for name, argument, expected in (("tenant", check.scope.tenant, scope.tenant),
                                         ("env", check.scope.env, scope.env),
                                         ("project", check.scope.project, scope.project)):
            if argument.source != "literal" or argument.value != expected:
                yield ctx.difference(
                    "startup_scope_changed", f"the start-up check looks kinds up with {name} "
                    f"{argument.describe()}; the profile says {expected!r}", check.where,
                    "startup", "scope", name)


def refused_backends(ctx: Context) -> Iterator[Difference]:
    expected = ctx.profile.refused_all
    for check in ctx.startup:
        found = dict(check.refused)
        for backend, where in check.refused:
            if backend not in expected:
                yield ctx.difference("refused_backend_added", f"the engines refuse backend "
                                     f"{backend!r} at start-up; the profile does not",
                                     where, "refused_backends", "all")
        for backend in expected:
            if backend not in found:
                yield ctx.difference("refused_backend_removed", f"the profile refuses "
                                     f"{backend!r}; the engines' start-up check no longer does",
                                     check.refused_at or check.where, "refused_backends", "all")


# ---------------------------------------------------------------------- request time

def _by_kind(lookups: Iterable[Lookup]) -> dict[str, list[Lookup]]:
    grouped: dict[str, list[Lookup]] = defaultdict(list)
    for lookup in lookups:
        grouped[lookup.kind].append(lookup)
    return grouped


def request_kinds(ctx: Context) -> Iterator[Difference]:
    profile = ctx.profile
    for kind, lookups in sorted(_by_kind(ctx.live).items()):
        spec = profile.kinds.get(kind)
        first, *rest = lookups
        also = [lookup.where for lookup in rest]
        if spec is None:
            yield ctx.difference("request_kind_added", f"the engines look {kind!r} up when "
                                 "serving; the profile does not list it", first.where, "kinds",
                                 also=also)
        elif spec.at == "startup":
            yield ctx.difference("startup_kind_looked_up", f"the engines look {kind!r} up "
                                 "when serving; the profile has it at start-up only",
                                 first.where, "kinds", kind, "at", also=also)
    live = {lookup.kind for lookup in ctx.live}
    dormant = _by_kind(lookup for lookup in ctx.facts.lookups if lookup.dormant)
    for kind, spec in profile.kinds.items():
        if spec.at == "startup" or kind in live:
            continue
        elsewhere = dormant.get(kind, [])
        detail = (f" (only in code the app does not run: {elsewhere[0].where}, "
                  f"{elsewhere[0].dormant})" if elsewhere else "")
        yield ctx.difference("request_kind_removed", f"the profile requires {kind!r} when "
                             f"serving; the engines no longer look it up{detail}", None,
                             "kinds", kind)


def lookup_scopes(ctx: Context) -> Iterator[Difference]:
    for lookup in ctx.choosing:
        spec = ctx.profile.kinds.get(lookup.kind)
        if spec is None or spec.at == "startup":
            continue
        arguments = (("tenant", lookup.scope.tenant), ("env", lookup.scope.env),
                     ("project", lookup.scope.project))
        if spec.at == "serving":
            for name, argument in arguments:
                if argument.source != "literal":
                    continue
                yield ctx.difference(
                    "lookup_scope_fixed", f"the engines look {lookup.kind!r} up with {name} "
                    f"{argument.describe()}; the profile has it at every serving scope",
                    lookup.where, "kinds", lookup.kind, "at")
        elif spec.scope is not None:
            expected = {"tenant": spec.scope.tenant, "env": spec.scope.env,
                        "project": spec.scope.project}
            for name, argument in arguments:
                if not _same_scope(argument, expected[name]):
                    yield ctx.difference(
                        "lookup_scope_changed", f"the engines look {lookup.kind!r} up with "
                        f"{name} {argument.describe()}; the profile says "
                        f"{expected[name]!r}", lookup.where, "kinds", lookup.kind, "at")


def _same_scope(argument: ScopeArgument, expected: str | None) -> bool:
    return argument.source == "literal" and argument.value == expected


def _resolvers(ctx: Context) -> Iterator[tuple[str, KindSpec, Lookup]]:
    """Each (kind, resolver) once: a resolver shared by many literals is judged once."""
    seen: set[tuple[str, str]] = set()
    for lookup in ctx.choosing:
        spec = ctx.profile.kinds.get(lookup.kind)
        key = (lookup.kind, lookup.resolver.function)
        if spec is None or spec.at == "startup" or key in seen:
            continue
        seen.add(key)
        yield lookup.kind, spec, lookup


def backends(ctx: Context) -> Iterator[Difference]:
    for kind, spec, lookup in _resolvers(ctx):
        found = {backend.name: backend for backend in lookup.resolver.backends}
        resolver = f"{lookup.resolver.function} (for {lookup.where})"
        if spec.backends is None:
            yield ctx.difference("backends_unlisted", f"the profile accepts any backend for "
                                 f"{kind!r}; the engines' resolver {resolver} accepts only "
                                 f"{_quote(found)}", lookup.resolver.where, "kinds", kind)
            continue
        for name, backend in found.items():
            if name not in spec.backends:
                yield ctx.difference("backend_added", f"the engines accept backend {name!r} "
                                     f"for {kind!r} ({resolver}); the profile does not",
                                     backend.where, "kinds", kind, "backends")
        for name in spec.backends:
            if name not in found:
                yield ctx.difference("backend_removed", f"the profile accepts backend "
                                     f"{name!r} for {kind!r}; the engines' resolver "
                                     f"{resolver} no longer does", lookup.resolver.where,
                                     "kinds", kind, "backends", name)


def _modes_agree(backend: Backend, spec: BackendSpec, served: tuple[str, ...]) -> bool:
    """The resolver's own guard (an allow-list) decides; else the adapter's refusals: the
    profile's modes must be refused nowhere, and every served mode it leaves out refused."""
    if backend.modes or not backend.refused_modes:
        return set(backend.modes) == set(spec.modes)
    refused = set(backend.refused_modes)
    return bool(spec.modes) and not refused & set(spec.modes) and all(
        mode in refused for mode in served if mode not in spec.modes)


def backend_modes(ctx: Context) -> Iterator[Difference]:
    for kind, spec, lookup in _resolvers(ctx):
        for backend in lookup.resolver.backends:
            profile_backend = (spec.backends or {}).get(backend.name)
            if profile_backend is None or _modes_agree(backend, profile_backend,
                                                      ctx.profile.serving_modes):
                continue
            engines = (f"in modes {_quote(backend.modes)}" if backend.modes else
                       f"in every mode but {_quote(backend.refused_modes)} ("
                       f"{backend.builds} refuses them at {backend.refused_at})"
                       if backend.refused_modes else "in modes all")
            yield ctx.difference(
                "backend_modes_changed", f"the engines serve {kind!r} on {backend.name!r} "
                f"{engines}; the profile says "
                f"{_quote(profile_backend.modes) if profile_backend.modes else 'all'}",
                backend.where, "kinds", kind, "backends", backend.name, "modes")


def backend_usable(ctx: Context) -> Iterator[Difference]:
    """A backend the resolver builds but whose adapter does not take the service's calls is
    unusable: the profile marks it so, and notices when the engines fix it."""
    for kind, spec, lookup in _resolvers(ctx):
        for backend in lookup.resolver.backends:
            profile_backend = (spec.backends or {}).get(backend.name)
            if profile_backend is None or not backend.fits:
                continue
            bad = [fit for fit in backend.fits if fit.why]
            path = ("kinds", kind, "backends", backend.name)
            marked = profile_backend.unusable
            if marked is not None and not bad:
                yield ctx.difference(
                    "backend_usable_again", f"the profile marks {backend.name!r} for {kind!r} "
                    f"unusable (since {marked.since}); every call its service makes on "
                    f"{backend.builds} now binds ({len(backend.fits)} calls)", backend.where,
                    *path, "unusable")
            elif marked is None and bad:
                fit = bad[0]
                yield ctx.difference(
                    "backend_unusable_found", f"{kind!r} on {backend.name!r}: the service calls "
                    f"{fit.call.method} on {backend.builds}, which cannot take it ({fit.why}); "
                    "every such request raises; the profile does not mark it `unusable`",
                    fit.call.where, *path)


ConfigKeyCheck = Callable[[ConfigRead, ConfigKey], str | None]


def _stand_in(read: ConfigRead, key: ConfigKey) -> str | None:
    if read.understood and tuple(read.stand_in) != tuple(key.stand_in):
        return (f"stands in {_quote(read.stand_in)} for a missing {read.key!r}; the profile "
                f"says {_quote(key.stand_in)}")
    return None


def _default(read: ConfigRead, key: ConfigKey) -> str | None:
    if read.understood and str(read.default) != str(key.default):
        return (f"defaults {read.key!r} to {read.default!r}; the profile says "
                f"{key.default!r}")
    return None


CONFIG_KEY_CHECKS: tuple[tuple[str, ConfigKeyCheck], ...] = (
    ("config_stand_in_changed", _stand_in),
    ("config_default_changed", _default),
)


def _as_read(key: ConfigKey, spec: BackendSpec) -> ConfigKey:
    """A key of a `together` group stands in by its group's variable."""
    group = spec.group_of(key.name)
    if group is None:
        return key
    return key._replace(stand_in=(group.stand_in[group.keys.index(key.name)],))


def _group_differs(read: ConfigRead, spec: BackendSpec) -> str | None:
    if not read.understood:
        return None
    group = spec.group_of(read.key)
    found = frozenset((read.key, *read.together_with)) if read.together_with else None
    expected = frozenset(group.keys) if group else None
    if found == expected:
        return None
    if found is None:
        return (f"reads {read.key!r} on its own; the profile takes it only together with "
                f"{_quote(sorted(set(expected or ()) - {read.key}))}")
    return (f"takes {_quote(sorted(found))} from the route config only when all are there; "
            + (f"the profile groups {_quote(sorted(expected))}" if expected else
               "the profile has no `together` group for them"))


def config_keys(ctx: Context) -> Iterator[Difference]:
    for kind, spec, lookup in _resolvers(ctx):
        for backend in lookup.resolver.backends:
            profile_backend = (spec.backends or {}).get(backend.name)
            if profile_backend is None:
                continue
            keys = {key.name: _as_read(key, profile_backend) for key in profile_backend.config}
            path = ("kinds", kind, "backends", backend.name, "config")
            reads = {read.key: read for read in backend.config}
            for read in reads.values():
                key = keys.get(read.key)
                if key is None:
                    yield ctx.difference("config_key_added", f"the engines read config "
                                         f"{read.key!r} for {kind!r} on {backend.name!r}; the "
                                         "profile does not list it", read.where, *path)
                    continue
                for code, check in CONFIG_KEY_CHECKS:
                    message = check(read, key)
                    if message:
                        yield ctx.difference(code, f"{kind!r} on {backend.name!r} {message}",
                                             read.where, *path, read.key)
                grouped = _group_differs(read, profile_backend)
                if grouped:
                    yield ctx.difference("config_group_changed", f"{kind!r} on "
                                         f"{backend.name!r} {grouped}", read.where,
                                         *(path[:-1]), "together")
            for name in keys:
                if name not in reads:
                    yield ctx.difference("config_key_removed", f"the profile lists config "
                                         f"{name!r} for {kind!r} on {backend.name!r}; the "
                                         "engines no longer read it", backend.where,
                                         *path, name)


# ---------------------------------------------------------------------- variables

def _rules(profile: Profile) -> dict[str, tuple[str, VariableRule]]:
    rules = {name: ("backend_variables", rule) for name, rule in
             profile.backend_variables.items()}
    rules.update({name: ("environment", rule) for name, rule in profile.environment.items()})
    return rules


def variables_known(ctx: Context) -> Iterator[Difference]:
    rules = _rules(ctx.profile)
    not_checked = ctx.profile.engines.not_checked if ctx.profile.engines else {}
    unknown: dict[str, list[VariableRead]] = defaultdict(list)
    for read in ctx.variables:
        if read.variable not in rules and read.variable not in not_checked:
            unknown[read.variable].append(read)
    for variable, reads in sorted(unknown.items()):
        default = next((r.default for r in reads if r.default is not None), None)
        unset = f"default {default!r}" if default is not None else "no default"
        yield ctx.difference("backend_variable_added", f"the engines read {variable} ({unset})"
                             " to choose a backend; the profile has no rule for it",
                             reads[0].where, "backend_variables",
                             also=[r.where for r in reads[1:]])
    read_names = {read.variable for read in ctx.variables}
    for variable, (section, _) in rules.items():
        if variable not in read_names:
            yield ctx.difference("variable_not_read", f"the profile has a rule for {variable}; "
                                 "no code the app runs reads it", None, section, variable)


def _variable_default(read: VariableRead, rule: VariableRule) -> str | None:
    if read.default is not None and read.understood and str(read.default) != str(rule.default):
        return f"defaults to {read.default!r} when unset; the profile says {rule.default!r}"
    return None


def _variable_empty(read: VariableRead, rule: VariableRule) -> str | None:
    if read.default is None or rule.default is None or read.empty_is_unset is None:
        return None
    if read.empty_is_unset != rule.empty_unset:
        if read.empty_is_unset:
            return (f"reads an empty value as unset (so {read.default!r}); the profile says "
                    "empty is a value")
        return (f"keeps an empty value ({read.default!r} only when unset); the profile says "
                "empty counts as unset")
    return None


def _variable_fallback(read: VariableRead, rule: VariableRule) -> str | None:
    found = read.fallback[0] if read.fallback else None
    if found != rule.fallback:
        return f"falls back to {found} when unset; the profile says {rule.fallback}"
    return None


def _variable_case(read: VariableRead, rule: VariableRule) -> str | None:
    if read.lower != rule.lower:
        return ("lower-cases its value; the profile says it does not" if read.lower else
                "does not lower-case its value; the profile says it does")
    return None


class VariableCheck(NamedTuple):
    code: str
    key: str  # the profile key it judges
    differs: Callable[[VariableRead, VariableRule], str | None]  # None: agrees or silent
    claims: Callable[[VariableRule], bool]  # the profile says the engines do something
    relevant: Callable[[VariableRead], bool]  # the read says something about it


VARIABLE_CHECKS: tuple[VariableCheck, ...] = (
    VariableCheck("variable_default_changed", "default", _variable_default,
                  lambda rule: rule.default is not None, lambda read: read.default is not None),
    VariableCheck("variable_empty_changed", "empty", _variable_empty, lambda rule: False,
                  lambda read: read.default is not None and read.empty_is_unset is not None),
    VariableCheck("variable_fallback_changed", "fallback", _variable_fallback,
                  lambda rule: rule.fallback is not None, lambda read: True),
    VariableCheck("variable_case_changed", "case", _variable_case, lambda rule: rule.lower,
                  lambda read: read.lower or read.default is not None),
)


def _judged_reads(ctx: Context) -> Iterator[tuple[str, str, VariableRule, VariableCheck,
                                                  list[VariableRead], list[str | None]]]:
    rules = _rules(ctx.profile)
    reads: dict[str, list[VariableRead]] = defaultdict(list)
    for read in ctx.variables:
        if read.variable in rules:
            reads[read.variable].append(read)
    for variable, found in sorted(reads.items()):
        section, rule = rules[variable]
        for check in VARIABLE_CHECKS:
            yield variable, section, rule, check, found, [check.differs(r, rule) for r in found]


def variable_reads(ctx: Context) -> Iterator[Difference]:
    """A read that sets a default (a fallback, lower-casing) is judged; a read that passes
    the raw value on (a status page) is not. A variable read in several places that the
    engines treat differently is drift only when no read agrees with the profile; the
    reads that differ are then notes."""
    for variable, section, rule, check, found, messages in _judged_reads(ctx):
        judged = [(read, message) for read, message in zip(found, messages, strict=True)
                  if check.relevant(read)]
        if any(message is None for _, message in judged):
            continue
        for read, message in judged:
            yield ctx.difference(check.code, f"{variable} {message}", read.where, section,
                                 variable, check.key)
        if not judged and check.claims(rule):
            yield ctx.difference(check.code, f"the profile gives {variable} a {check.key}; "
                                 "no read of it in code the app runs has one", found[0].where,
                                 section, variable, check.key)


COMPARISONS: tuple[Callable[[Context], Iterator[Difference]], ...] = (
    startup_found, startup_kinds, startup_scope, refused_backends,
    request_kinds, lookup_scopes, backends, backend_modes, backend_usable, config_keys,
    variables_known, variable_reads,
)


# ---------------------------------------------------------------------- notes

def notes(ctx: Context) -> Iterator[Note]:
    """Engine facts the profile has no field for yet, once per resolver."""
    kinds_of: dict[str, list[str]] = defaultdict(list)
    for kind, _, lookup in _resolvers(ctx):
        kinds_of[lookup.resolver.function].append(kind)
    done: set[str] = set()
    for _, spec, lookup in _resolvers(ctx):
        resolver = lookup.resolver
        if resolver.function in done:
            continue
        done.add(resolver.function)
        kinds = _quote(kinds_of[resolver.function])
        for backend in resolver.backends:
            profile_backend = (spec.backends or {}).get(backend.name)
            if (profile_backend is not None and profile_backend.unusable is not None
                    and not backend.fits):
                yield Note(backend.where, f"{backend.name!r} ({kinds}) is marked unusable; no "
                           "call on what its resolver returns was read, so whether the engines "
                           "fixed it cannot be told")
            for read in backend.config:
                for call in read.calls_missing:
                    yield Note(read.where, f"{backend.name!r} ({kinds}): a missing "
                               f"{read.key!r} calls {call}: AttributeError")
    blind: dict[str, list[Lookup]] = defaultdict(list)
    for lookup in ctx.live:
        if not lookup.resolver.backends:
            blind[lookup.resolver.function].append(lookup)
    for function, lookups in blind.items():
        kinds = _quote(dict.fromkeys(lookup.kind for lookup in lookups))
        yield Note(lookups[0].where, f"{function} reads {kinds} and picks no backend by "
                   "backend_type (scope and backends not compared)")
    for variable_read in ctx.variables:
        for call in variable_read.calls_missing:
            yield Note(variable_read.where, f"{variable_read.variable}: unset, the engines "
                       f"call {call}")
    for variable, _, _, check, found, messages in _judged_reads(ctx):
        judged = [m for r, m in zip(found, messages, strict=True) if check.relevant(r)]
        if any(m is None for m in judged):
            for variable_read, message in zip(found, messages, strict=True):
                if message and check.relevant(variable_read):
                    yield Note(variable_read.where,
                               f"{variable} {message} (other reads agree with the profile)")


# ---------------------------------------------------------------------- the whole

def compare(facts: Facts, profile: Profile) -> Comparison:
    live = tuple(lookup for lookup in facts.lookups if lookup.dormant is None)
    rules = _rules(profile)
    variables = tuple(read for read in facts.variables
                      if read.variable in rules or read.variable.endswith(BACKEND_SUFFIX))
    ctx = Context(facts, profile, live,
                  tuple(lookup for lookup in live if lookup.resolver.backends),
                  tuple(check for check in facts.startup_checks if check.dormant is None),
                  variables)
    differences = tuple(dict.fromkeys(d for comparison in COMPARISONS for d in comparison(ctx)))
    understood = tuple(sorted((n for n in facts.not_understood if n.dormant is None),
                              key=lambda n: (n.where, n.area, n.text)))
    return Comparison(
        differences=differences,
        not_understood=understood,
        blocking=tuple(n for n in understood if n.area in BLOCKING_AREAS),
        dormant=tuple(sorted((lookup for lookup in facts.lookups if lookup.dormant),
                             key=lambda lookup: (lookup.where, lookup.kind))),
        notes=tuple(dict.fromkeys(notes(ctx))),
        counts={
            "startup_kinds": sum(len(c.kinds) for c in ctx.startup),
            "refused_backends": sum(len(c.refused) for c in ctx.startup),
            "request_kinds": len({lookup.kind for lookup in live}),
            "request_lookups": len(live),
            "variables": len({read.variable for read in variables}),
        },
    )
