"""The engines' defaults and rules live in the profile only (issue 20).

No string or number in preflight's code (docstrings and comments aside) may be one of the
engines' defaults, container names or the names of the variables their backends read:
those come from `preflight/contract/profiles/` (and the schema that describes them). An
operator's profile that changes one then changes every check. The few exceptions are
named below with the reason; none is in the probes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests import harness

PACKAGE = harness.REPO / "preflight"
EXEMPT_FOLDERS = ("contract/profiles", "contract/schema")
# Literals that are the engines' facts wherever they appear in a string.
WITHIN = ("tabular_store", "chat_store", "event_spine", "us-west-2", "raw-objects", "6379",
          "localhost", "nexus_events", "dataset_events", "RAW_BUCKET", "GCS_BUCKET",
          "AZURE_STORAGE_", "AZURE_COSMOSDB_",
          "REDIS_HOST", "REDIS_PORT", "NEXUS_BQ_", "tenant_run_idx")
# Literals that are the engines' facts as a whole string (common words inside others).
WHOLE = ("events", "(default)", "pk", "sk")
# (file, literal) -> why it may stay: not the probes' contract, or preflight's own option.
ALLOWED = {
    ("app/options.py", "RAW_BUCKET"): "--bucket's own variable (preflight reads it too)",
    ("app/options.py", "localhost"): "--disallow's help shows the profile's refusals",
    ("app/explain.py", "RAW_BUCKET"): "explain shows --bucket's variable",
    ("judge/s3.py", "RAW_BUCKET"): "s3.bucket judges --bucket / RAW_BUCKET itself",
    ("core/strictness.py", "RAW_BUCKET"): "the strictness table's documented rows",
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def literals(package: Path = PACKAGE) -> Iterator[tuple[str, int, str]]:
    """(file, line, the engines' fact) for every literal of the code that is one."""
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative.startswith(EXEMPT_FOLDERS):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or id(node) in skip:
                continue
            text = str(node.value) if isinstance(node.value, (str, int)) else None
            if text is None or isinstance(node.value, bool):
                continue
            for fact in WITHIN:
                if fact in text and (relative, fact) not in ALLOWED:
                    yield relative, node.lineno, fact
            if text in WHOLE and (relative, text) not in ALLOWED:
                yield relative, node.lineno, text


def test_no_engines_default_is_a_literal_outside_the_profile() -> None:
    found = [f"preflight/{path}:{line}: {fact!r}" for path, line, fact in literals()]
    assert not found, "the engines' contract belongs in the profile:\n" + "\n".join(found)


def test_the_scan_sees_a_planted_literal(tmp_path: Path) -> None:
    """The test can fail: a default planted in a module of a package is found (a copy's
    folder, never the package itself: other tests and the linters read it meanwhile)."""
    planted = tmp_path / "contract" / "targets" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text('"""A docstring may say us-west-2."""\nREGION = "us-west-2"\n'
                       'PORT = 6379\nCONTAINER = "events"\n', "utf-8")
    (tmp_path / "contract" / "profiles").mkdir()
    (tmp_path / "contract" / "profiles" / "exempt.py").write_text('REGION = "us-west-2"\n')
    assert set(literals(tmp_path)) == {("contract/targets/planted.py", line, fact)
                                       for line, fact in ((2, "us-west-2"), (3, "6379"),
                                                          (4, "events"))}
