"""Parts of a sharded audit: written as a shard judges, checked and merged into one report.

A part (`preflight.audit-part/v1`, schema/audit-part-v1.json) is JSON Lines: a head, one
line per scope in label order, an end. A shard writes its lines as it judges (so it holds
one tenant's facts, never its results) into a temporary file in the parts' folder and
renames it when done: a part that exists is complete. The merge reads the parts again
whenever the report is rendered rather than holding every scope.

A merge is all or nothing: every part is checked against the schema and against itself
(its scope lines add up to its tally, each in its range, in order), and the parts against
each other (one run, one shard count, every index once, one registry, profile, environment
and preflight version, ranges that tile the tenant index). Anything else is a usage error
naming the part: never a report of part of the registry.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import IO, Any, NamedTuple, overload

from preflight.audit.facts import KEPT_UNPLACED, Unplaced
from preflight.audit.judge import registry_findings, scope_order
from preflight.audit.model import (
    AuditReport,
    KindColumn,
    ReadError,
    ScopeResult,
    Tally,
)
from preflight.audit.shards import Shard
from preflight.contract.profile import Profile
from preflight.core.errors import ConfigError

SCHEMA_ID = "preflight.audit-part/v1"
PATTERN = "audit-part-*-of-*.jsonl"
WAIT_POLL = 2.0  # seconds between looks for the other parts
TAIL_CHUNK = 8192  # bytes read at a time from a part's end, for its end record


def file_name(shard: Shard) -> str:
    return f"audit-part-{shard.index:04d}-of-{shard.count:04d}.jsonl"


class PartsUnusable(ConfigError):
    """The parts given cannot make one report: exit 2, saying which part and why."""

    def __init__(self, message: str) -> None:
        self.where, self.expected, self.got = "audit merge", message, None
        Exception.__init__(self, f"audit merge: {message}")


def judging(profile: Profile, engines_env: Mapping[str, str | None]) -> dict[str, Any]:
    """What decides a judgement besides the documents, as a part states it (no value)."""
    rules = profile._replace(source="", lines={})  # where it was read from does not judge
    return {"profile_sha256": hashlib.sha256(repr(rules).encode()).hexdigest(),
            "variables_set": sorted(name for name, value in engines_env.items() if value)}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class PartWriter:
    """One shard's part, line by line; `finish` makes it appear, `abandon` never does.

    Lines may still arrive from an attempt abandoned at the deadline after the part is
    closed: they are dropped.
    """

    def __init__(self, folder: Path, shard: Shard, head: Mapping[str, Any],
                 scrub: Callable[[str], str]) -> None:
        self.path = folder / file_name(shard)
        self._scrub = scrub
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        self._temporary = Path(temporary)
        self._stream: IO[str] | None = os.fdopen(handle, "w", encoding="utf-8")
        self._lock = threading.Lock()
        self._write({"schema": SCHEMA_ID, "head": dict(head)})

    def _write(self, record: Mapping[str, Any]) -> None:
        with self._lock:
            if self._stream is not None:
                self._stream.write(self._scrub(_dumps(record)) + "\n")

    def scope(self, result: ScopeResult) -> None:
        self._write({"scope": result.to_dict()})

    def finish(self, end: Mapping[str, Any]) -> Path:
        self._write({"end": dict(end)})
        with self._lock:
            stream, self._stream = self._stream, None
            assert stream is not None
            stream.flush()
            os.fsync(stream.fileno())
            os.fchmod(stream.fileno(), 0o644)
            stream.close()
            os.replace(self._temporary, self.path)
        return self.path

    def abandon(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is not None:
                stream.close()
            self._temporary.unlink(missing_ok=True)


# --------------------------------------------------------------------------- reading

@cache
def _validator() -> Any:
    import jsonschema
    from referencing import Registry, Resource

    schemas = files("preflight").joinpath("audit/schema")
    part = json.loads(schemas.joinpath("audit-part-v1.json").read_text("utf-8"))
    report = json.loads(schemas.joinpath("audit-v1.json").read_text("utf-8"))
    registry = Registry().with_resource(report["$id"], Resource.from_contents(report))
    return jsonschema.Draft202012Validator(part, registry=registry)


class Part(NamedTuple):
    path: Path
    head: Mapping[str, Any]
    end: Mapping[str, Any]

    @property
    def shard(self) -> Shard:
        return Shard(self.head["shard"]["index"], self.head["shard"]["count"])

    @property
    def name(self) -> str:
        return f"{self.path} (shard {self.shard.label})"


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                record = json.loads(line)
            except ValueError as error:
                raise PartsUnusable(f"{path}: line {number} is not JSON ({error})") from None
            yield number, record


def read_head(path: Path) -> Mapping[str, Any]:
    """The head alone (cheap): which run and shard a file is."""
    try:
        for number, record in _records(path):
            _check(path, number, record, "head")
            head: Mapping[str, Any] = record["head"]
            return head
    except OSError as error:
        raise PartsUnusable(f"{path}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise PartsUnusable(f"{path}: not UTF-8 text") from None
    raise PartsUnusable(f"{path}: empty, not a {SCHEMA_ID} part")


def _check(path: Path, number: int, record: Any, wanted: str) -> None:
    if not isinstance(record, dict) or wanted not in record:
        what = "a head, with the schema" if wanted == "head" else f"a {wanted} record"
        if number == 1 and not (isinstance(record, dict) and record.get("schema") == SCHEMA_ID):
            raise PartsUnusable(f"{path}: not a {SCHEMA_ID} part (preflight audit --shard)")
        raise PartsUnusable(f"{path}: line {number}: expected {what}")
    problem = next(iter(sorted(_validator().iter_errors(record),
                               key=lambda e: list(map(str, e.absolute_path)))), None)
    if problem is not None:
        where = "/".join(map(str, problem.absolute_path)) or "the top level"
        raise PartsUnusable(f"{path}: line {number} is not a valid {SCHEMA_ID} record: at "
                            f"{where}: {problem.message}")


def read_part(path: Path) -> Part:
    """The part, every record checked; its scopes are read again when rendered."""
    head: Mapping[str, Any] | None = None
    end: Mapping[str, Any] | None = None
    counted = Tally()
    previous: tuple[str, str, bool, str] | None = None
    ends: list[tuple[int, str]] = []  # (line, tenant) of the first and the last scope
    try:
        for number, record in _records(path):
            if head is None:
                _check(path, number, record, "head")
                head = record["head"]
                continue
            if end is not None:
                raise PartsUnusable(f"{path}: line {number}: a record after the end")
            if "end" in record:
                _check(path, number, record, "end")
                end = record["end"]
                continue
            _check(path, number, record, "scope")
            scope = ScopeResult.from_dict(record["scope"])
            order = scope_order(scope.key)
            if previous is not None and order <= previous:
                raise PartsUnusable(f"{path}: line {number}: scope {scope.label} is out of "
                                    "order")
            previous = order
            counted.add(scope)
            ends[1:] = [(number, scope.tenant)]
    except OSError as error:
        raise PartsUnusable(f"{path}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise PartsUnusable(f"{path}: not UTF-8 text") from None
    if head is None:
        raise PartsUnusable(f"{path}: empty, not a {SCHEMA_ID} part")
    if end is None:
        raise PartsUnusable(f"{path}: cut short: no end record (was it copied while being "
                            "written?)")
    if counted.to_dict() != end["tally"]:
        raise PartsUnusable(f"{path}: its scope lines do not add up to its tally: edited, "
                            "or cut and joined?")
    span = end["range"]
    for number, tenant in ends:  # in order: every scope between them is in range too
        if span is None or not _within(tenant, span["start"], span["end"]):
            raise PartsUnusable(f"{path}: line {number}: tenant {tenant!r} is outside the "
                                "shard's range")
    return Part(path, head, end)


def _within(tenant: str, start: str | None, end: str | None) -> bool:
    return (start is None or tenant >= start) and (end is None or tenant < end)


class PartScopes(Sequence[ScopeResult]):
    """Every scope of the parts, in label order, read from the files each time it is walked."""

    def __init__(self, paths: Sequence[Path], total: int) -> None:
        self._paths = tuple(paths)
        self._total = total

    def __len__(self) -> int:
        return self._total

    def __iter__(self) -> Iterator[ScopeResult]:
        for path in self._paths:
            for _, record in _records(path):
                if "scope" in record:
                    yield ScopeResult.from_dict(record["scope"])

    @overload
    def __getitem__(self, index: int) -> ScopeResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ScopeResult]: ...

    def __getitem__(self, index: int | slice) -> ScopeResult | Sequence[ScopeResult]:
        if isinstance(index, slice):
            return list(itertools.islice(iter(self), *index.indices(self._total)))
        if not -self._total <= index < self._total:
            raise IndexError(index)
        return next(itertools.islice(iter(self), index % self._total, None))


# --------------------------------------------------------------------------- finding them

def find(arguments: Sequence[str]) -> list[Path]:
    """The files named, and the parts in the folders named."""
    found: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            inside = sorted(path.glob(PATTERN))
            if not inside:
                raise PartsUnusable(f"{argument}: no part in this folder ({PATTERN})")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise PartsUnusable(f"{argument}: no such file or folder")
    return found


def of_run(paths: Sequence[Path], run: str | None) -> tuple[list[Path], int]:
    """The parts of `run` (all, if None), and how many others were left out."""
    if run is None:
        return list(paths), 0
    kept = [path for path in paths if read_head(path)["run"] == run]
    if not kept:
        raise PartsUnusable(f"no part of run {run!r} among the {len(paths)} given")
    return kept, len(paths) - len(kept)


def read_end(path: Path) -> Mapping[str, Any] | None:
    """The end record alone, read from the file's end (a part can be gigabytes): None if
    the last line is not one."""
    with path.open("rb") as stream:
        position = stream.seek(0, os.SEEK_END)
        tail = b""
        while position > 0 and b"\n" not in tail.rstrip(b"\n"):
            step = min(TAIL_CHUNK, position)
            position -= step
            stream.seek(position)
            tail = stream.read(step) + tail
    try:
        record = json.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    except ValueError:
        return None
    end: Mapping[str, Any] | None = record.get("end") if isinstance(record, dict) else None
    return end


def _final(path: Path) -> bool:
    """A part that read its whole range; one that says it failed or was interrupted may yet
    be replaced by its task's retry."""
    end = read_end(path)
    return end is not None and not end.get("error") and not end.get("interrupted_by")


