"""One check: a source folder and a profile in, a report out (or a usage error)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from preflight.contract.profile import Profile
from preflight.engines_code.compare import Comparison, compare
from preflight.engines_code.facts import Facts
from preflight.engines_code.scan import Scanner, module_name


class UsageError(Exception):
    """PATH or the profile cannot be checked: exit 2, one line naming what is wrong."""

    def __init__(self, where: str, expected: str, got: str | None = None) -> None:
        self.where = where
        self.expected = expected
        self.got = got
        super().__init__(f"{where}: expected {expected}" + (f" (got {got!r})" if got else ""))


class Report(NamedTuple):
    path: str
    profile: Profile
    facts: Facts
    comparison: Comparison


def check(path: str, profile: Profile) -> Report:
    if profile.engines is None:
        raise UsageError(profile.source, "an `engines: {entry: ...}` section naming the app's "
                         "entry module")
    entry = profile.engines.entry
    root = Path(path)
    if not root.is_dir():
        raise UsageError("PATH", "a folder holding the engines' source", path)
    if not (root / entry).is_file():
        raise UsageError("PATH", f"the engines' source tree: {entry} (the profile's "
                         "engines.entry) is not in it", path)
    scanner = Scanner(root, entry)
    if scanner.tree.module(module_name(entry)) is None:
        raise UsageError("PATH", f"Python that parses: {entry} does not", path)
    facts = scanner.facts()
    return Report(path, profile, facts, compare(facts, profile))
