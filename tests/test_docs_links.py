"""Every relative link in the README and the reference pages leads somewhere: a file that
exists and, after `#`, a heading (or an explicit anchor) it has — by GitHub's anchor rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "deploy" / "README.md"])

FENCE = re.compile(r"^ {0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); the target ends at whitespace or the closing bracket.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def prose(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    lines, fenced = [], None
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if fence and (fenced is None or fence[1] == fenced):
            fenced = fence[1] if fenced is None else None
            continue
        if fenced is None:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, every character that is not a
    letter, digit, space, hyphen or underscore dropped, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"(\*\*|__|\*)", "", text)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose(path.read_text("utf-8")):
        found.update(EXPLICIT.findall(line))
        heading = HEADING.match(line)
        if heading:
            base = slug(heading[2])
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    return [(number, match[1]) for number, line in prose(path.read_text("utf-8"))
            for match in LINK.finditer(CODE_SPAN.sub("", line))]


def broken(path: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # https:, mailto: — not the repository's
        file_part, _, fragment = target.partition("#")
        where = (path.parent / file_part).resolve() if file_part else path
        place = f"{path.relative_to(root)}:{number}: {target}"
        if root != where and root not in where.parents:
            problems.append(f"{place}: outside the repository")
        elif not where.exists():
            problems.append(f"{place}: no such file")
        elif fragment and where.suffix == ".md" and fragment not in anchors(where):
            problems.append(f"{place}: no heading #{fragment} in {where.relative_to(root)}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: str | Path) -> None:
    problems = broken(Path(page))
    assert not problems, "\n".join(problems)


def test_the_reference_index_links_every_page() -> None:
    index = {target.partition("#")[0] for _, target in links(ROOT / "docs" / "README.md")}
    pages = {path.name for path in (ROOT / "docs").glob("*.md")} - {"README.md"}
    assert pages <= index, sorted(pages - index)


@pytest.mark.parametrize(("heading", "anchor"), [
    ("`preflight exec -- COMMAND [ARGS…]` — single-container services, local runs",
     "preflight-exec----command-args--single-container-services-local-runs"),
    ("Deep probes: `backends.reachable`", "deep-probes-backendsreachable"),
    ("5.9 `requirements.txt` and the client libraries",
     "59-requirementstxt-and-the-client-libraries"),
    ("The exec probe's cost", "the-exec-probes-cost"),
    ("Signals: 143 and 130 in every mode", "signals-143-and-130-in-every-mode"),
    ("See [the docs](docs/README.md) *now*", "see-the-docs-now"),
    ("snake_case stays", "snake_case-stays"),
])
def test_anchors_follow_githubs_rules(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_a_broken_link_is_reported(tmp_path: Path) -> None:
    """The checks above can fail: a missing file, a missing heading and a way out are found."""
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](missing.md) [nowhere](#no-such)\n"
                    "[out](../../etc/passwd)\n"
                    "```\n[in code](ignored.md)\n```\n`[span](ignored.md)`\n")
    assert broken(page.resolve(), tmp_path.resolve()) == [
        "page.md:3: missing.md: no such file",
        "page.md:3: #no-such: no heading #no-such in page.md",
        "page.md:4: ../../etc/passwd: outside the repository"]
