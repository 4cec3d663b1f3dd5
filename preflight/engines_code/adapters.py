"""What a resolver builds, read statically: does it accept what its service calls, and in
which request modes does it refuse to work.

A resolver's backend branch returns an object of some class (the adapter). Its service
keeps the result (`adapter = self._resolve(ctx)` or `self._adapter = self._resolve()`) and
calls methods on it. Each call is bound against the adapter's method (followed into base
classes the tree has) the way Python binds it: a call that cannot bind raises TypeError on
every request, whatever the backend's state. A method a class defines with `if <...>.mode
in SELLABLE: raise` refuses those modes. What cannot be read is left out, never guessed.
"""

from __future__ import annotations

import ast

from preflight.engines_code.facts import AdapterCall, CallFit
from preflight.engines_code.tree import FunctionNode, Module, SourceTree, Symbol, walk

MAX_BASES = 4  # base classes followed for a method


def built_class(tree: SourceTree, module: Module, cls: str | None,
                body: list[ast.stmt]) -> Symbol | None:
    """The class whose instance a backend's branch returns, if it returns one."""
    for statement in body:
        for node in walk(statement, []):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Call):
                symbol = tree.resolve(module.name, node.value.func, cls)
                if symbol is not None and symbol.kind == "class":
                    return symbol
    return None


def service_calls(module: Module, cls: str | None, resolver: str) -> tuple[AdapterCall, ...]:
    """Calls the resolver's class makes on what `self.<resolver>()` returned."""
    if cls is None:
        return ()
    methods = {name: node for name, node in module.functions.items()
               if name.startswith(f"{cls}.")}
    held_by_self: set[str] = set()  # "self._adapter"
    local: dict[str, set[str]] = {}  # method -> local names holding it
    for name, function in methods.items():
        for node in walk(function, []):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and _calls_self(
                    node.value, resolver):
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    local.setdefault(name, set()).add(target.id)
                elif isinstance(target, ast.Attribute):
                    held_by_self.add(ast.unparse(target))
    found = []
    for name, function in methods.items():
        holders = held_by_self | local.get(name, set())
        if not holders:
            continue
        guarded = _hasattr_guards(function)
        for node in walk(function, []):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and ast.unparse(node.func.value) in holders):
                continue
            if any(isinstance(a, ast.Starred) for a in node.args) or any(
                    k.arg is None for k in node.keywords):
                continue  # *args / **kwargs: cannot be bound statically
            holder = ast.unparse(node.func.value)
            found.append(AdapterCall(node.func.attr, module.where(node), len(node.args),
                                     tuple(k.arg for k in node.keywords if k.arg),
                                     (holder, node.func.attr) in guarded))
    return tuple(found)


def fits(tree: SourceTree, adapter: Symbol, calls: tuple[AdapterCall, ...],
         ) -> tuple[CallFit, ...]:
    """Each call bound against the adapter's method."""
    results = []
    for call in calls:
        found = _method(tree, adapter.module, adapter.name, call.method, 0)
        if found is None:
            why = None if call.guarded else f"{adapter.name} has no method {call.method}"
            results.append(CallFit(call, None, why))
            continue
        owner, function = found
        results.append(CallFit(call, owner.where(function), _binds(function, call)))
    return tuple(results)


def forbidden_modes(tree: SourceTree, adapter: Symbol) -> tuple[tuple[str, ...], ast.AST | None,
                                                               Module | None]:
    """Modes a method of the adapter refuses: `if <x>.mode... in NAME: raise`."""
    module = tree.module(adapter.module)
    if module is None:
        return (), None, None
    for name, function in module.functions.items():
        if not name.startswith(f"{adapter.name}."):
            continue
        for node in walk(function, []):
            if not (isinstance(node, ast.If) and any(isinstance(s, ast.Raise) for s in node.body)):
                continue
            test = node.test
            if not (isinstance(test, ast.Compare) and len(test.ops) == 1
                    and isinstance(test.ops[0], ast.In) and "mode" in ast.unparse(test.left)):
                continue
            modes = _strings(tree, module, test.comparators[0])
            if modes:
                return modes, node, module
    return (), None, None


# ---------------------------------------------------------------------- small readers

def _calls_self(value: ast.expr, method: str) -> bool:
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name) and value.func.value.id == "self"
            and value.func.attr == method)


def _hasattr_guards(function: FunctionNode) -> set[tuple[str, str]]:
    """(holder, method) pairs a `hasattr(holder, "method")` test guards in this function."""
    guards = set()
    for node in walk(function, []):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "hasattr" and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)):
            guards.add((ast.unparse(node.args[0]), node.args[1].value))
    return guards


def _method(tree: SourceTree, module_name: str, cls: str, method: str, depth: int,
            ) -> tuple[Module, FunctionNode] | None:
    module = tree.module(module_name)
    if module is None or depth > MAX_BASES:
        return None
    function = module.functions.get(f"{cls}.{method}")
    if function is not None:
        return module, function
    node = module.classes.get(cls)
    for base in node.bases if node else ():
        symbol = tree.resolve(module_name, base)
        if symbol is not None and symbol.kind == "class":
            found = _method(tree, symbol.module, symbol.name, method, depth + 1)
            if found is not None:
                return found
    return None


def _binds(function: FunctionNode, call: AdapterCall) -> str | None:
    """Why Python cannot bind the call to this method, or None when it can."""
    arguments = function.args
    positional = [a.arg for a in (*arguments.posonlyargs, *arguments.args)]
    if not any(isinstance(d, ast.Name) and d.id == "staticmethod"
               for d in function.decorator_list):
        positional = positional[1:]  # self (or cls)
    taken = positional[:call.positional]
    if call.positional > len(positional) and arguments.vararg is None:
        return f"it takes {len(positional)} positional arguments, the call passes " \
            f"{call.positional}"
    names = {*positional, *(a.arg for a in arguments.kwonlyargs)}
    for keyword in call.keywords:
        if keyword in taken:
            return f"{keyword} is passed twice"
        if keyword not in names and arguments.kwarg is None:
            return f"it has no parameter {keyword}"
    with_default = set(positional[len(positional) - len(arguments.defaults):]) \
        if arguments.defaults else set()
    with_default |= {a.arg for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults,
                                            strict=True) if d is not None}
    required = [name for name in (*positional, *(a.arg for a in arguments.kwonlyargs))
                if name not in with_default]
    missing = [name for name in required if name not in taken and name not in call.keywords]
    if missing:
        return f"it takes ({', '.join(positional)}): {', '.join(missing)} is not passed"
    return None


def _strings(tree: SourceTree, module: Module, expr: ast.expr) -> tuple[str, ...]:
    value = expr
    if isinstance(expr, ast.Name):
        found = tree.constant(module.name, expr.id)
        if found is None:
            return ()
        value = found[1]
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and (
            value.func.id in ("set", "frozenset", "tuple", "list")) and len(value.args) == 1:
        value = value.args[0]
    if not isinstance(value, ast.Set | ast.Tuple | ast.List):
        return ()
    return tuple(sorted(e.value for e in value.elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)))
