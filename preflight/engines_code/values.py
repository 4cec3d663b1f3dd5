"""What an expression in the engines' code evaluates to, as far as a reader can tell.

The engines read settings as `or` chains: `config.get("bucket") or os.getenv("RAW_BUCKET")`,
`(os.getenv("X_BACKEND") or "memory").lower()`, often through small helpers such as
`runtime_config.get_raw_bucket()`. A chain is the list of alternatives Python tries while
the value is falsy; helpers whose body is one `return` are read in place. Anything else is
an `unknown` item, so a reader reports it as not understood instead of guessing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import NamedTuple

from preflight.engines_code.tree import FunctionNode, Module, SourceTree, Where

MAX_DEPTH = 12  # names and helpers followed; structure is walked freely
CASE_METHODS = frozenset({"lower", "casefold"})
KEPT_METHODS = frozenset({"strip", "lower", "casefold"})
CONVERSIONS = frozenset({"int", "str", "float"})


class Item(NamedTuple):
    """One alternative: `literal`, `env`, `config`, `config_map`, `param`, `missing`, `unknown`."""

    kind: str
    value: object  # the literal; the variable; the config key; the parameter; the text
    default: tuple[Item, ...] = ()  # env or config: what the read gives when unset / absent
    where: Where | None = None


class Chain(NamedTuple):
    items: tuple[Item, ...]
    lower: bool = False


class Settled(NamedTuple):
    """Where a chain lands when a value is missing: the first truthy literal."""

    value: object  # None: nothing supplies one
    fallbacks: tuple[str, ...]  # variables tried on the way
    understood: bool
    missing: tuple[str, ...] = ()  # calls to names their module does not define


class Frame(NamedTuple):
    module: Module
    function: FunctionNode | None
    cls: str | None
    bindings: Mapping[str, Chain]


def is_environ(expr: ast.expr) -> bool:
    """`os.environ` or a bare `environ`."""
    if isinstance(expr, ast.Attribute):
        return expr.attr == "environ" and isinstance(expr.value, ast.Name) and (
            expr.value.id == "os")
    return isinstance(expr, ast.Name) and expr.id == "environ"


def unknown(node: ast.AST, module: Module) -> Chain:
    return Chain((Item("unknown", ast.unparse(node), where=module.where(node)),))


def settle(items: tuple[Item, ...]) -> Settled:
    fallbacks: list[str] = []
    missing: list[str] = []
    pending = list(items)
    while pending:
        item = pending.pop(0)
        if item.kind == "literal":
            if item.value:
                return Settled(item.value, tuple(fallbacks), True, tuple(missing))
        elif item.kind == "env":
            if item.value not in fallbacks:
                fallbacks.append(str(item.value))
            pending[:0] = item.default
        elif item.kind == "config":
            pending[:0] = item.default
        elif item.kind == "missing":
            missing.append(str(item.value))
        else:
            return Settled(None, tuple(fallbacks), False, tuple(missing))
    return Settled(None, tuple(fallbacks), True, tuple(missing))


def after(chain: Chain, index: int, *, unset: bool) -> tuple[Item, ...]:
    """What follows item `index` when it reads unset (its own default first) or empty."""
    own = chain.items[index].default if unset else ()
    return own + chain.items[index + 1:]


def literal_strings(chain: Chain) -> tuple[str, ...] | None:
    values = [item.value for item in chain.items]
    if all(item.kind == "literal" and isinstance(item.value, str) for item in chain.items):
        return tuple(str(value) for value in values)
    return None


class Evaluator:
    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        self._assignments: dict[int, dict[str, list[tuple[int, ast.expr]]]] = {}

    def frame(self, module: Module, qualname: str | None,
              bindings: Mapping[str, Chain] | None = None) -> Frame:
        function = module.functions.get(qualname) if qualname else None
        cls = qualname.split(".")[0] if qualname and "." in qualname else None
        return Frame(module, function, cls, bindings or {})

    def chain(self, frame: Frame, expr: ast.expr | None, depth: int = 0) -> Chain:
        if expr is None:
            return Chain((Item("literal", None),))
        if depth > MAX_DEPTH:
            return unknown(expr, frame.module)
        module = frame.module
        if isinstance(expr, ast.Constant):
            return Chain((Item("literal", expr.value, where=module.where(expr)),))
        if isinstance(expr, ast.Dict | ast.List | ast.Tuple | ast.Set) and not (
                getattr(expr, "keys", None) or getattr(expr, "elts", None)):
            return Chain((Item("literal", None, where=module.where(expr)),))
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            parts = [self.chain(frame, value, depth) for value in expr.values]
            return Chain(tuple(item for part in parts for item in part.items),
                         any(part.lower for part in parts))
        if isinstance(expr, ast.Name):
            return self._name(frame, expr, depth)
        if isinstance(expr, ast.Attribute):
            if expr.attr == "config":
                return Chain((Item("config_map", ast.unparse(expr), where=module.where(expr)),))
            return self._attribute(frame, expr, depth)
        if isinstance(expr, ast.Subscript):
            return self._subscript(frame, expr, depth)
        if isinstance(expr, ast.Call):
            return self._call(frame, expr, depth)
        return unknown(expr, module)

    def variable_name(self, frame: Frame, expr: ast.expr, depth: int = 0) -> str | None:
        names = literal_strings(self.chain(frame, expr, depth))
        return names[0] if names and len(names) == 1 else None

    # ------------------------------------------------------------------ names

    def assignments(self, function: FunctionNode) -> dict[str, list[tuple[int, ast.expr]]]:
        """name (or `self.attr`) -> (line, value) of each simple assignment, in order."""
        key = id(function)
        if key not in self._assignments:
            found: dict[str, list[tuple[int, ast.expr]]] = {}
            for node in ast.walk(function):
                targets: list[ast.expr] = []
                value: ast.expr | None = None
                if isinstance(node, ast.Assign):
                    targets, value = node.targets, node.value
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    targets, value = [node.target], node.value
                else:
                    continue
                for target in targets:
                    if isinstance(target, ast.Name | ast.Attribute) and value is not None:
                        found.setdefault(ast.unparse(target), []).append((node.lineno, value))
            for values in found.values():
                values.sort(key=lambda pair: pair[0])
            self._assignments[key] = found
        return self._assignments[key]

    def _local(self, frame: Frame, name: str, line: int, depth: int) -> Chain | None:
        if frame.function is None:
            return None
        earlier = [value for at, value in self.assignments(frame.function).get(name, [])
                   if at < line]
        return self.chain(frame, earlier[-1], depth + 1) if earlier else None

    def _name(self, frame: Frame, expr: ast.Name, depth: int) -> Chain:
        module = frame.module
        if expr.id in frame.bindings:
            return frame.bindings[expr.id]
        local = self._local(frame, expr.id, expr.lineno, depth)
        if local is not None:
            return local
        if frame.function is not None and expr.id in _parameters(frame.function):
            return Chain((Item("param", expr.id, where=module.where(expr)),))
        found = self.tree.constant(module.name, expr.id)
        if found is not None:
            owner, value = found
            return self.chain(Frame(owner, None, None, {}), value, depth + 1)
        return unknown(expr, module)

    def _attribute(self, frame: Frame, expr: ast.Attribute, depth: int) -> Chain:
        text = ast.unparse(expr)
        local = self._local(frame, text, expr.lineno, depth)
        if local is not None:
            return local
        if is_environ(expr):
            return unknown(expr, frame.module)
        symbol = self.tree.resolve(frame.module.name, expr, frame.cls)
        if symbol is not None and symbol.kind == "value":
            found = self.tree.constant(symbol.module, symbol.name)
            if found is not None:
                owner, value = found
                return self.chain(Frame(owner, None, None, {}), value, depth + 1)
        if symbol is not None and symbol.kind == "missing":
            return Chain((Item("missing", text, where=frame.module.where(expr)),))
        return unknown(expr, frame.module)

    def _subscript(self, frame: Frame, expr: ast.Subscript, depth: int) -> Chain:
        module = frame.module
        if is_environ(expr.value):
            name = self.variable_name(frame, expr.slice, depth)
            if name is None:
                return unknown(expr, module)
            return Chain((Item("env", name, where=module.where(expr)),))
        container = self.chain(frame, expr.value, depth)
        if container.items and container.items[0].kind == "config_map":
            key = self.variable_name(frame, expr.slice, depth)
            if key is not None:
                return Chain((Item("config", key, where=module.where(expr)),))
        return unknown(expr, module)

    # ------------------------------------------------------------------ calls

    def _call(self, frame: Frame, expr: ast.Call, depth: int) -> Chain:
        module = frame.module
        func = expr.func
        if self.is_env_read(module, expr):
            name = self.variable_name(frame, expr.args[0], depth) if expr.args else None
            if name is None:
                return unknown(expr, module)
            default = (self.chain(frame, expr.args[1], depth).items
                       if len(expr.args) > 1 else (Item("literal", None),))
            return Chain((Item("env", name, default, module.where(expr)),))
        if isinstance(func, ast.Attribute):
            if func.attr in KEPT_METHODS and not expr.args:
                inner = self.chain(frame, func.value, depth)
                return inner._replace(lower=inner.lower or func.attr in CASE_METHODS)
            if func.attr == "get" and expr.args:
                container = self.chain(frame, func.value, depth)
                if container.items and container.items[0].kind == "config_map":
                    key = self.variable_name(frame, expr.args[0], depth)
                    if key is None:
                        return unknown(expr, module)
                    default = (self.chain(frame, expr.args[1], depth).items
                               if len(expr.args) > 1 else (Item("literal", None),))
                    return Chain((Item("config", key, default, module.where(expr)),))
        if isinstance(func, ast.Name) and func.id in CONVERSIONS and len(expr.args) == 1:
            return self.chain(frame, expr.args[0], depth)
        symbol = self.tree.resolve(module.name, func, frame.cls)
        if symbol is not None and symbol.kind == "missing":
            return Chain((Item("missing", ast.unparse(func), where=module.where(expr)),))
        if symbol is not None and symbol.kind in ("function", "method"):
            inlined = self._inline(frame, expr, symbol.module, symbol.name, depth)
            if inlined is not None:
                return inlined
        return unknown(expr, module)

    def is_env_read(self, module: Module, expr: ast.Call) -> bool:
        """`os.getenv(...)`, `os.environ.get(...)`, or the same names imported from os."""
        func = expr.func
        if isinstance(func, ast.Name):
            return func.id == "getenv" and module.imports.get("getenv") == ("os", "getenv")
        if not isinstance(func, ast.Attribute):
            return False
        if func.attr == "getenv":
            return isinstance(func.value, ast.Name) and func.value.id == "os"
        if func.attr == "get" and is_environ(func.value):
            return isinstance(func.value, ast.Attribute) or (
                module.imports.get("environ") == ("os", "environ"))
        return False

    def _inline(self, frame: Frame, call: ast.Call, module_name: str, qualname: str,
                depth: int) -> Chain | None:
        callee_module = self.tree.module(module_name)
        callee = callee_module.functions.get(qualname) if callee_module else None
        if callee_module is None or callee is None:
            return None
        returned = single_return(callee)
        if returned is None:
            return None
        bindings = bind(callee, call, lambda e: self.chain(frame, e, depth),
                        method="." in qualname)
        if bindings is None:
            return None
        callee_frame = self.frame(callee_module, qualname, bindings)
        return self.chain(callee_frame, returned, depth + 1)


def _parameters(function: FunctionNode) -> list[str]:
    arguments = function.args
    return [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]


def parameters(function: FunctionNode, *, method: bool) -> list[ast.arg]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    return positional[1:] if method and positional else positional


def single_return(function: FunctionNode) -> ast.expr | None:
    returns = [node for node in ast.walk(function) if isinstance(node, ast.Return)]
    if len(returns) != 1 or returns[0].value is None:
        return None
    return returns[0].value


def argument_for(function: FunctionNode, call: ast.Call, name: str, *, method: bool,
                 ) -> tuple[bool, ast.expr | None]:
    """(passed?, expression) of the parameter `name` at a call; the default if not passed."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return True, keyword.value
    positional = parameters(function, method=method)
    names = [a.arg for a in positional]
    if name in names:
        index = names.index(name)
        if index < len(call.args) and not any(
                isinstance(a, ast.Starred) for a in call.args[: index + 1]):
            return True, call.args[index]
    defaults = _defaults(function)
    return False, defaults.get(name)


def _defaults(function: FunctionNode) -> dict[str, ast.expr]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    found = {a.arg: d for a, d in zip(positional[len(positional) - len(arguments.defaults):],
                                       arguments.defaults, strict=True)}
    found.update({a.arg: d for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults,
                                           strict=True) if d is not None})
    return found


def bind(function: FunctionNode, call: ast.Call, evaluate: Callable[[ast.expr], Chain], *,
         method: bool) -> dict[str, Chain] | None:
    """Parameter -> the chain of what the call passes (or a literal default); None if the
    call spreads arguments (`*args`, `**kwargs`) a reader cannot match."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
            k.arg is None for k in call.keywords):
        return None
    bindings: dict[str, Chain] = {}
    for name in _parameters(function):
        if method and name in ("self", "cls"):
            continue
        passed, value = argument_for(function, call, name, method=method)
        if passed and value is not None:
            bindings[name] = evaluate(value)
        elif isinstance(value, ast.Constant):
            bindings[name] = Chain((Item("literal", value.value),))
        elif value is None:
            bindings[name] = Chain((Item("literal", None),))
    return bindings
