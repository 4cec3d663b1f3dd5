"""The engines' source as modules: found on disk, parsed on demand, names resolved.

Static only: files are read and parsed with `ast`, never imported or run. A module is
parsed the first time something asks for it, so a check reads the modules the app reaches
and the few others that mention a registry lookup, not the whole repository.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

# Folders that hold no engines code: version control, caches, vendored JavaScript.
SKIPPED_DIRS = frozenset({".git", ".hg", "__pycache__", "node_modules", ".venv", "venv",
                          ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".next"})
MAX_HOPS = 8  # re-exports followed before a name counts as not understood
MODULE_LEVEL = ""  # the qualname of a module's top-level code
SKIPPED_FIELDS = frozenset({"annotation", "returns", "ctx", "type_comment"})  # never run


class Where(NamedTuple):
    file: str  # relative to the source root, with forward slashes
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Symbol(NamedTuple):
    """What a name means: `function`, `class`, `method`, `module`, `value` or `missing`."""

    kind: str
    module: str
    name: str  # qualified inside the module ("Class.method"); "" for a module


FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class Module:
    name: str
    file: str
    tree: ast.Module
    package: bool
    # local name -> (module, attribute or None for the module itself), from every import
    # statement in the file (functions' own imports included: names rarely clash).
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    import_sites: list[tuple[str, int]] = field(default_factory=list)  # candidate, line
    dynamic_imports: list[tuple[int, str]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # bound at the top level
    open_names: bool = False  # `from x import *` or a module __getattr__: never "missing"
    functions: dict[str, FunctionNode] = field(default_factory=dict)  # "f", "Class.m"
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    constants: dict[str, ast.expr] = field(default_factory=dict)
    _nodes: dict[str, list[ast.AST]] = field(default_factory=dict)

    def where(self, node: ast.AST) -> Where:
        return Where(self.file, getattr(node, "lineno", 0))

    def units(self) -> Iterator[str]:
        """The pieces of code that run as a whole: the top level (""), each function and
        method ("f", "Class.m"; nested definitions are folded into theirs)."""
        yield MODULE_LEVEL
        yield from self.functions

    def nodes(self, qualname: str) -> list[ast.AST]:
        """The nodes a unit runs: a function's body, or the module's top level without
        function bodies and without an `if __name__ == "__main__":` block."""
        if qualname not in self._nodes:
            found: list[ast.AST] = []
            if qualname == MODULE_LEVEL:
                for statement in self.tree.body:
                    _top_level_nodes(statement, found)
            elif qualname in self.functions:
                for statement in self.functions[qualname].body:
                    walk(statement, found)
            self._nodes[qualname] = found
        return self._nodes[qualname]


class SourceTree:
    """The Python modules under a root folder, by dotted name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths: dict[str, Path] = {}
        self.unreadable: list[tuple[str, Where, str]] = []  # module, where, why
        self._modules: dict[str, Module | None] = {}
        self._symbols: dict[tuple[str, str], Symbol | None] = {}
        self._texts: dict[str, bytes] = {}
        for path in _python_files(root):
            name = _module_name(path.relative_to(root))
            if name:
                self.paths.setdefault(name, path)

    def __contains__(self, name: str) -> bool:
        return name in self.paths

    @property
    def parsed(self) -> int:
        return sum(1 for module in self._modules.values() if module is not None)

    def module(self, name: str) -> Module | None:
        if name not in self._modules:
            self._modules[name] = self._parse(name) if name in self.paths else None
        return self._modules[name]

    def text(self, name: str) -> bytes:
        if name not in self._texts:
            try:
                self._texts[name] = self.paths[name].read_bytes()
            except OSError:
                self._texts[name] = b""
        return self._texts[name]

    def _parse(self, name: str) -> Module | None:
        path = self.paths[name]
        file = path.relative_to(self.root).as_posix()
        try:
            tree = ast.parse(self.text(name), filename=file)
        except (SyntaxError, ValueError) as error:
            line = error.lineno if isinstance(error, SyntaxError) else None
            self.unreadable.append((name, Where(file, line or 0), f"{type(error).__name__}: "
                                    f"{error.msg if isinstance(error, SyntaxError) else error}"))
            return None
        module = Module(name, file, tree, path.name == "__init__.py")
        _index(module)
        return module

    # ------------------------------------------------------------------ name resolution

    def symbol(self, module: str, name: str) -> Symbol | None:
        """What `name` means at the top level of `module`; None when not understood."""
        key = (module, name)
        if key not in self._symbols:
            self._symbols[key] = self._symbol(module, name, 0)
        return self._symbols[key]

    def _symbol(self, module: str, name: str, hops: int) -> Symbol | None:
        info = self.module(module)
        if info is None or hops > MAX_HOPS:
            return None
        if name in info.functions:
            return Symbol("function", module, name)
        if name in info.classes:
            return Symbol("class", module, name)
        if name in info.imports:
            target, attribute = info.imports[name]
            if attribute is None:
                return Symbol("module", target, "") if target in self else None
            if f"{target}.{attribute}" in self:
                return Symbol("module", f"{target}.{attribute}", "")
            return self._symbol(target, attribute, hops + 1) if target in self else None
        if name in info.names:
            return Symbol("value", module, name)
        if f"{module}.{name}" in self:
            return Symbol("module", f"{module}.{name}", "")
        if info.open_names:
            return None
        return Symbol("missing", module, name)

    def resolve(self, module: str, expr: ast.expr, enclosing_class: str | None = None,
                ) -> Symbol | None:
        """A name or a dotted attribute chain, as far as imports tell."""
        if isinstance(expr, ast.Name):
            return self.symbol(module, expr.id)
        if not isinstance(expr, ast.Attribute):
            return None
        if (enclosing_class and isinstance(expr.value, ast.Name)
                and expr.value.id in ("self", "cls")):
            method = f"{enclosing_class}.{expr.attr}"
            info = self.module(module)
            if info is not None and method in info.functions:
                return Symbol("method", module, method)
            return None
        base = self.resolve(module, expr.value, enclosing_class)
        if base is None:
            return None
        if base.kind == "module":
            return self.symbol(base.module, expr.attr)
        if base.kind == "class":
            method = f"{base.name}.{expr.attr}"
            info = self.module(base.module)
            if info is not None and method in info.functions:
                return Symbol("method", base.module, method)
        return None

    def constant(self, module: str, name: str) -> tuple[Module, ast.expr] | None:
        """A module-level `NAME = value`, followed through imports."""
        symbol = self.symbol(module, name)
        if symbol is None or symbol.kind != "value":
            return None
        info = self.module(symbol.module)
        if info is None or symbol.name not in info.constants:
            return None
        return info, info.constants[symbol.name]


