"""Read the engines' source statically into facts, each with its file:line.

What counts as what, in the engines' own shapes:
- a *registry lookup* is a call `<anything>.get_route(resource_kind, tenant_id, env,
  project_id)`; its kind is a literal, or a parameter of a helper (a function, or a class
  that keeps it in `self._x`) whose callers pass literals, followed to a fixed point;
- a *start-up check* is such a lookup inside a loop over a constant list of kinds whose
  body tests `backend_type.lower() in <constant set>` (the refused types);
- a *resolver* is the function holding a lookup; its backends are the `if backend_type ==
  "x"` branches, and each backend's config keys are the `config.get("key", default)` reads
  in its branch, followed into the constructor they are handed to, where `key or
  os.getenv(...)` and `if not key: key = ...` add stand-ins;
- a *variable read* is `os.getenv` / `os.environ` with a literal name (or a helper around
  them whose body is one `return`), with the default that `or` chains and `getenv`'s second
  argument give it.
What a reader cannot evaluate becomes a NotUnderstood fact, never a guess.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from preflight.engines_code import adapters
from preflight.engines_code.facts import (
    Backend,
    CallFit,
    ConfigRead,
    Facts,
    Lookup,
    LookupScope,
    NotUnderstood,
    Resolver,
    ScopeArgument,
    StartupCheck,
    VariableRead,
)
from preflight.engines_code.reach import NOT_IMPORTED, Reach, Unit
from preflight.engines_code.tree import (
    FunctionNode,
    Module,
    SourceTree,
    Symbol,
    Where,
    walk,
)
from preflight.engines_code.values import (
    CONVERSIONS,
    KEPT_METHODS,
    Chain,
    Evaluator,
    Item,
    Settled,
    after,
    argument_for,
    is_environ,
    literal_strings,
    parameters,
    settle,
)

LOOKUP_METHOD = "get_route"
KIND, TENANT, ENV, PROJECT = "resource_kind", "tenant_id", "env", "project_id"
SCOPE_PARAMETERS = (TENANT, ENV, PROJECT)
MAX_FOLLOW = 3  # constructors a config value is followed through
TEST_PARTS = frozenset({"tests", "test"})
CALLABLE = frozenset({"function", "method", "class"})


def module_name(entry_file: str) -> str:
    parts = list(Path(entry_file).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_test_module(module: Module | str) -> bool:
    name = module if isinstance(module, str) else module.name
    parts = name.split(".")
    return bool(TEST_PARTS.intersection(parts[:-1])) or parts[-1].startswith("test_") or (
        parts[-1] in ("conftest", "tests", "test"))


class Helper(NamedTuple):
    """A callable that looks a route up with the kind its caller passes."""

    module: str
    qualname: str  # a function, "Class.method", or a class (its __init__ takes the kind)
    is_class: bool
    parameter: str
    resolver: Resolver
    scope: tuple[ScopeArgument, ...]  # source "param" (text: its name) still to be bound
    via: tuple[Where, ...]
    dormant: str | None  # a lookup that never runs, whatever the kind


class ModuleIndex(NamedTuple):
    sites: list[tuple[Unit, ast.Call]]  # registry lookups
    env_reads: list[tuple[Unit, ast.expr]]
    calls: list[tuple[Unit, ast.Call, Symbol]]  # to the engines' own functions and classes


class Scanner:
    def __init__(self, root: Path, entry_file: str) -> None:
        self.root = root
        self.tree = SourceTree(root)
        self.entry = module_name(entry_file)
        self.reach = Reach(self.tree, self.entry)
        self.values = Evaluator(self.tree)
        self.lookups: list[Lookup] = []
        self.startup: list[StartupCheck] = []
        self.variables: list[VariableRead] = []
        self.not_understood: list[NotUnderstood] = []
        self._resolvers: dict[Unit, Resolver] = {}
        self._parents: dict[Unit, dict[int, ast.AST]] = {}
        self._indexes: dict[str, ModuleIndex] = {}

    def facts(self) -> Facts:
        self._scan_lookups()
        self._scan_variables()
        self.not_understood.extend(NotUnderstood(where, "import", text)
                                   for where, text in self.reach.dynamic_imports)
        self.not_understood.extend(
            NotUnderstood(where, "file", f"does not parse ({why})",
                          None if module in self.reach.modules else NOT_IMPORTED)
            for module, where, why in self.tree.unreadable)
        return Facts(
            root=str(self.root), entry=self.entry, files=len(self.tree.paths),
            modules_reached=len(self.reach.modules), modules_read=self.tree.parsed,
            startup_checks=tuple(self.startup), lookups=tuple(self.lookups),
            variables=tuple(self.variables),
            not_understood=tuple(dict.fromkeys(self.not_understood)))

    # ------------------------------------------------------------------ helpers

    def _units(self, module: Module) -> Iterator[Unit]:
        return (Unit(module.name, qualname) for qualname in module.units())

    def _dormant(self, unit: Unit) -> str | None:
        return self.reach.why_dormant(unit)

    def _parent_map(self, module: Module, unit: Unit) -> dict[int, ast.AST]:
        if unit not in self._parents:
            parents: dict[int, ast.AST] = {}
            for node in module.nodes(unit.qualname):
                for child in ast.iter_child_nodes(node):
                    parents[id(child)] = node
            self._parents[unit] = parents
        return self._parents[unit]

    def _function(self, module: Module, unit: Unit) -> FunctionNode | None:
        return module.functions.get(unit.qualname) if unit.qualname else None

    def _missing_calls(self, module: Module, unit: Unit, nodes: Iterable[ast.AST],
                       ) -> tuple[str, ...]:
        found = []
        for root in nodes:
            for node in walk(root, []):
                if isinstance(node, ast.Call):
                    symbol = self.tree.resolve(module.name, node.func, unit.cls)
                    if symbol is not None and symbol.kind == "missing":
                        found.append(self._describe_missing(symbol, node.func))
        return tuple(found)

    def _describe_missing(self, symbol: Symbol, func: ast.expr) -> str:
        owner = self.tree.module(symbol.module)
        file = owner.file if owner else symbol.module
        return f"{ast.unparse(func)}(), which {file} does not define"

    # ------------------------------------------------------------------ lookups

    def _index(self, module: Module) -> ModuleIndex:
        """One pass over a module: its registry lookups, env reads and resolvable calls."""
        if module.name not in self._indexes:
            index = ModuleIndex([], [], [])
            for unit in self._units(module):
                for node in module.nodes(unit.qualname):
                    if isinstance(node, ast.Call):
                        func = node.func
                        if isinstance(func, ast.Attribute) and func.attr == LOOKUP_METHOD:
                            index.sites.append((unit, node))
                        elif self.values.is_env_read(module, node):
                            index.env_reads.append((unit, node))
                        else:
                            symbol = self.tree.resolve(module.name, func, unit.cls)
                            if symbol is not None and symbol.kind in CALLABLE:
                                index.calls.append((unit, node, symbol))
                    elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                          and is_environ(node.value)):
                        index.env_reads.append((unit, node))
            self._indexes[module.name] = index
        return self._indexes[module.name]

    def _candidate_modules(self, names: set[str]) -> list[Module]:
        """Modules the app reaches, and the others whose text names a lookup or helper."""
        words = [name.encode() for name in names]
        pattern = re.compile(rb"\b(?:" + b"|".join(map(re.escape, words)) + rb")\b")

        def mentions(text: bytes) -> bool:  # a substring test first: regexes are slow
            return any(word in text for word in words) and bool(pattern.search(text))

        found = []
        for name in self.tree.paths:
            if name in self.reach.modules or (words and not is_test_module(name)
                                              and mentions(self.tree.text(name))):
                module = self.tree.module(name)
                if module is not None:
                    found.append(module)
        return found

    def _scan_lookups(self) -> None:
        modules = self._candidate_modules({LOOKUP_METHOD})
        helpers: list[Helper] = []
        for module in modules:
            for unit, call in self._index(module).sites:
                helpers.extend(self._site(module, unit, call))
        done: set[tuple[str, str, str, str]] = set()
        while True:
            fresh = [h for h in helpers if _key(h) not in done]
            if not fresh:
                break
            done.update(map(_key, fresh))
            known = {m.name for m in modules}
            # A private helper is called from its own module, already read.
            names = {h.qualname.split(".")[0] for h in fresh}
            modules += [m for m in self._candidate_modules(
                {n for n in names if not n.startswith("_")}) if m.name not in known]
            helpers = []
            by_target: dict[tuple[str, str], list[Helper]] = {}
            for helper in fresh:
                by_target.setdefault((helper.module, helper.qualname), []).append(helper)
            for module in modules:
                for unit, call, symbol in self._index(module).calls:
                    for helper in by_target.get((symbol.module, symbol.name), ()):
                        helpers.extend(self._helper_call(module, unit, call, helper))

    def _site(self, module: Module, unit: Unit, call: ast.Call) -> list[Helper]:
        """One registry lookup: lookups for literal kinds, or the helper it makes."""
        where = module.where(call)
        dormant = self._dormant(unit)
        missing = self._missing_calls(module, unit, [*call.args, *call.keywords])
        if missing and dormant is None:
            dormant = f"never reached: its arguments call {missing[0]}"
        scope = tuple(self._scope_argument(module, unit, call, name, index)
                      for index, name in enumerate(SCOPE_PARAMETERS, start=1))
        resolver = self._resolver(module, unit, where)
        kind_expr = _argument(call, KIND, 0)
        if kind_expr is None:
            self.not_understood.append(NotUnderstood(where, "lookup", ast.unparse(call), dormant))
            return []
        loop = self._kind_loop(module, unit, call, kind_expr)
        if loop is not None:
            self._loop_lookup(module, unit, call, loop, scope, resolver, dormant)
            return []
        return self._kind(module, unit, kind_expr, where, scope, resolver, (where,), dormant)

    def _kind(self, module: Module, unit: Unit, expr: ast.expr, where: Where,
              scope: tuple[ScopeArgument, ...], resolver: Resolver, via: tuple[Where, ...],
              dormant: str | None) -> list[Helper]:
        """A kind expression: literal(s) make lookups, a parameter makes a helper."""
        function = self._function(module, unit)
        target = self._helper_target(module, unit, function, expr)
        if target is not None:
            qualname, is_class, parameter = target
            return [Helper(module.name, qualname, is_class, parameter, resolver, scope, via,
                           dormant)]
        kinds = literal_strings(self.values.chain(self.values.frame(
            module, unit.qualname or None), expr))
        if not kinds:
            self.not_understood.append(NotUnderstood(where, "lookup", ast.unparse(expr),
                                                     dormant))
            return []
        final = LookupScope(*(_bound(argument) for argument in scope))
        for kind in kinds:
            self.lookups.append(Lookup(kind, where, final, resolver, via, dormant))
        return []

    def _helper_target(self, module: Module, unit: Unit, function: FunctionNode | None,
                       expr: ast.expr) -> tuple[str, bool, str] | None:
        if function is None:
            return None
        if isinstance(expr, ast.Name) and expr.id in _parameter_names(function):
            assigned = self.values.assignments(function).get(expr.id)
            if not assigned and unit.cls and unit.qualname.endswith(".__init__"):
                return unit.cls, True, expr.id
            if not assigned:
                return unit.qualname, False, expr.id
        if unit.cls and isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and (
                expr.value.id == "self"):
            init = module.functions.get(f"{unit.cls}.__init__")
            if init is not None:
                for _, value in self.values.assignments(init).get(ast.unparse(expr), []):
                    if isinstance(value, ast.Name) and value.id in _parameter_names(init):
                        return unit.cls, True, value.id
        return None

    def _helper_call(self, module: Module, unit: Unit, call: ast.Call, helper: Helper,
                     ) -> list[Helper]:
        callee_module = self.tree.module(helper.module)
        if callee_module is None:
            return []
        callee = callee_module.functions.get(
            f"{helper.qualname}.__init__" if helper.is_class else helper.qualname)
        if callee is None:
            return []
        method = helper.is_class or "." in helper.qualname
        passed, expr = argument_for(callee, call, helper.parameter, method=method)
        if expr is None:
            return []
        where = module.where(call)
        via = helper.via if passed else (callee_module.where(expr), *helper.via)
        scope = tuple(self._rebind(module, unit, callee, call, argument, method)
                      for argument in helper.scope)
        return self._kind(module, unit, expr, where, scope, helper.resolver, (where, *via),
                          self._dormant(unit) or helper.dormant)

    def _rebind(self, module: Module, unit: Unit, callee: FunctionNode, call: ast.Call,
                argument: ScopeArgument, method: bool) -> ScopeArgument:
        if argument.source != "param":
            return argument
        _, expr = argument_for(callee, call, argument.text, method=method)
        return self._scope_of(module, unit, expr)

    def _scope_argument(self, module: Module, unit: Unit, call: ast.Call, name: str,
                        index: int) -> ScopeArgument:
        return self._scope_of(module, unit, _argument(call, name, index))

    def _scope_of(self, module: Module, unit: Unit, expr: ast.expr | None) -> ScopeArgument:
        if expr is None:
            return ScopeArgument("literal")
        if isinstance(expr, ast.Constant):
            return ScopeArgument("literal", None if expr.value is None else str(expr.value))
        function = self._function(module, unit)
        if (function is not None and isinstance(expr, ast.Name)
                and expr.id in _parameter_names(function)
                and not self.values.assignments(function).get(expr.id)):
            return ScopeArgument("param", text=expr.id)
        values = literal_strings(self.values.chain(self.values.frame(
            module, unit.qualname or None), expr))
        if values and len(values) == 1:
            return ScopeArgument("literal", values[0])
        return ScopeArgument("caller", text=ast.unparse(expr))

    # ------------------------------------------------------------------ the start-up loop

    def _kind_loop(self, module: Module, unit: Unit, call: ast.Call, kind: ast.expr,
                   ) -> ast.For | None:
        if not isinstance(kind, ast.Name):
            return None
        for node in module.nodes(unit.qualname):
            if (isinstance(node, ast.For) and isinstance(node.target, ast.Name)
                    and node.target.id == kind.id
                    and any(inner is call for inner in walk(node, []))):
                return node
        return None

    def _loop_lookup(self, module: Module, unit: Unit, call: ast.Call, loop: ast.For,
                     scope: tuple[ScopeArgument, ...], resolver: Resolver,
                     dormant: str | None) -> None:
        where = module.where(call)
        refusal = next((node for node in walk(loop, []) if _is_refusal(node)), None)
        kinds = self._constant_strings(module, unit, loop.iter,
                                       "lookup" if refusal is None else "start-up kinds", dormant)
        final = LookupScope(*(_bound(argument) for argument in scope))
        if refusal is None:  # a loop over kinds, not a start-up check: each is a lookup
            for kind, kind_where in (kinds[0] if kinds else ()):
                self.lookups.append(Lookup(kind, kind_where, final, resolver, (where,),
                                           dormant))
            return
        assert isinstance(refusal, ast.Compare)
        refused = self._constant_strings(module, unit, refusal.comparators[0],
                                         "refused backends", dormant)
        if kinds is None or refused is None:
            return
        self.startup.append(StartupCheck(
            where=where, function=f"{module.name}.{unit.qualname}", kinds=kinds[0],
            kinds_at=kinds[1], scope=final, refused=refused[0], refused_at=refused[1],
            dormant=dormant))

    def _constant_strings(self, module: Module, unit: Unit, expr: ast.expr, area: str,
                          dormant: str | None,
                          ) -> tuple[tuple[tuple[str, Where], ...], Where] | None:
        owner, value = module, expr
        if (unit.cls and isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name)
                and expr.value.id in ("self", "cls")):
            value = _class_constant(module, unit.cls, expr.attr) or expr
        elif isinstance(expr, ast.Name | ast.Attribute):
            symbol = self.tree.resolve(module.name, expr, unit.cls)
            found = (self.tree.constant(symbol.module, symbol.name)
                     if symbol is not None and symbol.kind == "value" else None)
            if found is not None:
                owner, value = found
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and (
                value.func.id in ("set", "frozenset", "tuple", "list")) and len(value.args) == 1:
            value = value.args[0]
        if not isinstance(value, ast.List | ast.Tuple | ast.Set):
            self.not_understood.append(NotUnderstood(module.where(expr), area,
                                                     ast.unparse(expr), dormant))
            return None
        items: list[tuple[str, Where]] = []
        for element in value.elts:
            if isinstance(element, ast.Constant) and isinstance(element.value, str):
                items.append((element.value, owner.where(element)))
            else:
                self.not_understood.append(NotUnderstood(owner.where(element), area,
                                                         ast.unparse(element), dormant))
        return tuple(items), owner.where(value)

    # ------------------------------------------------------------------ resolvers

    def _resolver(self, module: Module, unit: Unit, where: Where) -> Resolver:
        if unit not in self._resolvers:
            function = self._function(module, unit)
            backends = tuple(self._backends(module, unit, function)) if function else ()
            self._resolvers[unit] = Resolver(where, f"{module.name}.{unit.qualname}", backends)
        return self._resolvers[unit]

    def _backends(self, module: Module, unit: Unit, function: FunctionNode,
                  ) -> Iterator[Backend]:
        assignments = self.values.assignments(function)
        calls = adapters.service_calls(module, unit.cls, function.name)
        for node in walk(function, []):
            if not isinstance(node, ast.If):
                continue
            names = _backend_names(node.test, assignments)
            if not names:
                continue
            config = tuple(self._config_reads(module, unit, node.body))
            modes = _modes(node.body)
            built = adapters.built_class(self.tree, module, unit.cls, node.body)
            fits: tuple[CallFit, ...] = ()
            refused: tuple[str, ...] = ()
            refused_at = None
            if built is not None:
                fits = adapters.fits(self.tree, built, calls)
                refused, guard, owner = adapters.forbidden_modes(self.tree, built)
                refused_at = owner.where(guard) if owner is not None and guard else None
            for name in names:
                yield Backend(name, module.where(node.test), config, modes,
                              f"{built.module}.{built.name}" if built else None, fits,
                              refused, refused_at)

    def _config_reads(self, module: Module, unit: Unit, body: list[ast.stmt],
                      ) -> Iterator[ConfigRead]:
        frame = self.values.frame(module, unit.qualname or None)
        parents = self._parent_map(module, unit)
        seen: set[int] = set()
        reads: list[tuple[ast.AST, Chain, int]] = []
        for statement in body:
            for node in walk(statement, []):
                if not _may_read_config(node):
                    continue
                top = _enclosing_value(node, parents)
                if id(top) in seen:
                    continue
                assert isinstance(top, ast.expr)
                chain = self.values.chain(frame, top)
                index = next((i for i, item in enumerate(chain.items)
                              if item.kind == "config"), None)
                if index is None:
                    if any(i.kind == "config_map" for i in chain.items) and not isinstance(
                            node, ast.Attribute):
                        self.not_understood.append(NotUnderstood(
                            module.where(node), "config", ast.unparse(node),
                            self._dormant(unit)))
                    continue
                seen.add(id(top))
                reads.append((top, chain, index))
        keys_by_variable = {}
        for top, chain, index in reads:
            parent = parents.get(id(top))
            if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
                keys_by_variable[ast.unparse(parent.targets[0])] = str(chain.items[index].value)
        for top, chain, index in reads:
            item = chain.items[index]
            extension, together, missing = self._follow(module, unit, body, top, parents,
                                                        keys_by_variable)
            settled = settle((*after(chain, index, unset=True), *extension))
            yield ConfigRead(
                key=str(item.value), where=item.where or module.where(top),
                stand_in=settled.fallbacks, default=_scalar(settled),
                understood=settled.understood, together_with=together,
                calls_missing=(*settled.missing, *missing))

    def _follow(self, module: Module, unit: Unit, body: list[ast.stmt], top: ast.AST,
                parents: dict[int, ast.AST], keys_by_variable: dict[str, str],
                ) -> tuple[tuple[Item, ...], tuple[str, ...], tuple[str, ...]]:
        """What the constructor a config value is handed to adds: stand-ins, defaults."""
        parent = parents.get(id(top))
        handed: list[tuple[ast.Call, ast.expr]] = []
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            name = ast.unparse(parent.targets[0])
            for statement in body:
                for node in walk(statement, []):
                    if isinstance(node, ast.Call):
                        handed.extend((node, value) for value in _arguments(node)
                                      if ast.unparse(value) == name)
        elif isinstance(parent, ast.Call | ast.keyword):
            call = parent if isinstance(parent, ast.Call) else parents.get(id(parent))
            if isinstance(call, ast.Call):
                handed.append((call, top))  # type: ignore[arg-type]
        items: list[Item] = []
        together: list[str] = []
        missing: list[str] = []
        for call, value in handed:
            for callee_module, callee, parameter, method in self._callees(module, unit, call,
                                                                          value):
                found = self._fallbacks(callee_module, callee, parameter, method, 0)
                items.extend(found[0])
                missing.extend(found[2])
                for other in found[1]:
                    _, passed = argument_for(callee, call, other, method=method)
                    key = keys_by_variable.get(ast.unparse(passed)) if passed else None
                    together.append(key or other)
        return tuple(items), tuple(dict.fromkeys(together)), tuple(missing)

    def _callees(self, module: Module, unit: Unit, call: ast.Call, value: ast.expr,
                 ) -> Iterator[tuple[Module, FunctionNode, str, bool]]:
        symbol = self.tree.resolve(module.name, call.func, unit.cls)
        if symbol is None or symbol.kind not in ("class", "function", "method"):
            return
        owner = self.tree.module(symbol.module)
        if owner is None:
            return
        qualname = f"{symbol.name}.__init__" if symbol.kind == "class" else symbol.name
        callee = owner.functions.get(qualname)
        if callee is None:
            return
        method = symbol.kind != "function"
        for keyword in call.keywords:
            if keyword.value is value and keyword.arg:
                yield owner, callee, keyword.arg, method
                return
        names = [a.arg for a in parameters(callee, method=method)]
        for index, argument in enumerate(call.args):
            if argument is value and index < len(names):
                yield owner, callee, names[index], method

    def _fallbacks(self, module: Module, function: FunctionNode, parameter: str, method: bool,
                   depth: int) -> tuple[list[Item], list[str], list[str]]:
        """In a constructor: `self.x = p or E` and `if not p: p = E` (also for several
        parameters at once: `if not a or not b: a = E1; b = E2`)."""
        qualname = next(q for q, f in module.functions.items() if f is function)
        frame = self.values.frame(module, qualname)
        alias_of: dict[str, str] = {name: name for name in _parameter_names(function)}
        items: list[Item] = []
        together: list[str] = []
        missing: list[str] = []
        for node in walk_in_order(function.body):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = ast.unparse(node.targets[0])
                value = node.value
                head = value.values[0] if isinstance(value, ast.BoolOp) and isinstance(
                    value.op, ast.Or) else value
                source = alias_of.get(ast.unparse(head))
                if source is None:
                    continue
                alias_of[target] = source
                if source == parameter and head is not value:
                    assert isinstance(value, ast.BoolOp)
                    for rest in value.values[1:]:
                        items.extend(self.values.chain(frame, rest).items)
            elif isinstance(node, ast.If):
                tested = [alias_of.get(name) for name in _falsy_tests(node.test)]
                if parameter not in tested:
                    continue
                for statement in node.body:
                    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                        assigned = alias_of.get(ast.unparse(statement.targets[0]))
                        if assigned == parameter:
                            items.extend(self.values.chain(frame, statement.value).items)
                        elif assigned in tested and assigned is not None:
                            together.append(assigned)
        if depth < MAX_FOLLOW:
            for node in walk(function, []):
                if not isinstance(node, ast.Call):
                    continue
                for value in _arguments(node):
                    if alias_of.get(ast.unparse(value)) != parameter:
                        continue
                    unit = Unit(module.name, qualname)
                    for owner, callee, inner, is_method in self._callees(module, unit, node,
                                                                         value):
                        found = self._fallbacks(owner, callee, inner, is_method, depth + 1)
                        items.extend(found[0])
                        missing.extend(found[2])
        return items, together, missing

    # ------------------------------------------------------------------ variables

    def _scan_variables(self) -> None:
        helpers: set[tuple[str, str]] = set()
        calls: list[tuple[Module, Unit, ast.Call, Symbol]] = []
        for name in self.reach.modules:
            module = self.tree.module(name)
            if module is None:
                continue
            index = self._index(module)
            for unit, node in index.env_reads:
                if self.reach.runs(unit):
                    self._variable_read(module, unit, node, helpers)
            calls += [(module, unit, call, symbol) for unit, call, symbol in index.calls
                      if self.reach.runs(unit)]
        done: set[tuple[str, str]] = set()
        while helpers - done:
            fresh = helpers - done
            done |= fresh
            for module, unit, call, symbol in calls:
                if (symbol.module, symbol.name) in fresh:
                    self._variable_read(module, unit, call, helpers)

    def _variable_read(self, module: Module, unit: Unit, node: ast.expr,
                       helpers: set[tuple[str, str]]) -> None:
        """One read (an env lookup, or a call to a helper that returns one) in code that
        runs, judged inside the whole expression around it (its `or` defaults)."""
        parents = self._parent_map(module, unit)
        top = _enclosing_value(node, parents)
        if isinstance(parents.get(id(top)), ast.Return) and unit.qualname:
            helpers.add((unit.module, unit.qualname))  # its callers read the variable
            return
        frame = self.values.frame(module, unit.qualname or None)
        own = [item for item in self.values.chain(frame, node).items if item.kind == "env"]
        if not own:
            self.not_understood.append(NotUnderstood(module.where(node), "variable",
                                                     ast.unparse(node)))
            return
        assert isinstance(top, ast.expr)
        chain = self.values.chain(frame, top) if top is not node else Chain(tuple(own))
        parent = parents.get(id(top))
        target = (ast.unparse(parent.targets[0]) if isinstance(parent, ast.Assign)
                  and len(parent.targets) == 1 else None)
        function = self._function(module, unit)
        for item in own:
            index = chain.items.index(item) if item in chain.items else None
            if index is None:
                chain, index = Chain(tuple(own), chain.lower), own.index(item)
            unset = settle(after(chain, index, unset=True))
            empty = settle(after(chain, index, unset=False))
            default = _scalar(unset)
            empty_is_unset: bool | None = None
            if default is None and target and function is not None:
                default = _unset_means(function, target)
                empty_is_unset = True if default is not None else None
            elif default is not None:
                empty_is_unset = _scalar(empty) == default
            self.variables.append(VariableRead(
                variable=str(item.value), where=module.where(node), default=default,
                empty_is_unset=empty_is_unset,
                fallback=tuple(v for v in unset.fallbacks if v != item.value),
                lower=chain.lower, understood=unset.understood, calls_missing=unset.missing))


# ---------------------------------------------------------------------- small readers

def _key(helper: Helper) -> tuple[str, str, str, str]:
    return helper.module, helper.qualname, helper.parameter, helper.resolver.function


def _argument(call: ast.Call, name: str, index: int) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if index < len(call.args) and not any(isinstance(a, ast.Starred)
                                          for a in call.args[: index + 1]):
        return call.args[index]
    return None


def _arguments(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(k.value for k in call.keywords)]


def _parameter_names(function: FunctionNode) -> set[str]:
    arguments = function.args
    return {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}


def _class_constant(module: Module, cls: str, name: str) -> ast.expr | None:
    node = module.classes.get(cls)
    for statement in node.body if node else ():
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id == name):
            return statement.value
    return None


def _bound(argument: ScopeArgument) -> ScopeArgument:
    return ScopeArgument("caller", text=argument.text) if argument.source == "param" else (
        argument)


def _scalar(settled: Settled) -> str | int | float | bool | None:
    value = settled.value
    return value if isinstance(value, str | int | float | bool) else None


def _is_backend_expr(expr: ast.expr, assignments: dict[str, list[tuple[int, ast.expr]]]) -> bool:
    text = ast.unparse(expr)
    if "backend_type" in text:
        return True
    base = expr
    while isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute):
        base = base.func.value
    if isinstance(base, ast.Name):
        return any("backend_type" in ast.unparse(value)
                   for _, value in assignments.get(base.id, []))
    return False


def _backend_names(test: ast.expr, assignments: dict[str, list[tuple[int, ast.expr]]],
                   ) -> list[str]:
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return [name for value in test.values for name in _backend_names(value, assignments)]
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and _is_backend_expr(test.left, assignments)):
        return []
    right = test.comparators[0]
    if isinstance(test.ops[0], ast.Eq) and isinstance(right, ast.Constant) and isinstance(
            right.value, str):
        return [right.value]
    if isinstance(test.ops[0], ast.In) and isinstance(right, ast.Tuple | ast.Set | ast.List):
        return [e.value for e in right.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _is_refusal(node: ast.AST) -> bool:
    return (isinstance(node, ast.Compare) and len(node.ops) == 1
            and isinstance(node.ops[0], ast.In) and "backend_type" in ast.unparse(node.left))


def _modes(body: list[ast.stmt]) -> tuple[str, ...]:
    """`if ctx.mode not in ("lab",): raise ...` in a backend's branch: only these modes."""
    for statement in body:
        if not (isinstance(statement, ast.If) and any(
                isinstance(s, ast.Raise) for s in statement.body)):
            continue
        test = statement.test
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1
                and ast.unparse(test.left).split(".")[-1] == "mode"):
            continue
        right = test.comparators[0]
        if isinstance(test.ops[0], ast.NotIn) and isinstance(right, ast.Tuple | ast.Set | ast.List):
            return tuple(e.value for e in right.elts if isinstance(e, ast.Constant)
                         and isinstance(e.value, str))
        if isinstance(test.ops[0], ast.NotEq) and isinstance(right, ast.Constant):
            return (str(right.value),)
    return ()