def wait_for(folder: Path, shard: Shard, run: str, seconds: float,
             stop: threading.Event) -> list[Path] | None:
    """Every part of this run and shard count in `folder`, waiting up to `seconds` for them
    and for the retry of any that failed (at the deadline a failed part is merged as it is:
    the report says why); None if `stop` is set first (a signal); PartsUnusable naming the
    ones still missing when the time is up."""
    deadline = time.monotonic() + seconds
    final: set[Path] = set()  # replaced only by a rename: a clean part stays clean
    while True:
        present: dict[int, Path] = {}
        for path in sorted(folder.glob(f"audit-part-*-of-{shard.count:04d}.jsonl")):
            head = read_head(path)
            if head["run"] == run and head["shard"]["count"] == shard.count:
                present[head["shard"]["index"]] = path
        final |= {path for path in present.values() if path in final or _final(path)}
        complete = len(present) == shard.count
        if complete and final.issuperset(present.values()):
            return [present[index] for index in range(shard.count)]
        if stop.wait(max(0.0, min(WAIT_POLL, deadline - time.monotonic()))):
            return None
        if time.monotonic() >= deadline:
            if complete:
                return [present[index] for index in range(shard.count)]
            missing = ", ".join(f"{index}/{shard.count}" for index in range(shard.count)
                                if index not in present)
            raise PartsUnusable(f"no part of shard(s) {missing} of run {run!r} in {folder} "
                                f"after waiting {seconds:g} s: those tasks did not finish")


