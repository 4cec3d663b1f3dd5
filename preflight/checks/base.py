"""What a check is: a stable name, what it needs, and one attempt that yields an Outcome.

A check's attempt observes (through `preflight.observe`) and hands the observation to a pure
judge function in the same module. Transient trouble is raised, not judged: the runner
owns retries, the deadline and concurrency.

A check is neutral (`skipped`) only when it does not apply at all; a configuration that
lacks what it needs is a failure, and a check whose `needs` did not pass is an error: a
pass must be earned by checking.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from preflight.config import Config
from preflight.report.verdict import Outcome

T = TypeVar("T")


class Context:
    """Per-run shared state: the config, the deadline and lazily built clients."""

    def __init__(self, config: Config, deadline: float) -> None:
        self.config = config
        self.deadline = deadline
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._shared: dict[str, Any] = {}
        self._round: dict[str, Any] = {}

    def begin_round(self) -> None:
        """What checks share within a round (the registry read) is read afresh each round."""
        with self._lock:
            self._round = {}

    def call_timeout(self) -> float:
        """The bound for one call: the attempt timeout, never past the deadline."""
        remaining = self.deadline - time.monotonic()
        return max(0.05, min(self.config.attempt_timeout, remaining))

    def shared(self, key: str, factory: Callable[[], T]) -> T:
        """Built once per run; a slow factory blocks only callers of the same key."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._shared:
                built = factory()
                with self._lock:
                    self._shared[key] = built
            value: T = self._shared[key]
            return value

    def round_shared(self, key: str, factory: Callable[[], T]) -> T:
        """Like `shared`, but only until the next round: observations, not clients."""
        with self._lock:
            store = self._round
            if key not in store:
                store[key] = factory()
            value: T = store[key]
            return value

    def put(self, key: str, value: object) -> None:
        with self._lock:
            self._shared[key] = value

    def get(self, key: str) -> Any:
        with self._lock:
            return self._shared.get(key)


class Check(ABC):
    """One unit of the verdict. A fresh instance per run, so attempts may keep progress."""

    name: ClassVar[str]
    # Checks that must pass (or warn) before this one runs; if one did not, this one is an
    # error that names it (see Runner), never a neutral skip.
    needs: ClassVar[tuple[str, ...]] = ()
    # "startup": a failure means the engines will not start (or the contract forbids it);
    # "first_use": the engines start, and requests that need this fail.
    phase: ClassVar[str] = "startup"

    def skip_reason(self, config: Config) -> str | None:
        """Why this check does not apply to this configuration at all (neutral), if so."""
        return None

    def unconfigured(self, config: Config) -> Outcome | None:
        """The failure to report when the configuration lacks what this check needs."""
        return None

    def attempt_budget(self, config: Config) -> float:
        """How long one attempt may take before the runner gives up on it as hung."""
        return config.attempt_timeout + 1.0

    @abstractmethod
    def attempt(self, ctx: Context) -> Outcome:
        """One try. Raise for transient trouble; return an Outcome for any answer."""
