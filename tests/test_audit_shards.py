"""Sharding the audit, without a server: the shards' ranges, judging a range as it streams,
parts and their merge.

The central properties: every task computes the same boundaries on its own and the ranges
tile the tenant index; judging the index range by range gives, concatenated, exactly what
judging it whole gives; a merge refuses any set of parts that is not one whole audit. The
same is proven end to end on the emulator in tests/test_audit_sharded.py.
"""

from __future__ import annotations

import bisect
import itertools
import json
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.audit import judge, part, shards
from preflight.audit.command import Baseline, chunks_for, merge, shard_head
from preflight.audit.model import ScopeResult
from preflight.audit.shards import Shard, Splitter, midpoint
from preflight.contract.profile import load
from preflight.core.errors import ConfigError
from preflight.core.verdict import rfc3339
from tests import audit_fleet
from tests.audit_fleet import BROKEN, WARNED

PROFILE = load("engines")
REFUSED = frozenset(PROFILE.refused_all)
ENVIRON = {"RAW_BUCKET": "engines-raw", "GCP_PROJECT_ID": "p"}

# Firestore's order of value types; a tenant_id's place in the index is (rank, value).
TYPE_RANK = {type(None): 0, bool: 1, int: 2, float: 2, datetime: 3, str: 4, bytes: 5,
             list: 8, dict: 9}
LOWER, HIGHER = 0, 9


# --------------------------------------------------------------------------- choosing shards

@pytest.mark.parametrize(("text", "message"), [
    ("two", "--shard: expected INDEX/COUNT, e.g. 0/4 (the first of four shards) (got 'two')"),
    ("4/4", "--shard: expected an index below the count (0 to 3) (got '4/4')"),
    ("0/0", "--shard: expected a count of shards from 1 to 10,000 (got '0/0')"),
    ("-1/4", "--shard: expected INDEX/COUNT"),
])
def test_a_shard_is_index_slash_count(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        shards.parse(text, "--shard")
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(("environ", "option", "expected"), [
    ({}, None, None),
    ({"CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "1"}, None, None),  # one task
    ({"CLOUD_RUN_TASK_INDEX": "2", "CLOUD_RUN_TASK_COUNT": "3"}, None, Shard(2, 3)),
    ({"CLOUD_RUN_TASK_INDEX": "2", "CLOUD_RUN_TASK_COUNT": "3"}, "3", Shard(2, 3)),
    ({"JOB_COMPLETION_INDEX": "1"}, "4", Shard(1, 4)),
])
def test_the_platform_says_which_shard(environ: dict[str, str], option: str | None,
                                       expected: Shard | None) -> None:
    assert shards.from_platform(environ, option, "PREFLIGHT_AUDIT_SHARDS") == expected


@pytest.mark.parametrize(("environ", "option", "message"), [
    ({"JOB_COMPLETION_INDEX": "1"}, None,
     "PREFLIGHT_AUDIT_SHARDS: expected the Indexed Job's completions"),
    ({"JOB_COMPLETION_INDEX": "4"}, "4",
     "JOB_COMPLETION_INDEX: expected an index below the count (0 to 3)"),
    ({"JOB_COMPLETION_INDEX": "1"}, "four", "PREFLIGHT_AUDIT_SHARDS: expected a whole number"),
    ({}, "4", "PREFLIGHT_AUDIT_SHARDS: expected a shard index to go with it"),
    ({"CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "3"}, "4",
     "PREFLIGHT_AUDIT_SHARDS: expected the job's task count (CLOUD_RUN_TASK_COUNT=3)"),
    ({"CLOUD_RUN_TASK_INDEX": "0"}, None, "CLOUD_RUN_TASK_COUNT: expected a whole number, "
     "set where CLOUD_RUN_TASK_INDEX is"),
])
def test_a_platform_half_set_is_a_usage_error(environ: dict[str, str], option: str | None,
                                              message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        shards.from_platform(environ, option, "PREFLIGHT_AUDIT_SHARDS")
    assert str(raised.value).startswith(message)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=8), st.text(max_size=8))
def test_a_midpoint_lies_between(a: str, b: str) -> None:
    if a == b:
        return
    low, high = min(a, b), max(a, b)
    key = midpoint(low, high)
    assert low < key <= high
    key.encode("utf-8")  # a Firestore string: no surrogate


class ListIndex:
    """The tenant_id index as a sorted list of strings, with values of other types before
    (`lower`) and after (`higher`) them, answering as TenantIndex does."""

    def __init__(self, strings: list[str], lower: int = 0, higher: int = 0) -> None:
        self.strings = sorted(strings)
        self.lower, self.higher = lower, higher
        self.questions = 0

    def _position(self, tenant: str) -> int:
        return self.lower + bisect.bisect_left(self.strings, tenant)

    def count(self, start: str | None, end: str | None) -> int:
        self.questions += 1
        first = 0 if start is None else self._position(start)
        last = (self.lower + len(self.strings) + self.higher if end is None
                else self._position(end))
        return last - first

    def first_string(self, at_least: str, end: str | None) -> str | None:
        self.questions += 1
        i = bisect.bisect_left(self.strings, at_least)
        found = self.strings[i] if i < len(self.strings) else None
        return found if found is not None and (end is None or found < end) else None

    def last_string(self, below: str | None) -> str | None:
        self.questions += 1
        i = len(self.strings) if below is None else bisect.bisect_left(self.strings, below)
        return self.strings[i - 1] if i else None


def ranges(index: ListIndex, count: int) -> list[tuple[str | None, str | None]]:
    """Each shard's range as its own task computes it: a Splitter of its own."""
    total = index.count(None, None)
    return [Splitter(index, total, count).range_of(i) for i in range(count)]


def check_tiling(index: ListIndex, found: list[tuple[str | None, str | None]]) -> list[int]:
    """The ranges tile the index; returns the documents in each."""
    assert found[0][0] is None and found[-1][1] is None
    for (_, end), (start, _) in itertools.pairwise(found):
        assert end == start and end is not None
    sizes = [index.count(start, end) for start, end in found]
    assert sum(sizes) == index.count(None, None)
    return sizes


tenant_lists = st.lists(st.text(min_size=1, max_size=6), min_size=0, max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tenant_lists, st.integers(0, 5), st.integers(0, 5), st.integers(1, 7))
def test_every_task_computes_ranges_that_tile_the_index(
        strings: list[str], lower: int, higher: int, count: int) -> None:
    index = ListIndex(strings, lower, higher)
    found = ranges(index, count)
    check_tiling(index, found)
    boundaries = cast(list[str], [start for start, _ in found[1:]])  # check_tiling: not None
    assert boundaries == sorted(boundaries)
    for boundary in boundaries:  # a shard starts at a tenant: none is split
        assert boundary in strings or (boundary == "" and not strings)


@pytest.mark.parametrize(("tenants", "per_tenant"), [
    ([f"t_{n:05d}" for n in range(17_647)], 17),  # the bench's 300,000 documents
    ([f"{n:032x}" for n in range(0, 2**128, 2**128 // 5000)], 20),  # uuid-like
    ([f"acme-{n}" for n in range(900)] + [f"zeta{n}" for n in range(100)], 50),
])
@pytest.mark.parametrize("count", [2, 4, 16])
def test_the_ranges_balance_documents(tenants: list[str], per_tenant: int,
                                      count: int) -> None:
    index = ListIndex([t for t in tenants for _ in range(per_tenant)])
    sizes = check_tiling(index, ranges(index, count))
    share = len(index.strings) / count
    assert max(sizes) <= share * (1 + 2 / shards.BALANCE) + per_tenant, sizes
    questions_per_boundary = index.questions / (2 * (count - 1))
    assert questions_per_boundary < 3 * 20, questions_per_boundary


def test_shards_beyond_the_tenants_are_empty_and_one_tenant_is_never_split() -> None:
    index = ListIndex(["a"] * 10 + ["b"] * 10, lower=2, higher=1)
    found = ranges(index, 5)
    sizes = check_tiling(index, found)
    assert sorted(sizes) == [0, 0, 0, 11, 12] or sorted(sizes) == [0, 0, 2, 10, 11]
    assert {start for start, _ in found[1:]} <= {"a", "b"}


# --------------------------------------------------------------------------- judging in ranges

def type_rank(value: Any) -> int:
    return TYPE_RANK.get(type(value), HIGHER)


def index_order(documents: Mapping[str, Mapping[str, Any]],
                ) -> list[tuple[str, dict[str, Any]]]:
    """The documents with a tenant_id, as the index holds them: by type, value, then id."""
    def key(item: tuple[str, Mapping[str, Any]]) -> tuple[Any, ...]:
        tenant = item[1]["tenant_id"]
        shown = tenant if isinstance(tenant, str) else repr(tenant)
        return (type_rank(tenant), shown, item[0])

    return sorted(((doc_id, dict(data)) for doc_id, data in documents.items()
                   if "tenant_id" in data), key=key)


def in_range(tenant: Any, start: str | None, end: str | None) -> bool:
    place = (type_rank(tenant), tenant if isinstance(tenant, str) else "")
    return ((start is None or place >= (TYPE_RANK[str], start))
            and (end is None or place < (TYPE_RANK[str], end)))


def a_judge() -> judge.Judge:
    return judge.Judge(PROFILE, lambda env: REFUSED, ENVIRON)


def stream_range(ordered: list[tuple[str, dict[str, Any]]], start: str | None,
                 end: str | None, emit: Callable[[ScopeResult], None]) -> judge.TenantStream:
    stream = judge.TenantStream(a_judge(), emit)
    stream.begin(start, end)
    for doc_id, data in ordered:
        if in_range(data["tenant_id"], start, end):
            stream.add(doc_id, data)
    stream.finish()
    return stream


def fleet() -> dict[str, dict[str, Any]]:
    """The broken fleet, plus tenant ids of other types and a document without one."""
    documents = audit_fleet.broken_fleet()
    template = documents["budget-t_system-dev"]
    for doc_id, tenant in (("null-tenant", None), ("bool-tenant", True),
                           ("bytes-tenant", b"t_001"), ("map-tenant", {"t": 1})):
        documents[doc_id] = {**template, "tenant_id": tenant}
    documents["env-as-number"] = {**template, "tenant_id": "t_005", "env": 3}
    return documents


@pytest.mark.parametrize("cuts", [["t_150"], ["t_010", "t_123", "t_299", "t_system"],
                                  ["", "t_000", "t_00", "zzz"]])
def test_judging_range_by_range_is_judging_it_whole(cuts: list[str]) -> None:
    ordered = index_order(fleet())
    whole: list[ScopeResult] = []
    whole_stream = stream_range(ordered, None, None, whole.append)
    pieces: list[ScopeResult] = []
    bounds = [None, *cuts, None]
    unplaced = []
    for start, end in itertools.pairwise(bounds):
        stream = stream_range(ordered, start, end, pieces.append)
        unplaced += stream.facts.unplaced
    assert pieces == whole
    assert sorted(unplaced) == whole_stream.facts.unplaced
    labels = {scope.label for scope in whole}
    assert set(BROKEN) | set(WARNED) <= labels
    assert "t_system/dev" in labels  # the profile's own scope, judged once


# --------------------------------------------------------------------------- parts

def config_for(profile: Any = PROFILE) -> Any:
    """What shard_head reads of a Config."""
    class Shape:
        project, database, collection = "p", "(default)", "routing_registry"
        emulator_host = "127.0.0.1:1"
        engines_env = ENVIRON

    shape = Shape()
    shape.profile = profile  # type: ignore[attr-defined]
    return shape


def write_parts(folder: Path, documents: Mapping[str, Mapping[str, Any]], count: int,
                run: str = "run-1") -> list[Path]:
    """The parts a sharded audit of `documents` writes, without a server."""
    ordered = index_order(documents)
    strings = [data["tenant_id"] for _, data in ordered if isinstance(data["tenant_id"], str)]
    index = ListIndex(strings, lower=sum(1 for _, d in ordered if type_rank(d["tenant_id"]) < 4),
                      higher=sum(1 for _, d in ordered if type_rank(d["tenant_id"]) > 4))
    paths = []
    for number, (start, end) in enumerate(ranges(index, count)):
        shard = Shard(number, count)
        writer = part.PartWriter(folder, shard, shard_head(config_for(), shard, run), str)
        stream = stream_range(ordered, start, end, writer.scope)
        if number == 0:
            for doc_id, data in documents.items():
                if "tenant_id" not in data:
                    stream.facts.add(doc_id, dict(data))
        facts = stream.facts
        paths.append(writer.finish({
            "finished_at": rfc3339(datetime.now(UTC)), "range": {"start": start, "end": end},
            "documents": facts.documents, "read": facts.documents, "pages": 1, "resumed": 0,
            "index": {"documents": len(ordered), "collection": None, "aggregations": 0,
                      "counted": 0, "reads": 0},
            "stragglers": None, "error": None, "interrupted_by": None,
            "tally": stream.tally.to_dict(), "near_misses_not_listed": facts.near_dropped,
            "unplaced": [{"document": u.doc_id, "reason": u.reason} for u in facts.unplaced],
            "unplaced_total": facts.unplaced_total}))
    return paths


def comparable(report: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads("".join(report.json_chunks()))
    for name in ("started_at", "finished_at", "duration_ms"):
        del document[name]
    del document["registry"]["pages"]
    return document


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return fleet()


def test_the_part_schema_is_a_valid_schema() -> None:
    import jsonschema

    schema = json.loads((Path(part.__file__).parent / "schema" / "audit-part-v1.json")
                        .read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["oneOf"][0]["properties"]["schema"]["const"] == part.SCHEMA_ID


def test_parts_of_any_count_merge_into_the_same_report(tmp_path: Path,
                                                       documents: dict[str, Any]) -> None:
    reports = []
    for count in (1, 2, 5):
        folder = tmp_path / str(count)
        folder.mkdir()
        paths = write_parts(folder, documents, count)
        for path in paths:
            for line in path.read_text().splitlines():  # every record as the schema says
                assert part._validator().is_valid(json.loads(line)), line[:200]
        reports.append(comparable(merge(paths, Baseline(None, None, None))))
    assert reports[0] == reports[1] == reports[2]
    found = {scope["scope"] for scope in reports[0]["scopes"] if scope["status"] != "pass"}
    assert found == set(BROKEN) | set(WARNED)
    assert [f["document"] for f in reports[0]["registry_findings"]] == sorted(
        ["bool-tenant", "bytes-tenant", "env-as-number", "map-tenant", "null-tenant",
         "tenant-as-number"])


CANARY = "CANARY-audit-part-" + "z" * 8


def test_no_config_value_reaches_a_part_or_a_merged_report(tmp_path: Path,
                                                           documents: dict[str, Any]) -> None:
    """Every config holds a secret, invalid and unplaced documents too: parts and the four
    merged reports name keys, never values."""
    secret = {doc_id: {**data, "config": {**(data.get("config") or {}), "api_key": CANARY}}
              if isinstance(data.get("config") or {}, dict) else data
              for doc_id, data in documents.items()}
    secret["invalid-with-secret"] = {"resource_kind": "kpi", "tenant_id": "t_sec", "env": "prod",
                                     "project_id": "p", "backend_type": 7,
                                     "config": {"token": CANARY}}
    secret["unplaced-with-secret"] = {"resource_kind": "kpi", "tenant_id": None, "env": "prod",
                                      "backend_type": "firestore", "config": {"token": CANARY}}
    carrying = sum(CANARY in json.dumps(data, default=str) for data in secret.values())
    assert carrying > len(documents) // 2
    paths = write_parts(tmp_path, secret, 3)
    report = merge(paths, Baseline(None, None, None))
    merged = "".join(chunks_for(report, "json"))
    assert "invalid-with-secret" in merged and "unplaced-with-secret" in merged  # judged
    for path in paths:
        assert CANARY not in path.read_text("utf-8"), path.name
    for form in ("json", "junit", "html", "text"):
        assert CANARY not in "".join(chunks_for(report, form)), form


def rewrite(path: Path, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
            ) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in change(records)))


def refused(paths: list[Path]) -> str:
    with pytest.raises(part.PartsUnusable) as raised:
        merge(paths, Baseline(None, None, None))
    return str(raised.value)


def test_a_missing_or_duplicated_part_is_refused(tmp_path: Path,
                                                 documents: dict[str, Any]) -> None:
    paths = write_parts(tmp_path, documents, 3)
    assert refused([paths[0], paths[2]]) == (
        "audit merge: missing the part of shard(s) 1/3 (2 of 3 given): the report would "
        "leave tenants out")
    twin = tmp_path / "copy.jsonl"
    twin.write_bytes(paths[1].read_bytes())
    assert refused([*paths, twin]) == f"audit merge: shard 1/3 twice: {paths[1]} and {twin}"


def test_parts_of_different_audits_are_refused(tmp_path: Path,
                                               documents: dict[str, Any]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    three = write_parts(tmp_path / "a", documents, 3)
    two = write_parts(tmp_path / "b", documents, 2)
    other_run = write_parts(tmp_path / "c", documents, 3, run="run-2")
    assert refused([*two, three[2]]).startswith("audit merge: parts of different shard counts")
    assert refused([*three[:2], other_run[2]]).startswith(
        "audit merge: parts of different audits (run differs)")
    assert refused([*three[:2], other_run[2]]).endswith("(--run picks one run's parts)")

    def another_project(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records[0]["head"]["target"]["project"] = "elsewhere"
        return records

    rewrite(three[1], another_project)
    assert "parts of different audits (registry or profile differs)" in refused(three)


def test_a_part_cut_short_or_edited_is_refused(tmp_path: Path,
                                               documents: dict[str, Any]) -> None:
    paths = write_parts(tmp_path, documents, 2)
    rewrite(paths[0], lambda records: records[:-1])
    assert refused(paths) == (f"audit merge: {paths[0]}: cut short: no end record (was it "
                              "copied while being written?)")
    paths = write_parts(tmp_path, documents, 2)

    def passes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for record in records:
            if "scope" in record and record["scope"]["status"] == "fail":
                record["scope"]["status"] = "pass"
                break
        return records

    rewrite(paths[1], passes)
    assert refused(paths) == (f"audit merge: {paths[1]}: its scope lines do not add up to "
                              "its tally: edited, or cut and joined?")
    paths = write_parts(tmp_path, documents, 2)
    rewrite(paths[1], lambda records: [records[0], {"scope": {"tenant": "x"}}, *records[1:]])
    assert refused(paths).startswith(f"audit merge: {paths[1]}: line 2 is not a valid "
                                     "preflight.audit-part/v1 record")
    paths[0].write_text("{}\n")
    assert refused(paths) == (f"audit merge: {paths[0]}: not a preflight.audit-part/v1 part "
                              "(preflight audit --shard)")


def test_ranges_that_do_not_tile_are_refused(tmp_path: Path,
                                             documents: dict[str, Any]) -> None:
    paths = write_parts(tmp_path, documents, 3)

    def later(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records[-1]["end"]["range"]["end"] = "t_zz"  # beyond where shard 2 starts
        return records

    rewrite(paths[1], later)
    message = refused(paths)
    assert "the shards' ranges do not tile the tenant index" in message
    assert "starts at" in message and "run the audit again" in message


def test_a_shard_that_could_not_read_makes_the_merge_an_error(
        tmp_path: Path, documents: dict[str, Any]) -> None:
    paths = write_parts(tmp_path, documents, 2)

    def unreadable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        end = records[-1]["end"]
        end.update(error={"check": "registry.audit", "message": "deadline exceeded",
                          "remediation": None, "transient": True}, range=None,
                   tally={"scopes": 0, "tenants": 0, "findings": {},
                          "statuses": {"fail": 0, "warn": 0, "pass": 0}},
                   unplaced=[], unplaced_total=0)
        return [records[0], records[-1]]

    rewrite(paths[1], unreadable)
    report = merge(paths, Baseline(None, None, None))
    assert (report.status, int(report.exit_code)) == ("error", 3)
    assert report.error is not None
    assert report.error.message == "shard 1/2: deadline exceeded"
    assert list(report.scopes) == []


def test_the_merge_reads_scopes_from_the_parts_each_time(tmp_path: Path,
                                                         documents: dict[str, Any]) -> None:
    paths = write_parts(tmp_path, documents, 2)
    report = merge(paths, Baseline(None, None, None))
    scopes = report.scopes
    assert isinstance(scopes, part.PartScopes)
    listed = list(scopes)
    assert len(scopes) == len(listed) == report.scope_total()
    assert scopes[0] == listed[0] and scopes[-1] == listed[-1]
    assert list(scopes[3:6]) == listed[3:6]
    with pytest.raises(IndexError):
        scopes[len(listed)]


# --------------------------------------------------------------------------- memory

def synthetic(tenants: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Tenants of one serving scope each (14 routes), in the index's order."""
    for number in range(tenants):
        scope = audit_fleet.serving_scope(f"t_{number:06d}")
        yield from sorted(scope.items())


def peak_judging(tenants: int, keep: bool, folder: Path) -> int:
    """Peak traced memory of judging `tenants` tenants into a part (or into a list)."""
    kept: list[ScopeResult] = []
    shard = Shard(0, 1)
    writer = part.PartWriter(folder, shard, shard_head(config_for(), shard, None), str)
    stream = judge.TenantStream(a_judge(), kept.append if keep else writer.scope)
    stream.begin(None, None)
    tracemalloc.start()
    try:
        for doc_id, data in synthetic(tenants):
            stream.add(doc_id, data)
        stream.finish()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        writer.abandon()


def test_judging_into_a_part_holds_one_tenant_not_the_registry(tmp_path: Path) -> None:
    """What the shard's own code holds, traced by Python: 10x the tenants, the same peak.
    Not the process's RSS (the client's pages and the interpreter): bench/ measures that."""
    small, large = 100, 1000
    streamed = [peak_judging(n, False, tmp_path) for n in (small, large)]
    held = [peak_judging(n, True, tmp_path) for n in (small, large)]
    # A tenant's results are ~3 KiB: 1,000 held would be 3 MiB. The streamed peak is a
    # few hundred KiB at either size (when the garbage collector runs moves it, not size).
    assert max(streamed) < 1024 * 1024, streamed
    assert held[1] > 2 * 1024 * 1024 and held[1] > 5 * held[0], held  # the measure can fail


def peak_merging(tenants: int, folder: Path, *, hold: bool) -> int:
    """Peak traced memory of merging two parts of `tenants` tenants and rendering every
    report (or, with `hold`, of keeping the merged scopes in a list)."""
    folder.mkdir()
    documents = {doc_id: data for number in range(tenants)
                 for doc_id, data in audit_fleet.serving_scope(f"t_{number:06d}").items()}
    paths = write_parts(folder, documents, 2)
    tracemalloc.start()
    try:
        report = merge(paths, Baseline(None, None, None))
        held = list(report.scopes) if hold else []
        for form in ("json", "junit", "html", "text"):
            for _ in chunks_for(report, form):
                pass
        assert len(held) == (tenants + 1 if hold else 0)  # and the start-up scope
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_merge_holds_one_scope_at_a_time_not_the_registry(tmp_path: Path) -> None:
    """The merge reads the parts again for each report: 10x the tenants, about the same
    peak, where holding the scopes grows with them (so the measure can fail)."""
    peak_merging(5, tmp_path / "warm", hold=False)  # first-use caches and imports
    small, large = (peak_merging(n, tmp_path / str(n), hold=False) for n in (50, 500))
    held = peak_merging(500, tmp_path / "held", hold=True)
    assert large < 1024 * 1024 and large < 3 * small, (small, large)
    assert held > large + 1024 * 1024, (held, large)


def test_a_baseline_is_compared_with_the_merged_scopes(tmp_path: Path,
                                                       documents: dict[str, Any]) -> None:
    paths = write_parts(tmp_path, documents, 2)
    first = merge(paths, Baseline(None, None, None))
    baseline = json.loads("".join(first.json_chunks()))
    baseline["started_at"] = rfc3339(datetime.now(UTC) - timedelta(days=1))
    baseline["scopes"] = [s for s in baseline["scopes"] if s["scope"] != "t_007/prod/p_main"]
    again = merge(paths, Baseline(baseline, "before.json", None))
    assert again.drift is not None
    assert [(c.change, c.scope) for c in again.drift.changes if c.change != "route_added"] == [
        ("new_failure", "t_007/prod/p_main"), ("scope_added", "t_007/prod/p_main")]
