"""`preflight audit`: read the whole registry once, judge every scope, write the reports.

The read goes through the same runner as `check` — the access checks the command line
passes (gcp.credentials, firestore.access), then one more that streams the collection — so
retries, the deadline, signals and the classification of errors are `check`'s own. Judging
happens after the read, outside any deadline: it is pure and bounded by the facts kept.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from preflight import PROCESS_START
from preflight.audit import drift, html, judge, render
from preflight.audit.facts import Facts
from preflight.audit.model import AuditReport, Drift, ReadError
from preflight.config import Config
from preflight.core.errors import ConfigError
from preflight.core.result import Outcome, Status
from preflight.judge import firestore
from preflight.observe.collection import CollectionScan
from preflight.observe.errors import Refused
from preflight.report.text import write_atomically
from preflight.run.check import Check
from preflight.run.context import Context
from preflight.run.runner import Runner
from preflight.run.session import wall_clock_of

FORMATS = ("text", "json", "junit", "html")
DEFAULT_TIMEOUT = 600.0
REPORT_FILES = {"json": "audit.json", "text": "audit.txt", "junit": "audit.junit.xml",
                "html": "audit.html"}
LOGGED_SCOPES = 100  # scopes logged one event each; the reports hold them all


class RegistryScan(Check):
    """registry.audit: every document of the routing collection, handed to the facts."""

    name = "registry.audit"
    needs = ("firestore.access",)

    def __init__(self, facts: Facts, scan: CollectionScan, log: Any) -> None:
        self.facts = facts
        self.scan = scan
        self.log = log

    def unconfigured(self, config: Config) -> Outcome | None:
        return firestore.judge_no_project(config)

    def attempt_budget(self, config: Config) -> float:
        """Pages are many bounded calls; only the deadline bounds the read of them all."""
        return config.timeout

    def _page(self, scan: CollectionScan) -> None:
        self.log.debug("registry page read", pages=scan.calls, documents=scan.documents,
                       last_document=scan.last_id)

    def attempt(self, ctx: Context) -> Outcome:
        if self.scan.documents:
            self.log.info("resuming the registry read after the last document read",
                          documents=self.scan.documents, after=self.scan.last_id)
        try:
            self.scan.read(ctx.firestore_client(), ctx.call_timeout, self.facts.add, self._page)
        except Refused as refusal:
            return firestore.judge_refusal(refusal, ctx.config, ctx.principal())
        return Outcome(Status.PASS, f"read {self.scan.documents} documents in "
                       f"{self.scan.calls} page(s)")


def baseline_argument(path: str | None, where: str) -> tuple[dict[str, Any] | None, str | None]:
    """The baseline report, or a note why there is none; ConfigError (exit 2) if unusable.

    A file that does not exist yet is not an error — the first scheduled run has no earlier
    report — but its folder must exist: a typo there would never find a report.
    """
    if path is None or path == "":
        return None, None
    file = Path(path)
    if not file.exists():
        if not file.parent.is_dir():
            raise ConfigError(where, f"a file in an existing folder ({file.parent} does not "
                              "exist)", path)
        return None, f"no baseline yet: {path} does not exist (no drift is shown)"
    try:
        return drift.load_baseline(file), None
    except drift.BaselineError as error:
        raise ConfigError(where, f"an earlier audit's JSON report: {error}", path) from None


def report_dir_argument(path: str | None, where: str) -> Path | None:
    if path is None or path == "":
        return None
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(where, "an existing folder", path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(where, "a writable folder", path)
    return folder


def read_error(results: Iterable[Any]) -> ReadError | None:
    """The first check that kept the registry from being read, as the report states it."""
    for result in results:
        if result.status in (Status.FAIL, Status.ERROR):
            outcome = result.outcome
            return ReadError(result.name, outcome.message, outcome.remediation,
                             result.status is Status.ERROR and outcome.transient)
    return None


def audit(config: Config, access: Sequence[Check], *, log: Any, cancel: threading.Event,
          interrupted: Callable[[], int | None], baseline: dict[str, Any] | None,
          baseline_file: str | None, baseline_note: str | None) -> AuditReport:
    """`access`: the checks that must pass before the registry can be read (credentials,
    access), run by the same runner as the read."""
    profile = config.profile
    facts = Facts(profile)
    scan = CollectionScan(config.collection)
    checks = [*access, RegistryScan(facts, scan, log)]
    runner = Runner(config, checks, deadline=PROCESS_START + config.timeout, cancel=cancel,
                    log=log)
    results = runner.run()
    error = read_error(results)
    target = {"project": config.project, "database": config.database,
              "collection": config.collection, "profile": profile.name,
              "emulator": config.emulator_host is not None}
    columns = judge.kind_columns(profile)
    signal = interrupted()
    if error is not None or signal is not None:
        return AuditReport(wall_clock_of(PROCESS_START), datetime.now(UTC), target, columns,
                           documents=scan.documents, pages=scan.calls, resumed=scan.resumed,
                           error=error, interrupted_by=signal)
    judging = judge.Judge(profile, config.disallowed_for, config.engines_env)
    registry = tuple(judge.registry_findings(facts))
    scopes = tuple(judge.judge_all(facts, judging))
    counts = {name: count for name, count in (("near_misses_not_listed", facts.near_dropped),
                                              ("unplaced_not_listed", facts.unplaced_dropped))
              if count}
    compared: Drift | None = None
    if baseline is not None:
        compared = drift.compare(baseline, scopes, baseline_file)
    elif baseline_note is not None:
        compared = Drift(None, (), baseline_note)
    return AuditReport(wall_clock_of(PROCESS_START), datetime.now(UTC), target, columns,
                       scopes, registry, documents=scan.documents, pages=scan.calls,
                       resumed=scan.resumed, drift=compared, counts=counts)


def chunks_for(report: AuditReport, form: str, *, color: bool = False) -> Iterator[str]:
    if form == "json":
        return report.json_chunks()
    if form == "junit":
        return render.junit_chunks(report)
    if form == "html":
        return html.html_chunks(report)
    return render.text_chunks(report, color=color)


def emit(report: AuditReport, config: Config, *, log: Any, scrub: Callable[[str], str],
         report_dir: Path | None) -> None:
    """Logs (a summary, one event per scope with findings), the report files, stdout."""
    level = {"fail": "error", "error": "error", "warn": "warning"}.get(report.status, "info")
    summary = report.head()
    getattr(log, level)("audit finished", status=report.status,
                        exit_code=int(report.exit_code), scopes=summary["summary"]["scopes"],
                        documents=report.documents, pages=report.pages,
                        duration_ms=report.duration_ms, error=summary["error"],
                        drift=None if report.drift is None else report.drift.summary())
    logged = 0
    for scope in report.scopes:
        if scope.status == "pass" or logged >= LOGGED_SCOPES:
            continue
        logged += 1
        getattr(log, "error" if scope.status == "fail" else "warning")(
            "scope " + ("fails" if scope.status == "fail" else "warns"), scope=scope.label,
            role=scope.role, findings=[f"{i.finding.code}:{i.kind}" if i.kind
                                       else i.finding.code for i in scope.findings])
    if report_dir is not None:
        for form, name in REPORT_FILES.items():
            try:
                write_atomically(report_dir / name,
                                 (scrub(chunk) for chunk in chunks_for(report, form)))
            except OSError as error:
                log.error("could not write the report", path=str(report_dir / name),
                          error=error.strerror)
    color = config.color and config.format == "text" and sys.stdout.isatty()
    try:
        for chunk in chunks_for(report, config.format, color=color):
            sys.stdout.write(scrub(chunk))
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass
