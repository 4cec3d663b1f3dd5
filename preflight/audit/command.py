"""`preflight audit`: read the registry in tenant order, judge each scope as it completes,
write the reports; or one shard of it, written as a part; or the parts merged.

The read goes through the same runner as `check` — the access checks the command line
passes (gcp.credentials, firestore.access), then one more that reads the registry — so
retries, the deadline, signals and the classification of errors are `check`'s own. The read
is ordered by tenant_id, so each tenant's scopes are judged as soon as the next tenant
begins, inside the read: what is held is one tenant's facts and the results so far (a
shard writes its results to its part instead of holding them).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from preflight import PROCESS_START, __version__
from preflight.audit import drift, html, judge, part, render
from preflight.audit.model import AuditReport, Drift, ReadError, ScopeResult, Tally
from preflight.audit.shards import Shard, Splitter
from preflight.config import Config
from preflight.core.errors import ConfigError
from preflight.core.result import ExitCode, Outcome, Status
from preflight.core.verdict import rfc3339
from preflight.judge import firestore
from preflight.observe.collection import CollectionScan, TenantIndex, TenantRangeScan
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
UNSHARDED = Shard(0, 1)
# A COUNT over millions of index entries takes longer than a page: its own call bound.
COUNT_CALL = 60.0


class ShardRead:
    """One shard's read: its range of the tenant index, each document handed to the stream;
    for shard 0, then the documents without tenant_id, which no range holds.

    Kept across attempts: what was counted, the range, and both scans' cursors, so a retry
    goes on where the last attempt stopped.
    """

    def __init__(self, collection: str, shard: Shard, stream: judge.TenantStream) -> None:
        self.shard = shard
        self.stream = stream
        self.index = TenantIndex(collection)
        self.splitter: Splitter | None = None
        self.total: int | None = None  # documents in the tenant index
        self.everything: int | None = None  # in the collection: shard 0 counts it
        self.range: tuple[str | None, str | None] | None = None
        self.scan: TenantRangeScan | None = None
        self.stragglers = CollectionScan(collection)
        self.found = 0
        self._collection = collection

    @property
    def missing(self) -> int:
        """Documents without tenant_id, by the counts (0 where not counted)."""
        if self.everything is None or self.total is None:
            return 0
        return max(0, self.everything - self.total)

    def run(self, client: Any, call_timeout: Callable[[], float],
            count_timeout: Callable[[], float],
            on_page: Callable[[CollectionScan], None]) -> None:
        index = self.index.bind(client, call_timeout, count_timeout)
        if self.total is None:
            self.total = index.count(None, None)
        if self.shard.index == 0 and self.everything is None:
            self.everything = index.count_all()
        if self.scan is None:
            if self.splitter is None:
                self.splitter = Splitter(index, self.total, self.shard.count)
            self.range = self.splitter.range_of(self.shard.index)
            self.stream.begin(*self.range)
            self.scan = TenantRangeScan(self._collection, *self.range)
        self.scan.read(client, call_timeout, self.stream.add, on_page)
        if self.missing and not self.stragglers.done:
            self.stragglers.read(client, call_timeout, self._straggler, on_page,
                                 until=lambda: self.found >= self.missing)
        self.stream.finish()

    def _straggler(self, doc_id: str, data: dict[str, Any]) -> None:
        if "tenant_id" not in data:
            self.found += 1
            self.stream.facts.add(doc_id, data)

    @property
    def scans(self) -> tuple[CollectionScan, ...]:
        return (self.scan, self.stragglers) if self.scan is not None else (self.stragglers,)

    def statistics(self) -> dict[str, int]:
        return {"documents": self.stream.facts.documents,
                "read": sum(scan.documents for scan in self.scans),
                "pages": sum(scan.calls for scan in self.scans),
                "resumed": sum(scan.resumed for scan in self.scans)}


class RegistryScan(Check):
    """registry.audit: the shard's documents (all of them, unsharded), judged as read."""

    name = "registry.audit"
    needs = ("firestore.access",)

    def __init__(self, read: ShardRead, log: Any) -> None:
        self.read = read
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
        read = self.read
        if any(scan.documents for scan in read.scans):
            self.log.info("resuming the registry read after the last document read",
                          documents=sum(scan.documents for scan in read.scans),
                          after=next((scan.last_id for scan in reversed(read.scans)
                                      if scan.last_id), None))
        def count_timeout() -> float:
            """A page's bound, or up to COUNT_CALL for a COUNT, never past the deadline."""
            remaining = ctx.deadline - time.monotonic()
            return max(ctx.call_timeout(), min(COUNT_CALL, remaining))

        try:
            read.run(ctx.firestore_client(), ctx.call_timeout, count_timeout, self._page)
        except Refused as refusal:
            return firestore.judge_refusal(refusal, ctx.config, ctx.principal())
        figures = read.statistics()
        return Outcome(Status.PASS, f"read {figures['read']} documents in "
                       f"{figures['pages']} page(s)")


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


