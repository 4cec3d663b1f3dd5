"""docs/STRICTNESS.md's table of deliberate strictness is exactly the rules the code can emit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from preflight.core import strictness

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- BEGIN generated:strictness"
ROW = re.compile(r"^\| `(?P<code>[a-z_]+)` \| (?P<rule>.+) \| (?P<reason>.+) \|$")


def documented_rows() -> list[tuple[str, str, str]]:
    lines = (ROOT / "docs" / "STRICTNESS.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(MARKER))
    assert lines[start + 1] == "| code | rule | reason |"
    assert lines[start + 2] == "| --- | --- | --- |"
    rows = []
    for line in lines[start + 3:]:
        if not line.startswith("|"):
            break
        match = ROW.match(line)
        assert match, f"docs/STRICTNESS.md row not in the form | `code` | rule | reason |: {line}"
        rows.append((match["code"], match["rule"], match["reason"]))
    return rows


def test_the_documented_table_is_the_code() -> None:
    assert documented_rows() == [(rule.code, rule.rule, rule.reason) for rule in strictness.RULES]


@pytest.mark.parametrize("code", sorted(strictness.CODES))
def test_every_code_is_emitted_somewhere(code: str) -> None:
    """A code no check can emit is a promise the documentation makes for nothing."""
    sources = [path for path in (ROOT / "preflight").rglob("*.py")
               if path.name != "strictness.py" and f'"{code}"' in path.read_text("utf-8")]
    sources += [path for path in (ROOT / "preflight" / "contract" / "profiles").glob("*.yaml")
                if f"code: {code}\n" in path.read_text("utf-8")]
    assert sources, f"no module emits {code}"


def test_an_unknown_code_cannot_be_emitted() -> None:
    with pytest.raises(ValueError, match="unknown strictness code"):
        strictness.finding("made_up", "a sentence")


def test_the_verdict_schema_admits_every_code() -> None:
    """An operator's profile may bring codes of its own: the schema names their form."""
    schema_file = ROOT / "preflight" / "report" / "schema" / "verdict-v1.json"
    schema = json.loads(schema_file.read_text("utf-8"))
    pattern = re.compile(schema["$defs"]["stricter"]["items"]["properties"]["code"]["pattern"])
    assert all(pattern.match(rule.code) for rule in strictness.RULES)
