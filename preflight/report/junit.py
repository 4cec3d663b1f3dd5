"""JUnit XML, the shape GitLab and Jenkins read (the Jenkins junit-10 XSD): the one writer
for the verdict (a testcase per check) and the audit (a testcase per scope).

Streamed: an audit of thousands of scopes never builds its document in memory. Text that
XML 1.0 cannot carry (control characters) is replaced, never dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def text(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value))


def attr(value: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", value))


@dataclass(frozen=True)
class Case:
    name: str
    classname: str
    seconds: float = 0.0
    # None (passed), "failure", "error" or "skipped"; `kind` is its type attribute.
    result: str | None = None
    message: str = ""
    kind: str = ""
    body: str = ""
    output: str = ""  # system-out: warnings and notes


@dataclass(frozen=True)
class Totals:
    tests: int
    failures: int
    errors: int
    skipped: int
    seconds: float


def chunks(name: str, totals: Totals, started_at: datetime, cases: Iterable[Case],
           suite_output: str = "") -> Iterator[str]:
    common = (f'tests="{totals.tests}" failures="{totals.failures}" errors="{totals.errors}" '
              f'skipped="{totals.skipped}" time="{totals.seconds:.3f}"')
    stamp = started_at.strftime("%Y-%m-%dT%H:%M:%S")
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield f"<testsuites name={attr(name)} {common}>\n"
    yield f"  <testsuite name={attr(name)} {common} timestamp=\"{stamp}\">\n"
    for case in cases:
        yield (f"    <testcase name={attr(case.name)} classname={attr(case.classname)} "
               f'time="{case.seconds:.3f}">')
        inner = ""
        if case.result == "skipped":
            inner += f"\n      <skipped message={attr(case.message)}/>"
        elif case.result is not None:
            inner += (f"\n      <{case.result} message={attr(case.message)} "
                      f"type={attr(case.kind)}>{text(case.body)}</{case.result}>")
        if case.output:
            inner += f"\n      <system-out>{text(case.output)}</system-out>"
        yield inner + ("\n    " if inner else "") + "</testcase>\n"
    if suite_output:
        yield f"    <system-out>{text(suite_output)}</system-out>\n"
    yield "  </testsuite>\n</testsuites>\n"
