"""The layers hold (import-linter's contracts in pyproject.toml, run by `make lint`), and no
import circle remains, counting every import statement, lazy ones included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from grimp import ImportGraph

# make test-lowest's venv carries only the tools its tests use: this file needs import-linter's.
grimp = pytest.importorskip("grimp")

ROOT = Path(__file__).resolve().parent.parent
# route_model imports its pydantic twin only for documents off its fast path, and the twin
# builds on route_model's parsed fields (contract/route_model.py says why).
DOCUMENTED_CIRCLES = [{"preflight.contract.route_model", "preflight.contract._route_pydantic"}]


def circles(graph: ImportGraph) -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(
                        child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(group)
    return found


def with_imports_by_name(graph: ImportGraph) -> ImportGraph:
    """The imports the code makes by name (importlib), which no import statement shows:
    the prober imports each backend's module on first use."""
    from preflight.observe.probing import PROBED

    for backend in PROBED:
        graph.add_import(importer="preflight.observe.probing",
                         imported=f"preflight.observe.{backend}")
    return graph


def test_no_import_circle_but_the_documented_one() -> None:
    assert circles(with_imports_by_name(grimp.build_graph("preflight"))) == DOCUMENTED_CIRCLES


def test_a_circle_is_found() -> None:
    """The finder itself: two modules importing each other are one circle."""
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.b", imported="p.c")
    assert circles(graph) == [{"p.a", "p.b"}]


def test_the_layer_contracts_hold() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def test_every_document_the_code_and_manifests_cite_exists() -> None:
    """A pointer to a document the repository does not have is a dead end for a reader."""
    import re

    cited = re.compile(r"\b((?:docs|deploy)/[\w./-]+\.md)\b|\b([A-Z][A-Z-]+\.md)\b")
    missing = []
    for folder in ("preflight", "deploy", "tests", "bench", "scripts"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".yaml", ".yml", ".sh", ".json", ".md") or \
                    "node_modules" in path.parts:
                continue
            for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1):
                for match in cited.finditer(line):
                    name = match.group(1) or match.group(2)
                    candidates = [ROOT / name, ROOT / "docs" / name, ROOT / "deploy" / name,
                                  path.parent / name]
                    if not any(candidate.exists() for candidate in candidates):
                        missing.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert not missing, "\n".join(missing)


def test_every_repository_path_the_code_and_docs_name_exists() -> None:
    """A path into the repository (`preflight/contract/route_model.py`) that a move left
    behind. docs/ENGINES.md cites the engines' own files as path:line: not ours."""
    import re

    named = re.compile(r"(?<![\w/.-])((?:preflight|docs|deploy|tests|bench|scripts)/"
                       r"[\w./-]*\w\.(?:py|ya?ml|json|md|sh|png))\b(:\d)?")
    engines_facts = ROOT / "docs" / "ENGINES.md"
    files = [ROOT / "README.md", ROOT / "Makefile", ROOT / "Dockerfile"] + [
        path for folder in ("preflight", "deploy", "tests", "bench", "scripts", "docs")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".yaml", ".yml", ".sh", ".json", ".md")
        and "node_modules" not in path.parts and path.is_file()]
    missing = [f"{path.relative_to(ROOT)}:{number}: {match[1]}"
               for path in files
               for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1)
               for match in named.finditer(line)
               if not (ROOT / match[1]).exists()
               and not (path == engines_facts and match[2])]
    assert not missing, "\n".join(missing)


def loaded_by(*argv: str) -> set[str]:
    """The modules `preflight ARGV` has imported when it exits (the CLI's own path)."""
    program = ("import sys\nfrom preflight.app.cli import main\n"
               "import atexit, os\n"
               "def dump():\n"
               "    os.write(2, ('\\nMODULES ' + ' '.join(sorted(sys.modules))).encode())\n"
               "sys.modules['os']._exit = lambda code, _exit=os._exit: (dump(), _exit(code))\n"
               f"main({list(argv)!r})\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    line = done.stderr.rsplit("MODULES ", 1)[-1]
    assert done.returncode == 0, done.stderr[-2000:]
    return set(line.split())


def test_version_and_help_import_no_check_module_and_no_client() -> None:
    for argv in (("--version",), ("check", "--help")):
        loaded = loaded_by(*argv)
        checks = sorted(name for name in loaded if name.startswith("preflight.checks."))
        clients = sorted(name for name in loaded
                         if name.split(".")[0] in ("google", "grpc", "botocore", "boto3",
                                                   "requests", "azure", "redis", "pydantic"))
        assert "preflight.app.cli" in loaded
        assert (checks, clients) == ([], []), argv