def _may_read_config(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "get" and "config" in ast.unparse(node.func.value)
    return isinstance(node, ast.Subscript) and "config" in ast.unparse(node.value) and (
        isinstance(node.ctx, ast.Load))


def _enclosing_value(node: ast.AST, parents: dict[int, ast.AST]) -> ast.AST:
    """The whole expression a read is part of: through `or`, `.lower()`, `int(...)`."""
    current = node
    while True:
        parent = parents.get(id(current))
        if isinstance(parent, ast.BoolOp) and isinstance(parent.op, ast.Or):
            current = parent
        elif (isinstance(parent, ast.Attribute) and parent.attr in KEPT_METHODS
              and isinstance(parents.get(id(parent)), ast.Call)):
            current = parents[id(parent)]
        elif (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)
              and parent.func.id in CONVERSIONS and len(parent.args) == 1):
            current = parent
        else:
            return current


def _falsy_tests(test: ast.expr) -> list[str]:
    """`not a`, `a is None`, `not a or not b`: the names a falsy value sends into the block."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return [name for value in test.values for name in _falsy_tests(value)]
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return [ast.unparse(test.operand)]
    if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is)
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None):
        return [ast.unparse(test.left)]
    return []


def _unset_means(function: FunctionNode, target: str) -> str | None:
    """`if backend == "firestore" or not backend:` — unset (and empty) choose "firestore"."""
    for node in walk(function, []):
        if not (isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or)):
            continue
        if target not in _falsy_tests(node):
            continue
        for value in node.values:
            if (isinstance(value, ast.Compare) and len(value.ops) == 1
                    and isinstance(value.ops[0], ast.Eq) and ast.unparse(value.left) == target
                    and isinstance(value.comparators[0], ast.Constant)
                    and isinstance(value.comparators[0].value, str)):
                return value.comparators[0].value
    return None


def walk_in_order(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Statements in source order, descending into blocks but not into nested functions."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and not isinstance(statement, ast.If):
                yield from walk_in_order(inner)
        if isinstance(statement, ast.Try):
            for handler in statement.handlers:
                yield from walk_in_order(handler.body)


def scan(root: Path, entry_file: str) -> Facts:
    return Scanner(root, entry_file).facts()
