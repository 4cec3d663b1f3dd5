"""`preflight audit --shard I/N` and `preflight audit merge` end to end, on the emulator.

The registry is the broken fleet of tests/audit_fleet.py (a broken scope for every kind of
finding) plus tenant ids of other types and a document without one. Sharded into any
number of parts and merged, it must give the unsharded run's report in every format,
field by field (timings and the page count aside); each document must be read by exactly
one shard's pages; a part that is missing, twice, of another run or cut short must stop
the merge (exit 2), never make a partial report.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest

from preflight.audit import part
from tests import audit_fleet, harness, servers
from tests.audit_fleet import BROKEN, WARNED
from tests.grpc_forwarder import HeaderDroppingForwarder
from tests.test_audit_shards import fleet

pytestmark = pytest.mark.integration

FORMATS = ("audit.json", "audit.txt", "audit.junit.xml", "audit.html")
TIMINGS = [  # what differs between two runs of one registry: when, how long, in how many pages
    (re.compile(r'"(started_at|finished_at)":"[^"]*"'), r'"\1":"T"'),
    (re.compile(r'"(duration_ms|pages)":\d+'), r'"\1":0'),
    (re.compile(r"in \d+\.\d\ds"), "in Ts"),
    (re.compile(r"in [\d,]+ pages"), "in N pages"),
    (re.compile(r'(time|timestamp)="[^"]*"'), r'\1="T"'),
]


class Registry:
    def __init__(self, emulator: str, project: str, documents: Mapping[str, Any],
                 home: Path) -> None:
        self.emulator, self.project, self.documents, self.home = (emulator, project,
                                                                  documents, home)

    def env(self, emulator: str | None = None, **extra: str) -> dict[str, str]:
        return audit_fleet.env(emulator or self.emulator, self.project, self.home,
                               RAW_BUCKET="engines-raw", **extra)


def seeded(server: servers.Server, documents: Mapping[str, Any],
           home: Path) -> Iterator[Registry]:
    project = f"shards-{uuid.uuid4().hex[:12]}"
    audit_fleet.write(server.address, project, documents)
    try:
        yield Registry(server.address, project, documents, home)
    finally:
        servers.clear_firestore(server.address, project)


@pytest.fixture(scope="module")
def registry(firestore_server: servers.Server,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The broken fleet, tenant ids of other types, and a document without one."""
    documents = fleet()
    template = documents["budget-t_system-dev"]
    documents["no-tenant"] = {k: v for k, v in template.items() if k != "tenant_id"}
    yield from seeded(firestore_server, documents, tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def baseline(firestore_server: servers.Server,
             tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An earlier report: a smaller, healthy fleet, so the drift has something to say."""
    home = tmp_path_factory.mktemp("baseline")
    for registry in seeded(firestore_server, audit_fleet.fleet(40), home):
        run = audit_fleet.run_audit(registry.env(), home)
        assert run.returncode == 0, run.describe()
        shutil.copy(run.report_dir / "audit.json", home / "baseline.json")
    return home / "baseline.json"


def normalised(folder: Path) -> dict[str, str]:
    texts = {}
    for name in FORMATS:
        text = (folder / name).read_text("utf-8")
        for pattern, replacement in TIMINGS:
            text = pattern.sub(replacement, text)
        texts[name] = text
    return texts


def fields(folder: Path) -> dict[str, Any]:
    report = audit_fleet.check_report(json.loads((folder / "audit.json").read_text()))
    for name in ("started_at", "finished_at", "duration_ms"):
        del report[name]
    del report["registry"]["pages"]
    return report


def preflight(env: Mapping[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(harness.preflight_argv("audit", *args), env=dict(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


class Done:
    def __init__(self, process: subprocess.Popen[str], timeout: float = 180) -> None:
        self.stdout, self.stderr = process.communicate(timeout=timeout)
        self.returncode = process.returncode
        self.argv = process.args

    def describe(self) -> str:
        return (f"argv: {self.argv!r}\nexit: {self.returncode}\n--- stdout ---\n"
                f"{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}")


def run_shards(registry: Registry, folder: Path, count: int, *args: str,
               emulators: list[str] | None = None) -> list[Done]:
    """Every shard at once, as a job's tasks run; each must write its part and exit 0."""
    folder.mkdir(parents=True, exist_ok=True)
    running = [preflight(registry.env(emulators[i] if emulators else None),
                         "--shard", f"{i}/{count}", "--report-dir", str(folder), *args)
               for i in range(count)]
    done = [Done(process) for process in running]
    for shard in done:
        assert shard.returncode == 0, shard.describe()
    return done


def merge(env: Mapping[str, str], *args: str) -> Done:
    return Done(preflight(env, "merge", *args))


@pytest.fixture(scope="module")
def unsharded(registry: Registry, baseline: Path,
              tmp_path_factory: pytest.TempPathFactory) -> audit_fleet.Audit:
    run = audit_fleet.run_audit(registry.env(), tmp_path_factory.mktemp("unsharded"),
                                "--baseline", str(baseline))
    assert run.returncode == 1, run.describe()
    return run


@pytest.mark.parametrize("count", [1, 2, 3])
def test_merged_shards_are_the_unsharded_report_in_every_format(
        registry: Registry, unsharded: audit_fleet.Audit, baseline: Path, tmp_path: Path,
        count: int) -> None:
    shards = run_shards(registry, tmp_path / "parts", count, "--run", "run-1")
    assert all(line.stdout.startswith(f"preflight audit shard {i}/{count}, tenants from ")
               for i, line in enumerate(shards))
    reports = tmp_path / "reports"
    reports.mkdir()
    merged = merge(registry.env(), str(tmp_path / "parts"), "--report-dir", str(reports),
                   "--baseline", str(baseline))
    assert merged.returncode == unsharded.returncode == 1, merged.describe()
    assert fields(reports) == fields(unsharded.report_dir)
    assert normalised(reports) == normalised(unsharded.report_dir)
    assert merged.stdout.splitlines()[1:] == unsharded.stdout.splitlines()[1:]
    report = fields(reports)
    assert report["drift"]["summary"]  # the baseline is another fleet: there is drift
    assert {s["scope"] for s in report["scopes"] if s["status"] != "pass"} == \
        set(BROKEN) | set(WARNED)
    assert report["registry"]["documents"] == len(registry.documents)
    assert sorted(f["document"] for f in report["registry_findings"]) == sorted(
        ["bool-tenant", "bytes-tenant", "env-as-number", "map-tenant", "no-tenant",
         "null-tenant", "tenant-as-number"])
    # Shard 0 counted one document without tenant_id, and found it by document id.
    first = [json.loads(line) for line in
             (tmp_path / "parts" / f"audit-part-0000-of-{count:04d}.jsonl").open()][-1]["end"]
    assert first["stragglers"] == {"missing": 1, "found": 1}
    assert first["index"]["collection"] == first["index"]["documents"] + 1


class CountingForwarder(HeaderDroppingForwarder):
    """Forwards every call (the owner's token kept) and records what RunQuery returned:
    `pages` for the reads that judge documents (every route field), `probes` for single
    tenant ids, `samples` for firestore.access's read of one document id."""

    def __init__(self, target: str) -> None:
        super().__init__(target, drop=frozenset())
        self.pages: list[str] = []
        self.probes: list[str] = []
        self.samples: list[str] = []

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        method: str = handler_call_details.method
        if not method.endswith("/RunQuery"):
            return super().service(handler_call_details)
        from google.cloud.firestore_v1.types import firestore as wire

        self.calls.append("RunQuery")
        metadata = self._metadata(handler_call_details)

        def stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
            fields = [f.field_path for f in
                      wire.RunQueryRequest.deserialize(request).structured_query.select.fields]
            found = (self.pages if "resource_kind" in fields else self.probes
                     if fields == ["tenant_id"] else self.samples)
            for response in self.upstream.unary_stream(method)(request, metadata=metadata):
                name = wire.RunQueryResponse.deserialize(response).document.name
                if name:
                    found.append(name.rsplit("/", 1)[-1])
                yield response

        return grpc.unary_stream_rpc_method_handler(stream)


@pytest.fixture(scope="module")
def whole_fleet(firestore_server: servers.Server,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The fleet with every document in the tenant index (none without tenant_id)."""
    yield from seeded(firestore_server, fleet(), tmp_path_factory.mktemp("whole"))


def test_each_document_is_read_by_exactly_one_shard(whole_fleet: Registry,
                                                    tmp_path: Path) -> None:
    count = 3
    forwarders = [CountingForwarder(whole_fleet.emulator) for _ in range(count)]
    try:
        run_shards(whole_fleet, tmp_path, count, emulators=[f.address for f in forwarders])
    finally:
        for forwarder in forwarders:
            forwarder.stop()
    read = [set(f.pages) for f in forwarders]
    assert all(len(f.pages) == len(set(f.pages)) for f in forwarders)  # none twice
    assert sum(len(pages) for pages in read) == len(whole_fleet.documents)
    assert set().union(*read) == set(whole_fleet.documents)  # none by no shard
    for number, forwarder in enumerate(forwarders):
        records = [json.loads(line) for line in
                   (tmp_path / f"audit-part-{number:04d}-of-0003.jsonl").open()]
        end = records[-1]["end"]
        # What the part says its range cost is what crossed the wire.
        assert end["read"] == end["documents"] == len(forwarder.pages)
        assert end["index"]["reads"] == len(forwarder.probes)
        assert end["index"]["aggregations"] == forwarder.calls.count("RunAggregationQuery")
        assert set(forwarder.calls) <= {"RunQuery", "RunAggregationQuery"}  # read-only
        assert len(forwarder.samples) <= 1
        assert end["stragglers"] == ({"missing": 0, "found": 0} if number == 0 else None)
    assert min(map(len, read)) > len(whole_fleet.documents) / count * 0.8


# --------------------------------------------------------------------------- the platforms

def test_a_cloud_run_task_is_a_shard_and_a_job_of_one_task_is_not(
        registry: Registry, tmp_path: Path) -> None:
    single = audit_fleet.run_audit(registry.env(CLOUD_RUN_TASK_INDEX="0",
                                                CLOUD_RUN_TASK_COUNT="1"), tmp_path)
    assert single.returncode == 1 and single.report is not None, single.describe()
    task = Done(preflight(registry.env(CLOUD_RUN_TASK_INDEX="1", CLOUD_RUN_TASK_COUNT="2",
                                       CLOUD_RUN_EXECUTION="audit-x7k2p"),
                          "--report-dir", str(tmp_path)))
    assert task.returncode == 0, task.describe()
    (path,) = tmp_path.glob("audit-part-*")
    assert path.name == "audit-part-0001-of-0002.jsonl"
    head = json.loads(path.open().readline())["head"]
    assert (head["run"], head["shard"]) == ("audit-x7k2p", {"index": 1, "count": 2})
    assert not list(tmp_path.glob("audit.*"))  # a shard writes its part, not reports


def test_an_indexed_jobs_index_0_waits_for_this_runs_parts_then_merges(
        registry: Registry, whole_fleet: Registry, unsharded: audit_fleet.Audit,
        tmp_path: Path) -> None:
    """A stale part of an earlier run is there from the start: index 0 must not take it
    (it is of another registry: merged, it would make the merge fail)."""
    earlier = tmp_path / "earlier"
    run_shards(whole_fleet, earlier, 3, "--run", "uid-0")
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(earlier / "audit-part-0002-of-0003.jsonl", folder)
    pods = {index: registry.env(JOB_COMPLETION_INDEX=str(index), PREFLIGHT_AUDIT_SHARDS="3",
                                PREFLIGHT_AUDIT_RUN="uid-1", PREFLIGHT_REPORT_DIR=str(folder),
                                PREFLIGHT_AUDIT_MERGE_WAIT="120")
            for index in range(3)}
    first = preflight(pods[0])
    one = Done(preflight(pods[1]))
    assert one.returncode == 0, one.describe()
    harness.wait_until((folder / "audit-part-0000-of-0003.jsonl").exists, 60,
                       "index 0's own part")
    assert first.poll() is None  # waiting: the part of shard 2 there is uid-0's
    assert not (folder / "audit.json").exists()
    two = Done(preflight(pods[2]))
    assert two.returncode == 0, two.describe()
    merged = Done(first)
    assert merged.returncode == 1, merged.describe()
    assert "waiting for the other shards' parts" in merged.stderr
    expected = fields(unsharded.report_dir)
    expected["drift"] = None
    assert fields(folder) == expected


def index_1_failed(registry: Registry, folder: Path, run: str) -> dict[str, str]:
    """Pod 1 of 2 of `run` could not read the registry: its part says so. The pods' env."""
    pod = {"PREFLIGHT_AUDIT_SHARDS": "2", "PREFLIGHT_AUDIT_RUN": run,
           "PREFLIGHT_REPORT_DIR": str(folder)}
    closed = f"127.0.0.1:{harness.closed_port()}"
    failed = Done(preflight(registry.env(closed, JOB_COMPLETION_INDEX="1", **pod),
                            "--timeout", "3", "--attempt-timeout", "1"))
    assert failed.returncode == 3, failed.describe()
    return pod


def test_index_0_merges_the_retry_of_a_shard_whose_part_says_it_failed(
        registry: Registry, unsharded: audit_fleet.Audit, tmp_path: Path) -> None:
    """An Indexed Job retries a failed index (backoffLimitPerIndex): index 0 must wait for
    the retry's part, not merge the failed attempt's (and its own retry would merge it
    again)."""
    pod = index_1_failed(registry, tmp_path, "uid-3")
    first = preflight(registry.env(JOB_COMPLETION_INDEX="0", PREFLIGHT_AUDIT_MERGE_WAIT="120",
                                   **pod))
    harness.wait_until((tmp_path / "audit-part-0000-of-0002.jsonl").exists, 60,
                       "index 0's own part")
    with pytest.raises(subprocess.TimeoutExpired):  # it used to merge the failed part at once
        first.wait(timeout=2 * part.WAIT_POLL + 1)
    retry = Done(preflight(registry.env(JOB_COMPLETION_INDEX="1", **pod)))
    assert retry.returncode == 0, retry.describe()
    merged = Done(first)
    assert merged.returncode == 1, merged.describe()
    expected = fields(unsharded.report_dir)
    expected["drift"] = None
    assert fields(tmp_path) == expected


def test_at_its_deadline_index_0_merges_a_failed_part_as_it_is(registry: Registry,
                                                               tmp_path: Path) -> None:
    """No retry came: the report says which shard could not read the registry (exit 3)."""
    pod = index_1_failed(registry, tmp_path, "uid-4")
    done = Done(preflight(registry.env(JOB_COMPLETION_INDEX="0", PREFLIGHT_AUDIT_MERGE_WAIT="3",
                                       **pod)))
    assert done.returncode == 3, done.describe()
    report = audit_fleet.check_report(json.loads((tmp_path / "audit.json").read_text()))
    assert report["status"] == "error"
    assert report["error"]["message"].startswith("shard 1/2: ")


def test_index_0_gives_up_at_its_deadline_naming_the_missing_shards(
        registry: Registry, tmp_path: Path) -> None:
    done = Done(preflight(registry.env(JOB_COMPLETION_INDEX="0", PREFLIGHT_AUDIT_SHARDS="3",
                                       PREFLIGHT_AUDIT_RUN="uid-2",
                                       PREFLIGHT_REPORT_DIR=str(tmp_path),
                                       PREFLIGHT_AUDIT_MERGE_WAIT="3")))
    assert done.returncode == 2, done.describe()
    assert done.stderr.strip().splitlines()[-1] == (
        f"preflight: error: audit merge: no part of shard(s) 1/3, 2/3 of run 'uid-2' in "
        f"{tmp_path} after waiting 3 s: those tasks did not finish")
    assert not (tmp_path / "audit.json").exists()


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize(("args", "env", "message"), [
    (("--shard", "4/4", "--report-dir", "."), {},
     "--shard: expected an index below the count (0 to 3) (got '4/4')"),
    (("--shard", "0/2"), {}, "--report-dir: expected the folder a shard writes its part to"),
    ((), {"JOB_COMPLETION_INDEX": "2"},
     "PREFLIGHT_AUDIT_SHARDS: expected the Indexed Job's completions (how many shards)"),
    ((), {"PREFLIGHT_AUDIT_SHARDS": "3"},
     "PREFLIGHT_AUDIT_SHARDS: expected a shard index to go with it"),
    (("--shard", "0/2", "--report-dir", ".", "--merge-wait", "60"), {},
     "--merge-wait: expected a run id to wait for (--run, PREFLIGHT_AUDIT_RUN)"),
    (("--merge-wait", "60"), {}, "--merge-wait: expected a shard to wait after"),
    (("merge",), {}, "Missing argument 'PART|FOLDER...'"),
    (("merge", "/nonexistent/parts"), {},
     "audit merge: /nonexistent/parts: no such file or folder"),
])
def test_usage_errors_are_one_line_and_exit_2(registry: Registry, tmp_path: Path,
                                              args: tuple[str, ...], env: dict[str, str],
                                              message: str) -> None:
    done = harness.run_command(harness.preflight_argv("audit", *args),
                               registry.env(**env), timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def two_runs(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder holding the parts of a three-shard run and of a two-shard run."""
    folder = tmp_path_factory.mktemp("two-runs")
    run_shards(registry, folder, 3, "--run", "run-a")
    run_shards(registry, folder, 2, "--run", "run-b")
    return folder


def test_a_merge_of_parts_that_are_not_one_audit_is_exit_2_with_no_report(
        registry: Registry, two_runs: Path, tmp_path: Path) -> None:
    def refused(*parts: Path | str) -> str:
        reports = tmp_path / f"reports-{uuid.uuid4().hex[:6]}"
        reports.mkdir()
        done = merge(registry.env(), *map(str, parts), "--report-dir", str(reports))
        assert done.returncode == 2, done.describe()
        assert not list(reports.iterdir()) and done.stdout == ""
        line: str = done.stderr.strip().splitlines()[-1]
        assert line.startswith("preflight: error: audit merge: ")
        return line.removeprefix("preflight: error: audit merge: ")

    parts = {path.name: path for path in two_runs.iterdir()}
    assert refused(two_runs).startswith("parts of different audits (run differs)")
    assert refused(parts["audit-part-0000-of-0003.jsonl"],
                   parts["audit-part-0002-of-0003.jsonl"]) == (
        "missing the part of shard(s) 1/3 (2 of 3 given): the report would leave tenants out")
    copy = tmp_path / "copy.jsonl"
    shutil.copy(parts["audit-part-0001-of-0002.jsonl"], copy)
    assert refused(parts["audit-part-0000-of-0002.jsonl"], parts["audit-part-0001-of-0002.jsonl"],
                   copy).startswith("shard 1/2 twice: ")
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(parts["audit-part-0001-of-0002.jsonl"].open().readlines()[:-1]))
    assert refused(parts["audit-part-0000-of-0002.jsonl"], cut) == (
        f"{cut}: cut short: no end record (was it copied while being written?)")
    assert refused("--run", "run-c", two_runs) == "no part of run 'run-c' among the 5 given"
    # One run picked out of the folder merges.
    done = merge(registry.env(), "--run", "run-b", str(two_runs), "--format", "json")
    assert done.returncode == 1, done.describe()
    report = audit_fleet.check_report(json.loads(done.stdout))
    assert report["registry"]["documents"] == len(registry.documents)


def test_sigterm_mid_read_writes_a_part_that_says_so(
        registry: Registry, firestore_server: servers.Server, tmp_path: Path) -> None:
    running = harness.Running(
        harness.preflight_argv("audit", "--shard", "1/2", "--report-dir", str(tmp_path)),
        registry.env(), tmp_path, None, None)
    firestore_server.pause()
    try:
        running.wait_for_log(lambda e: e.get("message") == "audit started", 60, "the start")
        running.send_signal(signal.SIGTERM)
        result = running.finish(30)
    finally:
        firestore_server.resume()
    assert result.returncode == 143, result.describe()
    (path,) = tmp_path.glob("audit-part-*")
    end = json.loads(path.read_text().splitlines()[-1])["end"]
    assert (end["interrupted_by"], end["tally"]["scopes"]) == (15, 0)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary


def test_a_shard_that_cannot_read_the_registry_makes_the_merge_exit_3(
        registry: Registry, tmp_path: Path) -> None:
    closed = f"127.0.0.1:{harness.closed_port()}"
    running = [preflight(registry.env(closed), "--shard", f"{i}/2", "--report-dir",
                         str(tmp_path), "--timeout", "3", "--attempt-timeout", "1")
               for i in range(2)]
    for shard in map(Done, running):
        assert shard.returncode == 3, shard.describe()
        assert " ERROR (exit 3): could not read the registry (firestore.access: " in \
            shard.stdout
    done = merge(registry.env(), str(tmp_path), "--format", "json")
    assert done.returncode == 3, done.describe()
    report = audit_fleet.check_report(json.loads(done.stdout))
    assert (report["status"], report["scopes"]) == ("error", [])
    assert report["error"]["check"] == "firestore.access"
    assert report["error"]["message"].startswith("shard 0/2: ")
