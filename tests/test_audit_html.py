"""The single-file HTML report in a real headless Chromium (Debian's `chromium`).

The report is opened from disk with the network emulated offline, and what is on the page is
asserted, not only that a file exists: the tenant x kind grid's cells (read by scrolling the
grid, which draws only the rows in view), the failing scopes' findings with their fixes, the
drift table, and the filters (checkboxes, the text box, the env list and a shared `#status=…`
link). Its Content-Security-Policy is checked in the browser: the report's own script and
styles run under it, anything else inline is refused. At fleet size (5,000 scopes, built
in process) the page's element count must not grow with the scopes; its render time is
measured by the bench (load-dependent, so not here). A screenshot of the page is kept in
.pytest-results/audit/; `make audit-screenshot` points PREFLIGHT_AUDIT_SCREENSHOT at the
README's docs/audit-report.png (a plain test run never rewrites a tracked file).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from preflight.audit import html
from preflight.audit.html import html_chunks
from tests import audit_fleet
from tests.audit_fleet import BROKEN, SECRET, SERVING_KINDS, WARNED, Audit, Registry, run_audit
from tests.audit_reports import MISSING_PER_FAILING_SCOPE, fleet_report
from tests.browser import Browser, Page, running
from tests.conftest import Stack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / ".pytest-results" / "audit"
SCREENSHOT = ARTIFACTS / "audit-report.png"
# `make audit-screenshot` copies the screenshot here (relative to the repository).
SCREENSHOT_DOC = os.environ.get("PREFLIGHT_AUDIT_SCREENSHOT")
PNG = b"\x89PNG\r\n\x1a\n"

# What the page shows, read in the page itself (plain data, so assertions stay in Python).
# The grid draws only the rows in view: it is scrolled from top to bottom and every row it
# drew is kept by its position, then scrolled back. Findings are read from open scopes only.
# Resolves after the next frame is drawn (scroll events are handled before it).
FRAMES = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
READ_PAGE = """(async () => {
  const frames = """ + FRAMES + """;
  const wrap = document.getElementById("gridwrap");
  const rows = new Map();
  for (let top = 0; ; top += Math.max(wrap.clientHeight - 200, 100)) {
    wrap.scrollTop = top;
    await frames();
    for (const row of document.querySelectorAll("#grid tbody tr.row")) {
      rows.set(Number(row.dataset.row), {
        scope: row.querySelector("th.scope").textContent, status: row.dataset.status,
        link: row.querySelector("th.scope a")?.getAttribute("href") || null,
        cells: Object.fromEntries([...row.querySelectorAll("td.c[data-kind]")]
          .filter((td) => td.dataset.kind).map((td) => [td.dataset.kind,
            [td.dataset.status, td.textContent, td.title]]))});
    }
    if (wrap.scrollTop + wrap.clientHeight >= wrap.scrollHeight - 1) break;
  }
  wrap.scrollTop = 0;
  await frames();
  return {
    title: document.title,
    status: document.querySelector("#head h1 .badge").textContent,
    chips: Object.fromEntries([...document.querySelectorAll("#summary [data-count]")]
      .map((c) => [c.dataset.count, c.textContent.trim()])),
    columns: [...document.querySelectorAll("#grid thead tr.kinds th.k")]
      .map((th) => th.textContent),
    positions: [...rows.keys()].sort((a, b) => a - b),
    rows: [...rows.entries()].sort((a, b) => a[0] - b[0]).map((entry) => entry[1]),
    sections: [...document.querySelectorAll("#details details.scope")].map((section) => ({
      scope: section.dataset.scope, status: section.dataset.status,
      open: section.open, selected: section.classList.contains("selected"),
      findings: [...section.querySelectorAll("tr.finding")].map((tr) => ({
        status: tr.dataset.status, code: tr.dataset.code,
        text: tr.querySelector("td:last-child div").textContent,
        fix: tr.querySelector(".fix").textContent}))})),
    registry: [...document.querySelectorAll("#registry tr.finding")].map((tr) => tr.dataset.code),
    drift: document.querySelector("#drift-summary")?.textContent || null,
    changes: [...document.querySelectorAll("#drift tr[data-change]")].map((tr) =>
      [tr.dataset.change, tr.dataset.scope, tr.dataset.kind,
       tr.querySelector("td:last-child").textContent]),
    shown: document.getElementById("shown").textContent,
    hash: location.hash,
    violations: window.cspViolations,
  };
})()"""
# Every Content-Security-Policy violation the page meets, recorded before its scripts run.
WATCH_CSP = """window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.cspViolations.push(`${event.effectiveDirective} ${event.blockedURI}`));"""
OPEN_ALL = 'document.getElementById("open-all").click()'


def read_page(page: Page) -> dict[str, Any]:
    page.to_front()
    value: dict[str, Any] = page.evaluate(READ_PAGE)
    assert value["positions"] == list(range(len(value["rows"]))), "the grid skipped rows"
    assert value["violations"] == [], value["violations"]
    return value


def visible_scopes(state: dict[str, Any]) -> set[str]:
    return {row["scope"] for row in state["rows"]}


def scope_link(label: str) -> str:
    return "#" + urlencode({"scope": label})


def with_drift(report: dict[str, Any]) -> dict[str, Any]:
    """The report as it might have been yesterday: t_299/prod/p_main did not exist yet,
    t_042's graph_store was on firestore, and t_100/prod/p_main failed (a missing route)."""
    baseline = copy.deepcopy(report)
    baseline["scopes"] = [s for s in baseline["scopes"] if s["scope"] != "t_299/prod/p_main"]
    baseline["registry"]["scopes"] = len(baseline["scopes"])
    by_label = {scope["scope"]: scope for scope in baseline["scopes"]}
    by_label["t_042/prod/p_main"]["routes"]["graph_store"]["backend_type"] = "firestore"
    broken = by_label["t_100/prod/p_main"]
    missing = next(f for f in by_label["t_007/prod/p_main"]["findings"]
                   if f["code"] == "route_missing")
    broken["status"] = "fail"
    broken["findings"] = [{**missing, "scope": "t_100/prod/p_main"}]
    return baseline


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with running() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def broken_audit(broken_registry: Registry,
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[Audit, Path]:
    """The 300-tenant registry audited against a baseline that differs in three scopes."""
    workdir = tmp_path_factory.mktemp("audit-html")
    env = broken_registry.env(RAW_BUCKET="engines-raw")
    first = run_audit(env, workdir)
    assert first.report is not None, first.describe()
    baseline = workdir / "baseline.json"
    baseline.write_text(json.dumps(with_drift(first.report)), "utf-8")
    audit = run_audit(env, workdir, "--baseline", str(baseline))
    assert audit.returncode == 1, audit.describe()
    return audit, audit.report_dir / "audit.html"


def opened(browser: Browser, path: Path, fragment: str = "") -> Page:
    page = browser.page()
    page.call("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    page.before_scripts(WATCH_CSP)
    page.open(path.as_uri() + fragment)
    return page


def test_the_grid_and_the_failing_scopes_findings_are_on_the_page(
        browser: Browser, broken_audit: tuple[Audit, Path]) -> None:
    audit, html = broken_audit
    report = audit.report
    assert report is not None
    page = opened(browser, html)
    state = read_page(page)
    assert page.requests() == [html.as_uri()], "the report asked the network for something"
    # The findings wait until asked for: the scopes are listed, none is open.
    assert state["sections"] and not any(s["open"] or s["findings"] for s in state["sections"])
    page.evaluate(OPEN_ALL)
    state = read_page(page)
    assert state["title"].startswith("preflight audit FAIL (exit 1) in "), state["title"]
    assert state["status"] == "fail"
    assert state["chips"] == {"fail": "fail 5", "warn": "warn 7", "pass": "pass 294"}
    assert state["columns"] == [k["name"] for k in report["kinds"]] + ["unknown kinds"]

    # One row per scope, failing ones first, each linking to its findings.
    rows = {row["scope"]: row for row in state["rows"]}
    assert len(state["rows"]) == 306 and set(rows) == {s["scope"] for s in report["scopes"]}
    assert [row["status"] for row in state["rows"][:5]] == ["fail"] * 5
    assert {row["scope"] for row in state["rows"][:5]} == set(BROKEN)
    assert {s for s, row in rows.items() if row["status"] == "warn"} == set(WARNED)
    # Every cell is the report's own status for that kind at that scope.
    for scope in report["scopes"]:
        cells = rows[scope["scope"]]["cells"]
        assert {kind: cell[0] for kind, cell in cells.items()} == {
            k["name"]: scope["routes"][k["name"]]["status"] if k["name"] in scope["routes"]
            else "none" for k in report["kinds"]}, scope["scope"]
    # The seeded defects, cell by cell.
    t007 = rows["t_007/prod/p_main"]["cells"]
    assert [t007[kind][:2] for kind in ("object_store", "notes_store", "chat_store",
                                        "flow_store")] == [
        ["fail", "✗"], ["fail", "✗"], ["fail", "✗"], ["pass", "✓"]]
    assert "route_missing: no route" in t007["object_store"][2]
    assert "backend_type: redis" in t007["notes_store"][2]
    assert "cosmos needs config key `endpoint`" in t007["chat_store"][2]
    startup = rows["t_system/dev"]["cells"]
    assert {kind for kind, cell in startup.items() if cell[0] == "fail"} == {
        "kpi", "chat_bus", "budget", "maybes", "timeline", "feature_flags", "event_stream"}
    assert {kind for kind, cell in rows["t_299/prod/p_main"]["cells"].items()
            if cell[0] == "fail"} == {"canvas_command_store", "component_registry"}
    assert rows["t_040/prod/p_main"]["cells"]["kpi"][:2] == ["unread", "·"]
    healthy = rows["t_150/prod/p_main"]
    assert healthy["link"] is None
    assert {kind: cell[0] for kind, cell in healthy["cells"].items()
            if cell[0] != "none"} == dict.fromkeys(SERVING_KINDS, "pass")

    # Per failing or warning scope, its findings with their fixes; passing scopes have none.
    sections = {section["scope"]: section for section in state["sections"]}
    assert set(sections) == set(BROKEN) | set(WARNED)
    # WARNED's kinds are str or None: mypy infers its values as `object`.
    seeded: dict[str, Sequence[tuple[str, str, str | None]]] = {
        **BROKEN, **WARNED}
    for label, expected in seeded.items():
        section = sections[label]
        assert section["open"], label
        assert rows[label]["link"] == scope_link(label)
        assert sorted((f["status"], f["code"]) for f in section["findings"]) == sorted(
            (status, code) for status, code, _ in expected), label
        assert all(f["fix"] for f in section["findings"]), label
    t042 = {f["code"]: f for f in sections["t_042/prod/p_main"]["findings"]}
    assert t042["backend_mode_only"]["text"] == (
        "graph_store at t_042/prod/p_main (route `graph_store-t_042-prod-p_main`): filesystem "
        "works only for requests in mode lab; saas, enterprise requests fail")
    assert t042["route_invalid"]["status"] == "fail"
    assert state["registry"] == ["document_unplaced"]
    assert SECRET not in page.evaluate("document.documentElement.outerHTML")
    assert SECRET not in html.read_text("utf-8")

    # The drift against the baseline: exactly the changes the JSON report lists.
    assert state["drift"] is not None and state["drift"].startswith("since ")
    assert "1 fixed" in state["drift"] and "1 backend changed" in state["drift"]
    assert len(state["changes"]) == len(report["drift"]["changes"])
    assert ["fixed", "t_100/prod/p_main", "", "fail → pass"] in state["changes"]
    assert ["backend_changed", "t_042/prod/p_main", "graph_store",
            "firestore → filesystem"] in state["changes"]
    assert ["scope_added", "t_299/prod/p_main", "", "- → fail"] in state["changes"]

    # The screenshot: the failing and warning scopes, as an operator opens the report.
    page.evaluate('location.hash = "#status=fail,warn"')
    page.wait_for('document.getElementById("shown").textContent.startsWith("12 of")')
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# test results\n*\n")
    page.screenshot(SCREENSHOT, full_page=False)
    assert SCREENSHOT.read_bytes().startswith(PNG) and SCREENSHOT.stat().st_size > 20_000
    if SCREENSHOT_DOC:
        shutil.copyfile(SCREENSHOT, REPO / SCREENSHOT_DOC)


def test_the_filters_hide_and_show_scopes_and_the_view_is_a_link(
        browser: Browser, broken_audit: tuple[Audit, Path]) -> None:
    _, html = broken_audit
    page = opened(browser, html)
    state = read_page(page)
    assert len(visible_scopes(state)) == 306 and state["shown"] == "306 of 306 scopes shown"

    page.evaluate('document.getElementById("f-pass").click()')
    state = read_page(page)
    assert visible_scopes(state) == set(BROKEN) | set(WARNED)
    assert state["hash"] == "#status=fail%2Cwarn"
    assert state["shown"] == "12 of 306 scopes shown"

    page.evaluate('document.getElementById("f-warn").click()')
    state = read_page(page)
    assert visible_scopes(state) == set(BROKEN)
    assert {s["scope"] for s in state["sections"]} == set(BROKEN)

    # A scope's link in the grid opens its findings, in view, and keeps the filters.
    page.evaluate('document.querySelector(\'#grid a[href*="t_042"]\').click()')
    page.wait_for('!!document.querySelector("#details details.selected")')
    state = read_page(page)
    (selected,) = [s for s in state["sections"] if s["selected"]]
    assert selected["scope"] == "t_042/prod/p_main" and selected["open"]
    assert {f["code"] for f in selected["findings"]} == {code for _, code, _ in
                                                       BROKEN["t_042/prod/p_main"]}
    assert state["hash"] == "#status=fail&" + scope_link("t_042/prod/p_main")[1:]
    assert page.evaluate("""(() => { const box = document.querySelector("details.selected")
      .getBoundingClientRect(); return box.top >= 0 && box.top < innerHeight; })()""") is True
    linked = opened(browser, html, state["hash"])
    assert [s["scope"] for s in read_page(linked)["sections"] if s["selected"] and s["open"]] \
        == ["t_042/prod/p_main"]

    page.evaluate("""(() => { const box = document.getElementById("f-tenant");
      box.value = "t_04"; box.dispatchEvent(new Event("input")); })()""")
    state = read_page(page)
    assert visible_scopes(state) == {"t_042/prod/p_main"}
    assert "tenant=t_04" in state["hash"]

    page.evaluate("""(() => { document.getElementById("f-pass").click();
      document.getElementById("f-warn").click();
      const box = document.getElementById("f-tenant"); box.value = "";
      box.dispatchEvent(new Event("input"));
      const env = document.getElementById("f-env"); env.value = "staging";
      env.dispatchEvent(new Event("change")); })()""")
    state = read_page(page)
    assert visible_scopes(state) == {"t_123/staging/p_web"}
    assert state["hash"] == "#env=staging"

    # A shared link opens with its filters applied.
    linked = opened(browser, html, "#status=fail&env=prod&tenant=t_2")
    state = read_page(linked)
    assert visible_scopes(state) == {"t_299/prod/p_main"}
    assert linked.evaluate('document.getElementById("f-pass").checked') is False
    assert linked.evaluate('document.getElementById("f-env").value') == "prod"


HOSTILE = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned=2">'


def test_registry_values_are_shown_as_text_never_run(browser: Browser, stack: Stack) -> None:
    """A tenant id that is markup stays text: no script runs, nothing is fetched."""
    documents = audit_fleet.fleet(1)
    documents["notes_store-hostile"] = audit_fleet.serving_route(
        "notes_store", HOSTILE, backend="memory")[1]
    stack.seed(documents)
    audit = run_audit(audit_fleet.env(stack.firestore.address, stack.project, stack.home),
                      stack.tmp_path)
    assert audit.returncode == 1, audit.describe()
    html = audit.report_dir / "audit.html"
    assert "</script><script>window.pwned" not in html.read_text("utf-8")
    page = opened(browser, html)
    state = read_page(page)
    assert page.evaluate("window.pwned === undefined") is True
    assert page.evaluate('document.querySelectorAll("img").length') == 0
    assert page.requests() == [html.as_uri()]
    label = f"{HOSTILE}/prod/p_main"
    (row,) = [row for row in state["rows"] if row["scope"] == label]
    assert row["status"] == "fail"
    assert row["cells"]["notes_store"][0] == "fail"
    assert row["link"] == scope_link(label)
    page.evaluate(OPEN_ALL)
    (section,) = [s for s in read_page(page)["sections"] if s["scope"] == label]
    assert {f["code"] for f in section["findings"]} == {"backend_unsupported", "route_missing"}
    assert any(f["text"].startswith(f"notes_store at {label}") for f in section["findings"])
    # Its link names it in the fragment, and following it opens the same scope.
    page.evaluate("""[...document.querySelectorAll("#grid tr.row")]
      .find((row) => row.dataset.scope.startsWith("</script>")).querySelector("a").click()""")
    page.wait_for('!!document.querySelector("#details details.selected")')
    (selected,) = [s for s in read_page(page)["sections"] if s["selected"]]
    assert selected["scope"] == label
    assert page.evaluate("window.pwned === undefined") is True


def test_a_report_that_could_not_read_the_registry_says_so_on_the_page(
        browser: Browser, stack: Stack) -> None:
    from tests import harness

    env = audit_fleet.env(f"127.0.0.1:{harness.closed_port()}", stack.project, stack.home)
    audit = run_audit(env, stack.tmp_path, "--timeout", "3", "--attempt-timeout", "1",
                      timeout=60)
    assert audit.returncode == 3, audit.describe()
    page = opened(browser, audit.report_dir / "audit.html")
    state = read_page(page)
    assert state["status"] == "error"
    assert state["rows"] == [] and state["sections"] == []
    error = page.evaluate('document.getElementById("read-error").textContent')
    assert error.startswith("Could not read the registry: deadline exceeded"), error


def inline(text: str, tag: str) -> str:
    """The text of the page's one attribute-less <tag> element, exactly as the browser hashes it."""
    found: str
    (found,) = re.findall(f"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
    return found


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_policy_runs_the_reports_own_script_and_styles_and_nothing_else(
        browser: Browser, broken_audit: tuple[Audit, Path], tmp_path: Path) -> None:
    _, html = broken_audit
    text = html.read_text("utf-8")
    (policy,) = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', text)
    assert "unsafe-inline" not in text.split("</head>")[0]
    assert dict(part.strip().split(" ", 1) for part in policy.split(";")) == {
        "default-src": "'none'", "style-src": sha256_source(inline(text, "style")),
        "script-src": sha256_source(inline(text, "script")), "base-uri": "'none'",
        "form-action": "'none'"}
    # The script ran (the page drew itself) and the styles apply, with no violation.
    page = opened(browser, html)
    state = read_page(page)
    assert state["chips"]["fail"] == "fail 5" and state["violations"] == []
    assert page.evaluate('getComputedStyle(document.querySelector("#head .badge"))'
                         ".backgroundColor") == "rgb(207, 34, 46)"

    # Inline code the policy does not name is refused: a script, and a style attribute.
    tampered = tmp_path / "tampered.html"
    tampered.write_text(text.replace("</body>", '<script>window.injected = 1</script>'
                                     '<p id="styled" style="color: rgb(1, 2, 3)">x</p></body>'),
                        "utf-8")
    page = opened(browser, tampered)
    assert page.evaluate("window.injected === undefined") is True
    assert page.evaluate('getComputedStyle(document.getElementById("styled")).color') \
        != "rgb(1, 2, 3)"
    assert sorted(v.split()[0] for v in page.evaluate("window.cspViolations")) == [
        "script-src-elem", "style-src-attr"]


FLEET = 5_000
SMALL_FLEET = 200
FLEET_ELEMENTS = 4_000  # a screenful of rows, a page of scopes, the chrome around them
FAILING_BYTES_PER_SCOPE = 1_500  # 13 findings, 14 cells
HEALTHY_BYTES_PER_SCOPE = 1_000  # 14 cells, each with its document id
DOM_COUNT = """(() => ({elements: document.getElementsByTagName("*").length,
  cells: document.querySelectorAll("#grid td.c").length,
  findings: document.querySelectorAll("tr.finding").length,
  sections: document.querySelectorAll("#details details.scope").length}))()"""


def written(path: Path, scopes: int, *, failing: bool) -> Path:
    path.write_text("".join(html_chunks(fleet_report(scopes, failing=failing))), "utf-8")
    return path


def test_at_fleet_size_the_page_holds_what_is_in_view_not_every_scope(
        browser: Browser, tmp_path: Path) -> None:
    """The initial page does not grow with the scopes, and neither does the file per scope.
    (How long it takes to draw depends on the machine: the bench measures it.)"""
    small = written(tmp_path / "small.html", SMALL_FLEET, failing=True)
    large = written(tmp_path / "large.html", FLEET, failing=True)
    healthy = written(tmp_path / "healthy.html", FLEET, failing=False)
    counts = {path.stem: opened(browser, path).evaluate(DOM_COUNT)
              for path in (small, large, healthy)}
    assert counts["large"] == counts["small"], counts
    assert counts["large"]["elements"] < FLEET_ELEMENTS, counts
    assert counts["large"]["findings"] == 0 and counts["large"]["sections"] == 50, counts
    assert counts["healthy"]["elements"] < FLEET_ELEMENTS, counts
    assert counts["healthy"]["cells"] < 100 * 32, counts
    failing_bytes = (large.stat().st_size - small.stat().st_size) / (FLEET - SMALL_FLEET)
    assert failing_bytes < FAILING_BYTES_PER_SCOPE, failing_bytes
    assert healthy.stat().st_size / FLEET < HEALTHY_BYTES_PER_SCOPE, healthy.stat().st_size

    # Every scope is still there: the last row at the grid's bottom, a scope by its name,
    # and a link to a scope deep in the list opens it on its page of the findings.
    page = opened(browser, large)
    page.to_front()
    last = page.evaluate("""(async () => {
      const wrap = document.getElementById("gridwrap");
      wrap.scrollTop = wrap.scrollHeight;
      await (""" + FRAMES + """)();
      const rows = [...document.querySelectorAll("#grid tbody tr.row")];
      return [Number(rows.at(-1).dataset.row), rows.at(-1).dataset.scope];
    })()""")
    assert last == [FLEET, "t_system/dev"]
    page.evaluate("""(() => { const box = document.getElementById("f-tenant");
      box.value = "t_04321"; box.dispatchEvent(new Event("input")); })()""")
    state = read_page(page)
    assert [row["scope"] for row in state["rows"]] == ["t_04321/prod/p_main"]
    assert state["shown"] == f"1 of {FLEET + 1:,} scopes shown"
    linked = opened(browser, large, scope_link("t_04321/prod/p_main"))
    assert linked.evaluate("""(() => { const section = document.querySelector("details.selected");
      return [section.dataset.scope, section.open, section.querySelectorAll("tr.finding").length];
    })()""") == ["t_04321/prod/p_main", True, MISSING_PER_FAILING_SCOPE]
    assert linked.evaluate('document.querySelector("#details .pager .turn .muted").textContent') \
        == f"4,301\u20134,350 of {FLEET:,}"


SECTION_FINDINGS = """(() => [...document.querySelector("details.selected")
  .querySelectorAll("tr.finding")].map((row) => row.textContent))()"""


def page_data(path: Path) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="audit-data">(.*?)</script>',
                      path.read_text("utf-8"), re.DOTALL)
    assert found is not None
    data: dict[str, Any] = json.loads(found[1])
    return data


def test_past_the_string_tables_cap_a_string_is_written_where_it_is_used(
        browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The merge holds the page's string table, not every distinct message of the fleet:
    past MAX_STRINGS a string is written inline, and the page reads it the same."""
    full = written(tmp_path / "full.html", SMALL_FLEET, failing=True)
    monkeypatch.setattr(html, "MAX_STRINGS", 8)
    capped = written(tmp_path / "capped.html", SMALL_FLEET, failing=True)
    data = page_data(capped)
    assert len(data["strings"]) == 8 < len(page_data(full)["strings"])
    assert any(isinstance(finding[3], str) for row in data["scopes"] for finding in row[6])
    label = "t_00123/prod/p_main"
    seen = [opened(browser, path, scope_link(label)).evaluate(SECTION_FINDINGS)
            for path in (full, capped)]
    assert seen[0] == seen[1] and len(seen[0]) == MISSING_PER_FAILING_SCOPE, seen
    states = [read_page(opened(browser, path)) for path in (full, capped)]
    assert states[0]["rows"] == states[1]["rows"]

