"""The audit's HTML report at fleet size (issue 23): how long headless Chromium takes to draw it.

Two fleets of the same size, judged in process (tests/audit_reports.py) and written as
`preflight audit` writes audit.html: failing scopes that each have one route (so each lists
its missing kinds) and healthy scopes with every request-time kind. Each is opened from disk
in headless Chromium, in rounds that also open an empty page, rotating the order; a page
counts as drawn at the frame after the one that first showed it ready (tests/browser.py,
DRAWN). Budget: the failing fleet within 2 s of the empty page. The time depends on the
machine's load, so it is judged here and not in `make test`, which checks instead that the
page's element count does not grow with the scopes (tests/test_audit_html.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

BUDGET_S = 2.0  # more than an empty page, for the failing fleet
PAGES = ("empty", "failing", "healthy")
ELEMENTS = """(() => ({elements: document.getElementsByTagName("*").length,
  shown: document.getElementById("shown")?.textContent || null}))()"""


def measure(scopes: int, rounds: int, warm_up: bool) -> tuple[dict[str, Any], list[str]]:
    """The pages' sizes, element counts and drawing times; and what went wrong, if anything."""
    from bench.measure import Samples
    from preflight.audit.html import html_chunks
    from tests.audit_reports import fleet_report
    from tests.browser import running

    errors: list[str] = []
    drawn = {name: Samples() for name in PAGES}
    elements: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-audit-html-") as folder:
        paths = {name: Path(folder, f"{name}.html") for name in PAGES}
        paths["empty"].write_text('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                                  '<title>empty</title></head><body data-ready="true"></body>'
                                  "</html>\n", "utf-8")
        for name in ("failing", "healthy"):
            report = fleet_report(scopes, failing=name == "failing")
            with paths[name].open("w", encoding="utf-8") as out:
                out.writelines(html_chunks(report))
        sizes = {name: path.stat().st_size for name, path in paths.items()}
        with running() as browser:
            for number in range(rounds + warm_up):
                turn = number % len(PAGES)
                for name in PAGES[turn:] + PAGES[:turn]:
                    page = browser.page()
                    milliseconds = page.open_drawn(paths[name].as_uri())
                    state = page.evaluate(ELEMENTS)
                    page.close()
                    elements[name] = state["elements"]
                    if name != "empty" and state["shown"] != f"{scopes + 1:,} of " \
                            f"{scopes + 1:,} scopes shown":
                        errors.append(f"audit html: the {name} page shows {state['shown']!r}, "
                                      f"not its {scopes + 1:,} scopes")
                    if number or not warm_up:
                        drawn[name].add(milliseconds / 1000)
    empty = drawn["empty"].median
    return {"scopes": scopes, "rounds": rounds, "warm_up": warm_up, "bytes": sizes,
            "elements": elements,
            "drawn_s": {name: samples.to_dict() for name, samples in drawn.items()},
            "over_empty_s": {name: drawn[name].median - empty for name in PAGES[1:]}}, errors


def budget(results: dict[str, Any]) -> tuple[str, str, bool] | None:
    """The budget row: (what, measured, met)."""
    html = results.get("audit_html")
    if not html:
        return None
    over = html["over_empty_s"]["failing"]
    drawn = html["drawn_s"]
    return (f"(issue 23) the audit's HTML report of {html['scopes']:,} failing scopes is drawn "
            f"in headless Chromium < {BUDGET_S:.0f} s after an empty page",
            f"+{over:.2f} s ({drawn['failing']['median']:.2f} s vs "
            f"{drawn['empty']['median']:.2f} s, medians of {html['rounds']}; "
            f"{html['bytes']['failing'] / 2**20:.1f} MiB)", over < BUDGET_S)


def section(results: dict[str, Any]) -> list[str]:
    html = results.get("audit_html")
    if not html:
        return []
    lines = [f"## 9. The audit's HTML report at {html['scopes']:,} scopes (issue 23)", "",
             "Built by `bench/audit_html.py`: the fleets are judged in process by the audit's "
             "own facts and judge (`tests/audit_reports.py`) and written as `audit.html`; "
             "each page is opened from disk in headless Chromium, in rounds with an empty "
             "page, and counts as drawn at the frame after the one that first showed it "
             f"ready. Medians of {html['rounds']} round(s)"
             + (" after a discarded warm-up." if html.get("warm_up") else "."), "",
             "| page | file | elements once drawn | drawn after | more than the empty page |",
             "|---|---|---|---|---|"]
    words = {"empty": "empty page", "failing": f"{html['scopes']:,} failing scopes, one route "
             "each", "healthy": f"{html['scopes']:,} healthy scopes"}
    for name in PAGES:
        over = html["over_empty_s"].get(name)
        lines.append(f"| {words[name]} | {html['bytes'][name] / 2**20:,.2f} MiB | "
                     f"{html['elements'][name]:,} | {html['drawn_s'][name]['median']:.2f} s | "
                     + ("" if over is None else f"+{over:.2f} s") + " |")
    lines += ["", "The page draws only the grid's rows in view and a page of scopes whose "
              "findings open when asked for, so its element count stays the same at any "
              "number of scopes; what grows is the embedded data (one JSON element, repeated "
              "texts written once) that the browser reads and parses.", ""]
    return lines