def _python_files(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(folder, name)


def _module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: Module, level: int, target: str | None) -> str:
    if not level:
        return target or ""
    parts = module.name.split(".") if module.package else module.name.split(".")[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, *([target] if target else [])])


def _index(module: Module) -> None:
    body = module.tree.body
    for statement in _top_level(body):
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            module.functions[statement.name] = statement
            module.names.add(statement.name)
            if statement.name == "__getattr__":
                module.open_names = True
        elif isinstance(statement, ast.ClassDef):
            module.classes[statement.name] = statement
            module.names.add(statement.name)
            for item in statement.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    module.functions[f"{statement.name}.{item.name}"] = item
        elif isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [
                statement.target]
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        module.names.add(node.id)
            value = statement.value
            if (value is not None and len(targets) == 1 and isinstance(targets[0], ast.Name)
                    and not isinstance(statement, ast.AugAssign)):
                module.constants[targets[0].id] = value
        elif isinstance(statement, ast.For | ast.AsyncFor | ast.With | ast.AsyncWith):
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    module.names.add(node.id)
    for node in (n for unit in module.units() for n in module.nodes(unit)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module.import_sites.append((alias.name, node.lineno))
                if alias.asname:
                    module.imports[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    module.imports[top] = (top, None)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node.level, node.module)
            module.import_sites.append((base, node.lineno))
            for alias in node.names:
                if alias.name == "*":
                    module.open_names = True
                    continue
                module.import_sites.append((f"{base}.{alias.name}", node.lineno))
                module.imports[alias.asname or alias.name] = (base, alias.name)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            argument = node.args[0] if node.args else None
            if (isinstance(argument, ast.Constant) and isinstance(argument.value, str)
                    and not argument.value.startswith(".")):
                module.import_sites.append((argument.value, node.lineno))
            else:
                module.dynamic_imports.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Global):
            module.names.update(node.names)
    for name in module.imports:
        module.names.add(name)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Top-level statements, looking inside `if`/`try` blocks (conditional definitions)."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If):
            yield from _top_level(statement.body)
            yield from _top_level(statement.orelse)
        elif isinstance(statement, ast.Try):
            yield from _top_level(statement.body)
            for handler in statement.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(statement.orelse)
            yield from _top_level(statement.finalbody)


def _is_dynamic_import(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module" and isinstance(func.value, ast.Name) and (
            func.value.id == "importlib")
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def walk(node: ast.AST, into: list[ast.AST]) -> list[ast.AST]:
    """ast.walk without annotations (no call runs them) and without expression contexts."""
    pending = [node]
    while pending:
        current = pending.pop()
        into.append(current)
        for name in current._fields:
            if name in SKIPPED_FIELDS:
                continue
            value = getattr(current, name, None)
            if isinstance(value, list):
                pending.extend(item for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                pending.append(value)
    return into


def _top_level_nodes(statement: ast.stmt, into: list[ast.AST]) -> None:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
        for node in (*statement.decorator_list, *statement.args.defaults,
                     *(d for d in statement.args.kw_defaults if d is not None)):
            walk(node, into)
    elif isinstance(statement, ast.ClassDef):
        for node in (*statement.decorator_list, *statement.bases,
                     *(k.value for k in statement.keywords)):
            walk(node, into)
        for item in statement.body:
            _top_level_nodes(item, into)
    elif isinstance(statement, ast.If):
        walk(statement.test, into)
        blocks = [statement.orelse] if _is_main_block(statement.test) else [
            statement.body, statement.orelse]
        for block in blocks:
            for item in block:
                _top_level_nodes(item, into)
    elif isinstance(statement, ast.Try):
        for block in (statement.body, *(h.body for h in statement.handlers),
                      statement.orelse, statement.finalbody):
            for item in block:
                _top_level_nodes(item, into)
    else:
        walk(statement, into)


def _is_main_block(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")
