"""Shards of the audit: which tenants each task reads, agreed on without talking. Pure.

A shard is a range of the registry's `tenant_id` index: `[start, end)`, read in the index's
order (Firestore orders by type first: null, booleans, numbers, timestamps, then strings,
then bytes, references, geo points, arrays, maps). Shard 0 starts at the index's beginning
and the last shard runs to its end, so the ranges cover every document that has a
`tenant_id` of any type, each once. Every boundary between two shards is a tenant id (a
string): a tenant's documents, and so each of its scopes, are never split.

Every task computes the boundaries it needs from the same counts, by the same steps, so
tasks agree as long as the registry does not change while they compute them (the merge
checks that the parts' ranges tile the index). Boundary `j` is a tenant id `s` whose count
`F(s)` (documents before `s` in the index) is near `j/N` of the documents — within 1/20 of a
shard's share, unless one tenant is larger than that — found by bisection: between two
tenant ids known to bracket the target, a key halfway between the lowest and the highest
tenant id inside (as strings), moved up to the first tenant id at or after it, and one COUNT
of the documents between the lower end and it. Counts are kept, so the steps two boundaries
share are counted once.

Documents that lack `tenant_id` are in no range (an ordered query leaves them out): shard 0
compares the count of the whole collection with the index's and, only when they differ,
finds them by reading the collection in document-id order (see preflight/audit/command.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from preflight.core.errors import ConfigError

MAX_STEPS = 64  # bisection steps per boundary, at most; each moves one end of the bracket
BALANCE = 20  # stop once the bracket holds at most 1/BALANCE of a shard's share
SURROGATES = range(0xD800, 0xE000)  # not characters: no Firestore string holds one
TOP = 0x10FFFF
ASCII_TOP = 0x7F


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


SHARD = re.compile(r"(\d+)/(\d+)")
MAX_SHARDS = 10_000


def parse(text: str, where: str) -> Shard:
    match = SHARD.fullmatch(text.strip())
    if match is None:
        raise ConfigError(where, "INDEX/COUNT, e.g. 0/4 (the first of four shards)", text)
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARDS:
        raise ConfigError(where, f"a count of shards from 1 to {MAX_SHARDS:,}", text)
    if index >= count:
        raise ConfigError(where, f"an index below the count (0 to {count - 1})", text)
    return Shard(index, count)


def _number(environ: Mapping[str, str], name: str, beside: str | None = None) -> int:
    """`beside`: the variable the platform sets with this one (an unset one is named)."""
    value = environ.get(name, "").strip()
    if name not in environ and beside is not None:
        raise ConfigError(name, f"a whole number, set where {beside} is")
    if not value.isdigit():
        raise ConfigError(name, "a whole number", environ.get(name, ""))
    return int(value)


def from_platform(environ: Mapping[str, str], shards: str | None, where: str) -> Shard | None:
    """The shard a Cloud Run job task or a Kubernetes Indexed Job pod is, if it is one.

    Cloud Run sets CLOUD_RUN_TASK_INDEX and CLOUD_RUN_TASK_COUNT on every task, one task
    included: a job of one task is the ordinary, unsharded audit. Kubernetes sets
    JOB_COMPLETION_INDEX only: `shards` (--shards, the Job's completions) is the count.
    """
    shards = (shards or "").strip() or None
    if environ.get("CLOUD_RUN_TASK_INDEX", "").strip():
        index = _number(environ, "CLOUD_RUN_TASK_INDEX")
        count = _number(environ, "CLOUD_RUN_TASK_COUNT", beside="CLOUD_RUN_TASK_INDEX")
        if shards is not None and shards != str(count):
            raise ConfigError(where, f"the job's task count (CLOUD_RUN_TASK_COUNT={count}), "
                              "or unset", shards)
        return None if count == 1 else parse(f"{index}/{count}", "CLOUD_RUN_TASK_INDEX")
    if environ.get("JOB_COMPLETION_INDEX", "").strip():
        index = _number(environ, "JOB_COMPLETION_INDEX")
        if shards is None:
            raise ConfigError(where, "the Indexed Job's completions (how many shards), set "
                              "where JOB_COMPLETION_INDEX is")
        if not shards.isdigit():
            raise ConfigError(where, "a whole number of shards", shards)
        return parse(f"{index}/{shards}", "JOB_COMPLETION_INDEX")
    if shards is not None:
        raise ConfigError(where, "a shard index to go with it: --shard INDEX/COUNT, or a "
                          "Kubernetes Indexed Job (JOB_COMPLETION_INDEX)", shards)
    return None


# --------------------------------------------------------------------------- boundaries

class Index(Protocol):
    """The `tenant_id` index as the bisection asks it (preflight/observe/collection.py).

    `None` as `start` is the index's beginning, as `end` its end; a string bound is a cursor
    on the index, so `count(None, "")` counts the values that sort before every string.
    """

    def count(self, start: str | None, end: str | None) -> int:
        """Documents whose tenant_id is in [start, end)."""

    def first_string(self, at_least: str, end: str | None) -> str | None:
        """The smallest string tenant_id >= at_least and < end (if given), or None."""

    def last_string(self, below: str | None) -> str | None:
        """The greatest string tenant_id < below (if given), or None."""


class Bracket(NamedTuple):
    low: str  # a tenant id; documents before it: low_count
    low_count: int
    high: str | None  # a tenant id, or None: the end of the index
    high_count: int


class Splitter:
    """The boundaries between N shards of an index holding `total` documents."""

    def __init__(self, index: Index, total: int, count: int) -> None:
        self.index = index
        self.total = total
        self.count = count
        self._before: dict[str, int] = {}  # tenant id -> documents before it
        self._below: dict[str | None, str | None] = {}  # bound -> the last tenant id below it
        self._first: str | None = None
        self._first_known = False

    def before(self, tenant: str) -> int:
        """F(tenant): the documents before `tenant`, from the nearest known lower count."""
        if tenant not in self._before:
            lower = max((t for t in self._before if t is not None and t < tenant), default=None)
            base = 0 if lower is None else self._before[lower]
            self._before[tenant] = base + self.index.count(lower, tenant)
        return self._before[tenant]

    def range_of(self, shard: int) -> tuple[str | None, str | None]:
        """[start, end) of a shard: None for the index's beginning or end."""
        start = None if shard == 0 else self.boundary(shard)
        end = None if shard == self.count - 1 else self.boundary(shard + 1)
        return start, end

    def boundary(self, j: int) -> str:
        """The tenant id where shard j starts (0 < j < N)."""
        if not self._first_known:
            self._first = self.index.first_string("", None)
            self._first_known = True
        if self._first is None:
            return ""  # no string tenant id at all: every boundary before the strings
        # The target, j/N of the documents, compared exactly: F * N against j * total.
        target = j * self.total
        n = self.count
        bracket = Bracket(self._first, self.before(self._first), None, self.total)
        for _ in range(MAX_STEPS):
            low, low_count, high, high_count = bracket
            if low_count * n >= target:
                break  # the lowest tenant is already past the target
            if (high_count - low_count) * n * BALANCE <= self.total:
                break
            probe = self._between(low, high)
            if probe is None:
                break  # low and high are neighbours: nothing between them to try
            counted = self.before(probe)
            if counted * n < target:
                bracket = Bracket(probe, counted, high, high_count)
            else:
                bracket = Bracket(low, low_count, probe, counted)
        low, low_count, high, high_count = bracket
        # The nearest of the two; the lower on a tie, so boundaries never cross (a larger
        # target never picks a lower end of the same bracket).
        if high is None or abs(low_count * n - target) <= abs(high_count * n - target):
            return low
        return high

    def _between(self, low: str, high: str | None) -> str | None:
        """A tenant id after low and before high, near halfway between the tenant ids the
        bracket holds (as strings), or None when low is the only one."""
        if high not in self._below:
            self._below[high] = self.index.last_string(high)
        upper = self._below[high]
        if upper is None or upper <= low:
            return None
        reference = low
        if upper.startswith(low):
            # Halfway from low itself would be below every tenant that extends it.
            after = self.index.first_string(low + "\x00", high)
            if after is None or after >= upper:
                return upper
            reference = after
        return self.index.first_string(midpoint(reference, upper), high)


def _code(value: int) -> int:
    return SURROGATES.stop if value in SURROGATES else value


def midpoint(low: str, high: str) -> str:
    """A string m with low < m <= high, about halfway between them in Firestore's order.

    Strings order by code point (UTF-8 byte order is the same). Past the common prefix,
    the first differing characters are averaged; when they are neighbours, the key keeps
    low's character and goes halfway from low's next one to the top, the ASCII top first
    (tenant ids are mostly ASCII, and a key far above them would bisect nothing).
    """
    assert low < high
    size = 0
    while size < len(low) and size < len(high) and low[size] == high[size]:
        size += 1
    prefix = low[:size]
    if size == len(low):  # low is a prefix of high
        return high
    a, b = ord(low[size]), ord(high[size])
    if b - a >= 2:
        return prefix + chr(_code((a + b) // 2))
    rest = low[size + 1:]
    c = ord(rest[0]) if rest else -1
    top = ASCII_TOP if c < ASCII_TOP - 1 else TOP
    if top - c < 2:  # low's next character is already the top: nothing halfway
        return high
    return prefix + low[size] + chr(_code((c + top + 1) // 2))