def target_of(config: Config) -> dict[str, Any]:
    return {"project": config.project, "database": config.database,
            "collection": config.collection, "profile": config.profile.name,
            "emulator": config.emulator_host is not None}


class Baseline:
    """An earlier report to compare with (or why there is none)."""

    def __init__(self, document: dict[str, Any] | None, file: str | None,
                 note: str | None) -> None:
        self.document, self.file, self.note = document, file, note

    def drift(self, scopes: Iterable[ScopeResult]) -> Drift | None:
        if self.document is not None:
            return drift.compare(self.document, list(scopes), self.file)
        return None if self.note is None else Drift(None, (), self.note)


def _read(config: Config, access: Sequence[Check], read: ShardRead, *, log: Any,
          cancel: threading.Event) -> ReadError | None:
    runner = Runner(config, [*access, RegistryScan(read, log)],
                    deadline=PROCESS_START + config.timeout, cancel=cancel, log=log)
    return read_error(runner.run())


def audit(config: Config, access: Sequence[Check], *, log: Any, cancel: threading.Event,
          interrupted: Callable[[], int | None], baseline: Baseline) -> AuditReport:
    """The whole registry. `access`: the checks that must pass before it can be read
    (credentials, access), run by the same runner as the read."""
    profile = config.profile
    scopes: list[ScopeResult] = []
    stream = judge.TenantStream(judge.Judge(profile, config.disallowed_for, config.engines_env),
                                scopes.append)
    read = ShardRead(config.collection, UNSHARDED, stream)
    error = _read(config, access, read, log=log, cancel=cancel)
    figures = read.statistics()
    started = wall_clock_of(PROCESS_START)
    columns = judge.kind_columns(profile)
    signal = interrupted()
    if error is not None or signal is not None:
        return AuditReport(started, datetime.now(UTC), target_of(config), columns,
                           error=error, interrupted_by=signal, documents=figures["documents"],
                           pages=figures["pages"], resumed=figures["resumed"])
    facts = stream.facts
    counts = {"near_misses_not_listed": facts.near_dropped,
              "unplaced_not_listed": facts.unplaced_total - len(facts.unplaced)}
    return AuditReport(started, datetime.now(UTC), target_of(config), columns,
                       tuple(scopes), tuple(judge.registry_findings(facts.unplaced)),
                       drift=baseline.drift(scopes), tally=stream.tally,
                       counts={name: count for name, count in counts.items() if count},
                       documents=figures["documents"], pages=figures["pages"],
                       resumed=figures["resumed"])


def shard_head(config: Config, shard: Shard, run: str | None) -> dict[str, Any]:
    return {"run": run, "shard": {"index": shard.index, "count": shard.count},
            "preflight_version": __version__,
            "started_at": rfc3339(wall_clock_of(PROCESS_START)),
            "target": target_of(config),
            "judging": part.judging(config.profile, config.engines_env),
            "kinds": [{"name": k.name, "at": k.at, "scope": k.scope}
                      for k in judge.kind_columns(config.profile)]}


