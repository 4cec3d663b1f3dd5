"""The audit as text and JUnit, rendered piece by piece from the one AuditReport."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace

from preflight.audit.model import AuditReport, Change, Item, ScopeResult
from preflight.core.findings import TAG
from preflight.report import junit
from preflight.report.text import paint

SHOWN_SCOPES = 50  # scopes a text summary details; the HTML and JSON hold them all
SHOWN_CHANGES = 100
MARK = {"fail": "✗", "warn": "!"}
COLOR = {"fail": "31", "warn": "33", "pass": "32", "error": "31"}
CHANGE_WORDS = {
    "new_failure": "new failure", "fixed": "fixed", "scope_added": "scope added",
    "scope_removed": "scope removed", "backend_changed": "backend changed",
    "route_added": "route added", "route_deleted": "route deleted",
}


def headline(report: AuditReport) -> str:
    seconds = f"{report.duration_ms / 1000:.2f}s"
    code = int(report.exit_code)
    if report.interrupted_by is not None:
        return f"preflight audit INTERRUPTED (exit {code}) after {seconds}"
    if report.error is not None:
        return (f"preflight audit ERROR (exit {code}) after {seconds}: could not read the "
                f"registry ({report.error.check}: {report.error.message})")
    counts = report.scope_counts()
    tally = ", ".join(f"{counts[status]:,} {status}" for status in ("fail", "warn", "pass")
                      if counts[status])
    return (f"preflight audit {report.status.upper()} (exit {code}) in {seconds}: "
            f"{report.scope_total():,} scopes of {report.tenants():,} tenants ({tally or 'none'}); "
            f"{report.documents:,} documents in {report.pages:,} pages")


def tag(item: Item) -> str:
    return TAG[item.finding.effect] if item.status == "fail" else "nothing breaks yet"


def finding_lines(item: Item, color: bool) -> list[str]:
    finding = item.finding
    mark = paint(MARK[item.status], COLOR[item.status], color)
    return [f"  {mark} {finding.code}: {finding.sentence()} [{tag(item)}]",
            f"      fix: {finding.fix}"]


def scope_lines(scope: ScopeResult, color: bool) -> list[str]:
    title = paint(f"{scope.status} {scope.label}", COLOR[scope.status], color)
    lines = [f"{title} ({scope.role}, {scope.documents} document(s))"]
    for item in scope.findings:
        lines += finding_lines(item, color)
    return lines


def change_line(change: Change) -> str:
    words = CHANGE_WORDS[change.change]
    what = f" {change.kind}" if change.kind else ""
    if change.change == "backend_changed":
        detail = f": {change.before} -> {change.after}"
    elif change.change in ("route_added", "route_deleted"):
        detail = ": " + ", ".join(change.documents)
    elif change.change == "new_failure":
        detail = ": " + ", ".join(change.codes)
    else:
        detail = f" ({change.before or '-'} -> {change.after or '-'})"
    return f"  {words} {change.scope}{what}{detail}"


def drift_lines(report: AuditReport) -> list[str]:
    drift = report.drift
    if drift is None:
        return []
    if drift.baseline is None:
        return [f"drift: {drift.note}"]
    summary = drift.summary()
    tally = ", ".join(f"{count} {CHANGE_WORDS[name]}" for name, count in summary.items())
    lines = [f"drift since {drift.baseline['started_at']}"
             f"{' (' + drift.baseline['file'] + ')' if drift.baseline.get('file') else ''}: "
             f"{tally or 'no change'}"]
    lines += [change_line(change) for change in drift.changes[:SHOWN_CHANGES]]
    if len(drift.changes) > SHOWN_CHANGES:
        lines.append(f"  … and {len(drift.changes) - SHOWN_CHANGES} more (see the JSON report)")
    return lines


def text_chunks(report: AuditReport, *, color: bool = False) -> Iterator[str]:
    """Failing scopes first, then warnings, each finding with its fix; passing ones counted."""
    status = "fail" if report.status in ("fail", "error") else report.status
    yield paint(headline(report), "1;" + COLOR.get(status, "32"), color) + "\n"
    target = report.target
    yield (f"registry {target['collection']} in project {target['project']}, database "
           f"{target['database']}; profile {target['profile']}\n")
    if report.error is not None and report.error.remediation:
        yield f"  fix: {report.error.remediation}\n"
    shown = 0
    for wanted in ("fail", "warn"):  # one walk each, holding no scope (a merge streams them)
        for scope in report.scopes:
            if shown == SHOWN_SCOPES:
                break
            if scope.status == wanted:
                shown += 1
                yield "\n".join(scope_lines(scope, color)) + "\n"
    counts = report.scope_counts()
    hidden = counts["fail"] + counts["warn"] - shown
    if hidden > 0:
        yield f"… and {hidden} more scope(s) with findings: see the HTML or JSON report\n"
    if report.registry_findings:
        yield f"registry: {len(report.registry_findings)} document(s) belong to no scope\n"
        for item in report.registry_findings[:SHOWN_SCOPES]:
            yield "\n".join(finding_lines(item, color)) + "\n"
    for line in drift_lines(report):
        yield line + "\n"





def _body(items: Sequence[Item]) -> str:
    return "\n".join(f"{item.status} {item.finding.code}: {item.finding.sentence()}\n"
                     f"  fix: {item.finding.fix}" for item in items)


def junit_chunks(report: AuditReport) -> Iterator[str]:
    """One testcase per scope (GitLab, Jenkins); registry-wide findings as one more."""
    error = 1 if report.error is not None or report.interrupted_by is not None else 0
    extra = 1 if report.registry_findings or error else 0
    totals = junit.Totals(report.scope_total() + extra, report.scope_counts()["fail"], error, 0,
                          report.duration_ms / 1000)
    cases = itertools.chain((_scope_case(scope) for scope in report.scopes),
                            [_registry_case(report)] if extra else [])
    return junit.chunks("preflight audit", totals, report.started_at, cases,
                        "\n".join(drift_lines(report)))


def _scope_case(scope: ScopeResult) -> junit.Case:
    case = junit.Case(scope.label, f"preflight.audit.{scope.role}")
    if scope.status == "fail":
        fails = [item for item in scope.findings if item.status == "fail"]
        message = f"{len(fails)} finding(s): " + "; ".join(
            item.finding.code for item in fails[:5])
        return replace(case, result="failure", message=message, kind="fail",
                       body=_body(scope.findings))
    if scope.status == "warn":
        return replace(case, output="warning: " + _body(scope.findings))
    return case


def _registry_case(report: AuditReport) -> junit.Case:
    case = junit.Case("registry", "preflight.audit.registry",
                      output=_body(report.registry_findings))
    if report.error is not None:
        body = report.error.message + (f"\nfix: {report.error.remediation}"
                                       if report.error.remediation else "")
        return replace(case, result="error", message=report.error.message,
                       kind="transient" if report.error.transient else "error", body=body)
    if report.interrupted_by is not None:
        return replace(case, result="error", kind="interrupted",
                       message=f"interrupted by signal {report.interrupted_by}")
    return case
