"""What the runner runs: a check, with a stable name, what it needs, and one attempt.

A check only wires: its attempt observes (preflight.observe) and hands the observation to
its judge (preflight.judge, pure). Transient trouble is raised, not judged: the runner owns
retries, the deadline and concurrency.

A check is neutral (`skipped`) only when it does not apply at all; a configuration that
lacks what it needs is a failure, and a check whose `needs` did not pass is an error: a
pass must be earned by checking.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from preflight.config import Config
from preflight.core.result import Outcome
from preflight.run.context import Context


class Check(ABC):
    """One unit of the verdict. A fresh instance per run, so attempts may keep progress."""

    name: ClassVar[str]
    # Checks that must pass (or warn) before this one runs; if one did not, this one is an
    # error that names it (see Runner), never a neutral skip.
    needs: ClassVar[tuple[str, ...]] = ()
    # "startup": a failure means the engines will not start (or the contract forbids it);
    # "first_use": the engines start, and requests that need this fail.
    phase: ClassVar[str] = "startup"

    def needs_for(self, config: Config) -> tuple[str, ...]:
        """What this check needs with this configuration (by default: `needs`)."""
        return self.needs

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
