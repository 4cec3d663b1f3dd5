"""The audit as one self-contained HTML file: a tenant x kind grid, filters, findings, drift.

No network and no external asset: the styles and the script are inline, the report's own
JSON is embedded (every `<` escaped, so no registry value can close the script element), and
a Content-Security-Policy of `default-src 'none'` forbids any fetch. The script builds the
page with `textContent` and `setAttribute` only, never HTML from data, so a hostile tenant
id or document id is shown, not run. Filters live in the URL's fragment
(`#status=fail&tenant=acme&env=prod`), so a filtered view can be shared as a link.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from html import escape
from importlib.resources import files

from preflight.audit.model import AuditReport
from preflight.audit.render import headline


@cache
def asset(name: str) -> str:
    return files("preflight").joinpath(f"audit/assets/{name}").read_text("utf-8")


def html_chunks(report: AuditReport) -> Iterator[str]:
    title = escape(headline(report).split(":")[0])
    yield ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
           '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
           "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
           '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
           f"<title>{title}</title>\n<style>\n{asset('report.css')}</style>\n</head>\n")
    yield asset("body.html")
    yield '<script type="application/json" id="audit-data">'
    for chunk in report.json_chunks():
        yield chunk.replace("<", "\\u003c")
    yield f"</script>\n<script>\n{asset('report.js')}</script>\n</body>\n</html>\n"