def audit_shard(config: Config, access: Sequence[Check], shard: Shard, folder: Path,
                run: str | None, *, log: Any, cancel: threading.Event,
                interrupted: Callable[[], int | None],
                scrub: Callable[[str], str]) -> tuple[Path, dict[str, Any], ExitCode]:
    """One shard of the registry, written to its part in `folder` as it is judged."""
    head = shard_head(config, shard, run)
    writer = part.PartWriter(folder, shard, head, scrub)
    stream = judge.TenantStream(judge.Judge(config.profile, config.disallowed_for,
                                            config.engines_env), writer.scope)
    read = ShardRead(config.collection, shard, stream)
    try:
        error = _read(config, access, read, log=log, cancel=cancel)
    except BaseException:
        writer.abandon()
        raise
    signal = interrupted()
    facts = stream.facts
    end: dict[str, Any] = {
        "finished_at": rfc3339(datetime.now(UTC)),
        "range": None if read.range is None else dict(zip(("start", "end"), read.range,
                                                          strict=True)),
        **read.statistics(),
        "index": {"documents": read.total, "collection": read.everything,
                  "aggregations": read.index.aggregations, "counted": read.index.counted,
                  "reads": read.index.reads},
        "stragglers": {"missing": read.missing, "found": read.found} if shard.index == 0
        else None,
        "error": None, "interrupted_by": signal, "tally": stream.tally.to_dict(),
        "near_misses_not_listed": facts.near_dropped,
        "unplaced": [{"document": u.doc_id, "reason": u.reason} for u in facts.unplaced],
        "unplaced_total": facts.unplaced_total}
    if error is None and signal is None:
        return writer.finish(end), end, ExitCode.PASS
    # Nothing judged is kept: the merge reports why this shard could not be read.
    writer.abandon()
    end.update(error=None if error is None else error._asdict(),
               tally=Tally().to_dict(), near_misses_not_listed=0, unplaced=[],
               unplaced_total=0)
    failed = part.PartWriter(folder, shard, head, scrub)
    path = failed.finish(end)
    if signal is not None:
        return path, end, ExitCode(128 + signal)
    assert error is not None
    return path, end, ExitCode.NOT_READY if error.transient else ExitCode.FAIL


def _bound(tenant: str | None, otherwise: str) -> str:
    return otherwise if tenant is None else repr(tenant)


def shard_line(shard: Shard, path: Path, end: dict[str, Any], code: ExitCode) -> str:
    """What a shard says on stdout: its range and tally, or why its part has no scopes."""
    head = f"preflight audit shard {shard.label}"
    if end["interrupted_by"] is not None:
        return f"{head} INTERRUPTED (exit {int(code)}); its part says so: {path}"
    if end["error"] is not None:
        error = end["error"]
        return (f"{head} ERROR (exit {int(code)}): could not read the registry "
                f"({error['check']}: {error['message']}); its part says so: {path}")
    span = end["range"]
    tally = end["tally"]
    statuses = tally["statuses"]
    counts = ", ".join(f"{statuses[s]:,} {s}" for s in ("fail", "warn", "pass") if statuses[s])
    return (f"{head}, tenants from {_bound(span['start'], 'the first')} up to "
            f"{_bound(span['end'], 'the last')}: {end['documents']:,} documents, "
            f"{tally['scopes']:,} scopes of {tally['tenants']:,} tenants ({counts or 'none'}); "
            f"part {path}")


def merge(paths: Sequence[Path], baseline: Baseline) -> AuditReport:
    """The report of the whole registry from the parts of one sharded audit."""
    parts = part.check_together([part.read_part(path) for path in paths])
    report = part.merged(parts)
    if report.error is not None or report.interrupted_by is not None:
        return report
    return dataclasses.replace(report, drift=baseline.drift(report.scopes))


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
        if logged >= LOGGED_SCOPES:
            break
        if scope.status == "pass":
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
