"""The reference tables the code knows, written into the pages between marker comments.

`make docs` runs this. Each table sits between `<!-- BEGIN generated:NAME … -->` and
`<!-- END generated:NAME -->`; everything else on the page is prose and left alone.
tests/test_reference.py fails when a committed page differs from what this writes, so a
table cannot drift from the code: the checks registry (CHECKS, each check module's docstring),
the strictness rules (core/strictness.py RULES), every command's options as click knows
them (the text `--help` shows), and the exit codes (core/result.py EXIT_CODES).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(?P<begin><!-- BEGIN generated:(?P<name>[a-z]+)\b[^>]*-->\n)"
                   r"(?P<body>.*?)"
                   r"(?P<end><!-- END generated:(?P=name) -->)", re.DOTALL)
# Which tables each page carries: a marker removed by mistake fails the test too.
PAGES = {
    "README.md": ("checks", "exits"),
    "docs/CHECKS.md": ("checks",),
    "docs/STRICTNESS.md": ("strictness",),
    "docs/OPTIONS.md": ("options", "exits"),
}
PHASES = {"startup": "start-up", "first_use": "first use"}
# "Meaning. Env: A, then B. Default: X." — how options.py and cli.py write every option's help.
HELP = re.compile(r"^(?P<meaning>.*?)(?: Env: (?P<env>[^.]*)\.)?(?: Default: (?P<default>.*)\.)?$",
                  re.DOTALL)


def cell(text: str) -> str:
    """One table cell: on one line, its pipes escaped (GitHub splits cells on them)."""
    return " ".join(text.split()).replace("|", "\\|")


def first_line(docstring: str | None) -> str:
    return (docstring or "").strip().split("\n\n")[0].replace("\n", " ").strip()


# ----------------------------------------------------------------------------- checks

def checks_table() -> str:
    """Start-up checks first, then first use, each in the verdict's order."""
    from preflight import checks
    from preflight.run.check import Check

    loaded = checks.load()
    rows = ["| check | phase | needs | what it verifies |", "| --- | --- | --- | --- |"]
    for phase, shown in PHASES.items():
        for check in (c for c in loaded if c.phase == phase):
            summary = first_line(sys.modules[check.__module__].__doc__)
            prefix = f"{check.name}: "
            if not summary.startswith(prefix):
                raise SystemExit(f"{check.__module__}: its docstring must start with "
                                 f"{prefix!r} and say in one line what the check verifies")
            needs = ", ".join(f"`{name}`" for name in check.needs) or "—"
            if check.needs_for is not Check.needs_for:  # depends on the configuration
                needs = first_line(check.needs_for.__doc__).rstrip(".")
            rows.append(f"| `{check.name}` | {shown} | {cell(needs)} | "
                        f"{cell(summary.removeprefix(prefix).rstrip('.'))} |")
    return "\n".join(rows)


# ------------------------------------------------------------------------- strictness

def strictness_table() -> str:
    from preflight.core.strictness import RULES

    rows = ["| code | rule | reason |", "| --- | --- | --- |"]
    rows += [f"| `{rule.code}` | {cell(rule.rule)} | {cell(rule.reason)} |" for rule in RULES]
    return "\n".join(rows)


# ---------------------------------------------------------------------------- options

Row = tuple[str, str, str, str]  # option, env, default, meaning


def commands(group: click.Group, prefix: str = "preflight") -> Iterator[tuple[str, click.Command]]:
    """Every command, in the order the CLI defines them; a group with options of its own
    counts as one too."""
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            if own_options(command):
                yield path, command
            yield from commands(command, path)
        else:
            yield path, command


def own_options(command: click.Command) -> list[click.Option]:
    return [param for param in command.params if isinstance(param, click.Option)
            and not (param.is_eager and not param.expose_value)]  # --help, --version


def option_row(where: str, option: click.Option) -> Row:
    """The row, from the help text `--help` prints; its variables must be click's own."""
    names = [*option.opts, *option.secondary_opts]
    if option.metavar and not option.is_flag:
        names[-1] += f" {option.metavar}"
    flags = " / ".join(f"`{name}`" for name in names)
    found = HELP.match(" ".join((option.help or "").split()))
    assert found, where
    env, default = found["env"] or "", found["default"] or ""
    declared = ([option.envvar] if isinstance(option.envvar, str) else list(option.envvar or []))
    if declared and env.split(", then ") != declared:
        raise SystemExit(f"{where} {option.opts[0]}: its help says Env: {env!r}, click reads "
                         f"{', '.join(declared)}")
    shown_env = " then ".join(f"`{name}`" for name in env.split(", then ")) if env else "—"
    if env.endswith(" (any value)"):
        shown_env = f"`{env.removesuffix(' (any value)')}` (any value)"
    return (cell(flags), cell(shown_env), cell(default or ("off" if option.is_flag else "—")),
            cell(found["meaning"]))


def options_tables() -> str:
    """One table of the options several commands share, then each command's own."""
    from preflight.app.cli import cli

    found = [(path, [option_row(path, option) for option in own_options(command)])
             for path, command in commands(cli)]
    takers: dict[Row, list[str]] = {}
    for path, rows in found:
        for row in rows:
            takers.setdefault(row, []).append(path.removeprefix("preflight "))
    shared = [row for row, paths in takers.items() if len(paths) > 1]
    header = "| option | env | default | meaning |\n| --- | --- | --- | --- |"
    out = ["### Shared options", "",
           "| option | env | default | meaning | commands |", "| --- | --- | --- | --- | --- |"]
    out += [f"| {' | '.join(row)} | {', '.join(takers[row])} |" for row in shared]
    for path, rows in found:
        own = [row for row in rows if row not in shared]
        if own:
            out += ["", f"### `{path}`", "", header]
            out += [f"| {' | '.join(row)} |" for row in own]
    return "\n".join(out)


def exits_table() -> str:
    from preflight.core.result import EXIT_CODES

    rows = [f"| {' / '.join(f'`{int(code)}`' for code in codes)} | {word}: {meaning} |"
            for codes, word, meaning in EXIT_CODES]
    return "\n".join(["| code | meaning |", "| --- | --- |", *rows])


TABLES: dict[str, Callable[[], str]] = {
    "checks": checks_table, "strictness": strictness_table, "options": options_tables,
    "exits": exits_table}


# ------------------------------------------------------------------------------ pages

def render(page: str, text: str, tables: dict[str, str]) -> str:
    """`text` with every generated block rewritten; the page must carry exactly its blocks."""
    names = [match["name"] for match in BLOCK.finditer(text)]
    if sorted(names) != sorted(PAGES[page]):
        raise SystemExit(f"{page}: generated blocks {names}, expected {list(PAGES[page])}")
    return BLOCK.sub(lambda m: m["begin"] + tables[m["name"]] + "\n" + m["end"], text)


def generated() -> dict[str, str]:
    """Each page as this script would write it, from the committed text."""
    tables = {name: make() for name, make in TABLES.items()}
    return {page: render(page, (ROOT / page).read_text("utf-8"), tables) for page in PAGES}


def main() -> int:
    for page, text in generated().items():
        path = ROOT / page
        if path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
            print(f"rewrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
