"""What a static read of the engines' code found, each fact with the file:line it comes from."""

from __future__ import annotations

from typing import NamedTuple

from preflight.engines_code.tree import Where

Literal_ = str | int | float | bool


class ScopeArgument(NamedTuple):
    """Where one of a lookup's tenant / env / project comes from."""

    source: str  # "literal" (value; None for a literal None or an absent argument), "caller"
    value: str | None = None
    text: str = ""  # the expression, for "caller"

    def describe(self) -> str:
        if self.source == "literal":
            return repr(self.value) if self.value is not None else "none"
        return f"the caller ({self.text})" if self.text else "the caller"


class LookupScope(NamedTuple):
    tenant: ScopeArgument
    env: ScopeArgument
    project: ScopeArgument


class ConfigRead(NamedTuple):
    """A route config key a backend reads, and what stands in when the route lacks it."""

    key: str
    where: Where
    stand_in: tuple[str, ...]  # variables tried, in order
    default: Literal_ | None
    understood: bool = True
    together_with: tuple[str, ...] = ()  # keys whose stand-ins are taken all or none
    calls_missing: tuple[str, ...] = ()  # stand-in calls to names their module lacks


class AdapterCall(NamedTuple):
    """A call a resolver's service makes on what the resolver returned."""

    method: str
    where: Where
    positional: int  # arguments passed by position
    keywords: tuple[str, ...]
    guarded: bool  # made only when `hasattr(adapter, method)`


class CallFit(NamedTuple):
    """An AdapterCall bound against one backend's adapter class."""

    call: AdapterCall
    defined: Where | None  # the method's def; None: the class has no such method
    why: str | None  # why Python cannot bind it; None: it binds


class Backend(NamedTuple):
    name: str
    where: Where  # the comparison
    config: tuple[ConfigRead, ...]
    modes: tuple[str, ...]  # only these request modes (empty: every mode)
    builds: str | None = None  # the adapter class the branch returns ("module.Class")
    fits: tuple[CallFit, ...] = ()  # the service's calls, bound against that class
    refused_modes: tuple[str, ...] = ()  # modes a method of that class refuses
    refused_at: Where | None = None


class Resolver(NamedTuple):
    """The function that reads the route and picks a backend by its backend_type."""

    where: Where  # the registry lookup
    function: str
    backends: tuple[Backend, ...]


class Lookup(NamedTuple):
    kind: str
    where: Where  # where the literal kind is written
    scope: LookupScope
    resolver: Resolver
    via: tuple[Where, ...]  # helper calls from the literal down to the registry lookup
    dormant: str | None  # why the app never makes it; None: it does


class StartupCheck(NamedTuple):
    """A loop over a constant list of kinds that looks each up and refuses backend types."""

    where: Where
    function: str
    kinds: tuple[tuple[str, Where], ...]
    kinds_at: Where
    scope: LookupScope
    refused: tuple[tuple[str, Where], ...]
    refused_at: Where | None  # None: the loop refuses no backend type
    dormant: str | None


class VariableRead(NamedTuple):
    variable: str
    where: Where
    default: Literal_ | None  # what the engines use when it is unset
    empty_is_unset: bool | None  # None: no default, so an empty value and unset agree
    fallback: tuple[str, ...]  # variables read when it is unset
    lower: bool
    understood: bool = True
    calls_missing: tuple[str, ...] = ()


class NotUnderstood(NamedTuple):
    where: Where
    area: str  # "start-up kinds", "refused backends", "lookup", "config", "variable",
    # "import", "file"
    text: str  # the expression a static reader cannot evaluate
    dormant: str | None = None


class Facts(NamedTuple):
    root: str
    entry: str
    files: int  # Python files under the root
    modules_reached: int
    modules_read: int
    startup_checks: tuple[StartupCheck, ...]
    lookups: tuple[Lookup, ...]
    variables: tuple[VariableRead, ...]
    not_understood: tuple[NotUnderstood, ...]