# --------------------------------------------------------------------------- merging

SAME = ("run", "preflight_version", "target", "judging", "kinds")
WHAT = {"run": "run", "preflight_version": "preflight version", "target": "registry or profile",
        "judging": "profile rules or engines' variables", "kinds": "profile kinds"}


def check_together(parts: Sequence[Part]) -> list[Part]:
    """The parts, in shard order, if they make one audit; PartsUnusable saying why not."""
    if not parts:
        raise PartsUnusable("no part given")
    first = parts[0]
    for part in parts[1:]:
        for key in SAME:
            if part.head[key] != first.head[key]:
                hint = " (--run picks one run's parts)" if key == "run" else ""
                raise PartsUnusable(f"parts of different audits ({WHAT[key]} differs): "
                                    f"{first.name} and {part.name}{hint}")
        if part.shard.count != first.shard.count:
            raise PartsUnusable(f"parts of different shard counts: {first.name} and "
                                f"{part.name}")
    count = first.shard.count
    by_index: dict[int, Part] = {}
    for part in parts:
        twin = by_index.setdefault(part.shard.index, part)
        if twin is not part:
            raise PartsUnusable(f"shard {part.shard.label} twice: {twin.path} and {part.path}")
    missing = [f"{index}/{count}" for index in range(count) if index not in by_index]
    if missing:
        raise PartsUnusable(f"missing the part of shard(s) {', '.join(missing)} ({len(parts)} "
                            f"of {count} given): the report would leave tenants out")
    ordered = [by_index[index] for index in range(count)]
    if any(part.end["error"] or part.end["interrupted_by"] for part in ordered):
        return ordered  # the report says why the registry was not read; no ranges to tile
    for before, after in itertools.pairwise([None, *ordered, None]):
        end = before.end["range"]["end"] if before is not None else None
        start = after.end["range"]["start"] if after is not None else None
        if end != start:
            raise PartsUnusable(
                f"the shards' ranges do not tile the tenant index: "
                f"{before.name if before else 'the beginning'} ends at {_shown(end)} but "
                f"{after.name if after else 'the end'} starts at {_shown(start)} (the "
                "registry changed while the tasks computed their ranges: run the audit "
                "again)")
    return ordered


