"""What the engines app runs: the modules its entry imports, and the code they call.

Modules: every import from the entry module on, at module level and inside functions, and
`importlib.import_module` / `__import__` with a literal name. Code: a module's top-level
statements run when it is imported (except an `if __name__ == "__main__":` block); a
function or class counts once something that runs names it, or a decorator registers it
(FastAPI routes); a method once its class counts and its name is used anywhere that runs.
Names are resolved through imports where they can be and by attribute name otherwise, so
the result errs towards "reached": a lookup reported dormant is never called by the app.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from preflight.engines_code.tree import MODULE_LEVEL, SourceTree, Symbol, Where

NOT_IMPORTED = "in a module the app does not import"


class Unit(NamedTuple):
    """A piece of code that runs as a whole: a module's top level, a function, a method."""

    module: str
    qualname: str  # MODULE_LEVEL, "function" or "Class.method"

    @property
    def cls(self) -> str | None:
        return self.qualname.split(".")[0] if "." in self.qualname else None


class Reach:
    def __init__(self, tree: SourceTree, entry: str) -> None:
        self.tree = tree
        self.entry = entry
        self.modules: dict[str, Where | None] = {}  # reached module -> the import reaching it
        self.live: set[Unit] = set()
        self.dynamic_imports: list[tuple[Where, str]] = []
        self._reach_modules()
        self._reach_code()

    def runs(self, unit: Unit) -> bool:
        return unit in self.live

    def why_dormant(self, unit: Unit) -> str | None:
        if unit.module not in self.modules:
            return NOT_IMPORTED
        if unit not in self.live:
            return f"in {unit.qualname}, which no code the app runs calls"
        return None

    # ------------------------------------------------------------------ modules

    def _reach_modules(self) -> None:
        pending: list[tuple[str, Where | None]] = [(self.entry, None)]
        while pending:
            name, site = pending.pop()
            if name in self.modules or name not in self.tree:
                continue
            self.modules[name] = site
            parts = name.split(".")
            pending.extend((".".join(parts[:i]), site) for i in range(1, len(parts)))
            info = self.tree.module(name)
            if info is None:
                continue
            for target, line in info.import_sites:
                if target in self.tree and target not in self.modules:
                    pending.append((target, Where(info.file, line)))
            self.dynamic_imports.extend((Where(info.file, line), text)
                                        for line, text in info.dynamic_imports)

    # ------------------------------------------------------------------ code

    def _reach_code(self) -> None:
        attributes: set[str] = set()
        live_classes: set[tuple[str, str]] = set()
        pending: list[Unit] = []

        def mark(unit: Unit) -> None:
            if unit not in self.live and unit.module in self.modules:
                self.live.add(unit)
                pending.append(unit)

        def mark_class(module: str, name: str) -> None:
            if (module, name) in live_classes or module not in self.modules:
                return
            live_classes.add((module, name))
            info = self.tree.module(module)
            if info is None or name not in info.classes:
                return
            for item in info.classes[name].body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                        _is_dunder(item.name) or item.name in attributes
                        or item.decorator_list):
                    mark(Unit(module, f"{name}.{item.name}"))

        def mark_symbol(symbol: Symbol | None) -> None:
            if symbol is None:
                return
            if symbol.kind in ("function", "method"):
                mark(Unit(symbol.module, symbol.name))
            elif symbol.kind == "class":
                mark_class(symbol.module, symbol.name)

        for name in self.modules:
            info = self.tree.module(name)
            if info is None:
                continue
            mark(Unit(name, MODULE_LEVEL))
            for function in info.functions.values():
                if function.decorator_list and function.name in info.names and (
                        function is info.functions.get(function.name)):
                    mark(Unit(name, function.name))
        while pending:
            unit = pending.pop()
            info = self.tree.module(unit.module)
            if info is None:
                continue
            for node in info.nodes(unit.qualname):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    mark_symbol(self.tree.symbol(unit.module, node.id))
                elif isinstance(node, ast.Attribute):
                    mark_symbol(self.tree.resolve(unit.module, node, unit.cls))
                    if node.attr not in attributes:
                        attributes.add(node.attr)
                        for module, cls in tuple(live_classes):
                            owner = self.tree.module(module)
                            if owner is not None and f"{cls}.{node.attr}" in owner.functions:
                                mark(Unit(module, f"{cls}.{node.attr}"))
                elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                        node.value.isidentifier()):
                    attributes.add(node.value)  # getattr(obj, "name")


def _is_dunder(name: str) -> bool:
    """Python calls these itself (construction, operators, context managers)."""
    return name.startswith("__") and name.endswith("__")
