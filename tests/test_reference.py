"""The generated reference tables are the code's: a committed page equals what `make docs` writes.

Comparison only: a test run never rewrites a tracked page (scripts/reference.py does, by
`make docs`).
"""

from __future__ import annotations

import difflib

import pytest

from preflight import checks
from preflight.app.cli import cli
from scripts import reference

ROOT = reference.ROOT


@pytest.fixture(scope="module")
def written() -> dict[str, str]:
    return reference.generated()


@pytest.mark.parametrize("page", sorted(reference.PAGES))
def test_each_committed_page_is_what_make_docs_writes(page: str, written: dict[str, str]) -> None:
    committed = (ROOT / page).read_text("utf-8")
    diff = "".join(difflib.unified_diff(committed.splitlines(keepends=True),
                                        written[page].splitlines(keepends=True),
                                        f"{page} (committed)", f"{page} (make docs)"))
    assert not diff, f"{page} differs from the code: run `make docs`\n{diff[:4000]}"


def test_a_stale_table_is_rewritten() -> None:
    """The comparison above can fail: a row changed by hand does not survive the generator."""
    page = "docs/STRICTNESS.md"
    committed = (ROOT / page).read_text("utf-8")
    stale = committed.replace("| `backend_empty` |", "| `backend_blank` |", 1)
    assert stale != committed
    tables = {name: make() for name, make in reference.TABLES.items()}
    assert reference.render(page, stale, tables) == committed


def test_a_page_without_its_markers_is_refused() -> None:
    tables = {name: make() for name, make in reference.TABLES.items()}
    with pytest.raises(SystemExit, match="generated blocks"):
        reference.render("README.md", "# preflight\n", tables)


def test_the_check_table_lists_every_registered_check() -> None:
    table = reference.checks_table()
    rows = table.splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [
        name for phase in reference.PHASES for name in checks.NAMES
        if next(c for c in checks.load() if c.name == name).phase == phase]
    assert all(row.count("|") == 5 for row in rows)  # no description broke the table


def test_the_option_tables_list_every_option_of_every_command() -> None:
    """Each option is a row of the shared table naming the command, or of the command's own."""
    shared, *own = reference.options_tables().split("\n### `")
    sections = {section.split("`", 1)[0]: section for section in own}
    shared_rows = [line for line in shared.splitlines() if line.startswith("| `")]
    for path, command in reference.commands(cli):
        for option in reference.own_options(command):
            flag = f"| `{option.opts[0]}"
            takers = [row.rstrip(" |").rsplit("| ", 1)[-1].split(", ")
                      for row in shared_rows if row.startswith(flag)]
            in_own = any(line.startswith(flag)
                         for line in sections.get(path, "").splitlines())
            assert in_own or any(path.removeprefix("preflight ") in names for names in takers), (
                path, option.opts)


def test_an_option_whose_help_names_another_variable_is_refused() -> None:
    import click

    option = click.Option(["--listen"], envvar="PREFLIGHT_LISTEN",
                          help="Where probes are served. Env: PREFLIGHT_LISTENER.")
    with pytest.raises(SystemExit, match="click reads PREFLIGHT_LISTEN"):
        reference.option_row("preflight serve", option)