def _shown(bound: str | None) -> str:
    return "the index's end" if bound is None else repr(bound)


def merged(parts: Sequence[Part]) -> AuditReport:
    """The report of the whole registry from the parts (check_together's order)."""
    heads = [part.head for part in parts]
    ends = [part.end for part in parts]
    started = min(datetime.fromisoformat(head["started_at"]) for head in heads)
    finished = max(datetime.fromisoformat(end["finished_at"]) for end in ends)
    head = heads[0]
    kinds = tuple(KindColumn(k["name"], k["at"], k["scope"]) for k in head["kinds"])
    documents, pages, resumed = (sum(end[name] for end in ends)
                                 for name in ("documents", "pages", "resumed"))
    signal = next((end["interrupted_by"] for end in ends if end["interrupted_by"]), None)
    failed = [(part, part.end["error"]) for part in parts if part.end["error"]]
    if signal is not None or failed:
        error = None
        if failed:
            part, found = next(((p, e) for p, e in failed if not e["transient"]), failed[0])
            error = ReadError(found["check"], f"shard {part.shard.label}: {found['message']}",
                              found["remediation"], found["transient"])
        return AuditReport(started, finished, head["target"], kinds, error=error,
                           interrupted_by=signal, documents=documents, pages=pages,
                           resumed=resumed)
    tally = Tally()
    for end in ends:
        tally += Tally.from_dict(end["tally"])
    unplaced = sorted(Unplaced(u["document"], u["reason"]) for end in ends
                      for u in end["unplaced"])[:KEPT_UNPLACED]
    counts = {"near_misses_not_listed": sum(end["near_misses_not_listed"] for end in ends),
              "unplaced_not_listed": sum(end["unplaced_total"] for end in ends) - len(unplaced)}
    return AuditReport(started, finished, head["target"], kinds,
                       PartScopes([part.path for part in parts], tally.scopes),
                       tuple(registry_findings(unplaced)), tally=tally,
                       counts={name: count for name, count in counts.items() if count},
                       documents=documents, pages=pages, resumed=resumed)
