"""The audit as one self-contained HTML file: a tenant x kind grid, filters, findings, drift.

No network and no external asset: the styles and the script are inline, allowed by their
SHA-256 in the Content-Security-Policy (`default-src 'none'`, no `'unsafe-inline'`), so
nothing else can run or load. The script builds the page with `textContent` and
`setAttribute` only, never HTML from data, so a hostile tenant id or document id is shown,
not run. Filters and the scope whose findings are open live in the URL's fragment
(`#status=fail&tenant=acme&env=prod&scope=…`), so a view can be shared as a link.

A fleet has thousands of scopes, so the page draws only what is asked for: the grid's rows
in view (the rest are spacers of the same height), findings when their scope is opened,
long lists a page at a time. The data is one JSON script element the browser parses but
never runs. It is the report model in a compact form, not audit.json: scopes, cells and
findings are arrays, and every repeated text (codes, messages, fixes, kinds, statuses) is
written once in a string table and referred to by index; the drift is as in audit.json.
Every `<` is escaped, so no registry value can close the element.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any

from preflight.audit.model import AuditReport, Item, ScopeResult
from preflight.audit.render import headline, tag

Intern = Callable[[str | None], int | str | None]


@cache
def asset(name: str) -> str:
    return files("preflight").joinpath(f"audit/assets/{name}").read_text("utf-8")


def csp_hash(text: str) -> str:
    """A CSP source that allows exactly this inline element's text."""
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


MAX_STRINGS = 4_096  # strings the page's table holds: the merge's memory for the HTML


def finding_row(item: Item, ref: Intern) -> list[Any]:
    finding = item.finding
    return [ref(item.status), ref(finding.code), finding.subject, ref(finding.message),
            ref(finding.fix), ref(tag(item)), ref(item.kind)]


def scope_row(scope: ScopeResult, ref: Intern) -> list[Any]:
    cells = [[ref(cell.kind), ref(cell.status), list(cell.documents), ref(cell.backend)]
             for cell in scope.cells]
    return [scope.label, ref(scope.env), ref(scope.role), ref(scope.status), scope.documents,
            cells, [finding_row(item, ref) for item in scope.findings]]


def data_chunks(report: AuditReport) -> Iterator[str]:
    """The page's data, scope by scope; the string table comes last, once it is complete.

    The table holds each string once (statuses, codes, kinds, the messages many findings
    share), up to MAX_STRINGS: past that, a string is written where it is used, so a fleet
    of distinct messages costs the page bytes, not the merge memory."""
    table: dict[str, int] = {}

    def ref(text: str | None) -> int | str | None:
        if text is None:
            return None
        if text in table or len(table) < MAX_STRINGS:
            return table.setdefault(text, len(table))
        return text

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    yield '{"head":' + dumps(report.head()) + ',"scopes":['
    for index, scope in enumerate(report.scopes):
        yield ("," if index else "") + dumps(scope_row(scope, ref))
    yield '],"registry_findings":' + dumps(
        [finding_row(item, ref) for item in report.registry_findings])
    yield ',"drift":' + dumps(None if report.drift is None else report.drift.to_dict())
    yield ',"strings":' + dumps(list(table)) + "}"


def html_chunks(report: AuditReport) -> Iterator[str]:
    title = escape(headline(report).split(":")[0])
    style = "\n" + asset("report.css")
    script = "\n" + asset("report.js")
    policy = (f"default-src 'none'; style-src {csp_hash(style)}; "
              f"script-src {csp_hash(script)}; base-uri 'none'; form-action 'none'")
    yield ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
           f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
           '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
           f"<title>{title}</title>\n<style>{style}</style>\n</head>\n")
    yield asset("body.html")
    yield '<script type="application/json" id="audit-data">'
    for chunk in data_chunks(report):
        yield chunk.replace("<", "\\u003c")
    yield f"</script>\n<script>{script}</script>\n</body>\n</html>\n"
