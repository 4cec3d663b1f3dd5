"""Retry policy as data: how long to wait before the next try, and until when.

What is transient is decided once (observe/errors.py): observations raise `Transient`
for it, and that is the only exception retried here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity

from preflight.observe.errors import Transient


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, capped; the cap bounds time-to-green."""

    initial: float = 0.2
    cap: float = 2.0

    def wait(self) -> tenacity.wait.wait_base:
        return tenacity.wait_random_exponential(multiplier=self.initial, max=self.cap)

    def delay(self, attempt_number: int) -> float:
        """The same wait outside a tenacity loop: between rounds of --wait and serve."""
        state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt_number
        return float(self.wait()(state))


LAST_ATTEMPT_MARGIN = 0.1  # seconds: no new attempt this close to the deadline


class Cancelled(Exception):
    """The run was stopped (deadline or signal) while a check was waiting to retry."""


def retrying(
    backoff: Backoff,
    deadline: float,
    cancel: threading.Event,
    on_retry: Callable[[tenacity.RetryCallState], None],
) -> tenacity.Retrying:
    """A tenacity policy that retries up to the deadline and wakes up on cancel.

    The last wait is cut short rather than skipped, so a dependency that comes back in the
    final second is still seen; the runner abandons whatever attempt is in flight at the
    deadline itself.
    """

    def past_deadline(_state: tenacity.RetryCallState) -> bool:
        return cancel.is_set() or time.monotonic() >= deadline - LAST_ATTEMPT_MARGIN

    def sleep(seconds: float) -> None:
        remaining = deadline - LAST_ATTEMPT_MARGIN - time.monotonic()
        if cancel.wait(max(0.0, min(seconds, remaining))):
            raise Cancelled

    kwargs: dict[str, Any] = {
        "retry": tenacity.retry_if_exception_type(Transient),
        "wait": backoff.wait(),
        "stop": past_deadline,
        "sleep": sleep,
        "before_sleep": on_retry,
        "reraise": True,
    }
    return tenacity.Retrying(**kwargs)
