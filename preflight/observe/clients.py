"""The run's clients as a probe sees them: a leaf, so that every backend's module can
name it without importing the prober that imports them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from preflight.config import Config

T = TypeVar("T")


class Clients(Protocol):
    """The run's clients, built once and shared between probes and checks, the call
    timeout they are built with (the configured attempt timeout), and the run's config."""

    @property
    def config(self) -> Config: ...

    @property
    def client_timeout(self) -> float: ...

    def cached(self, key: str, factory: Callable[[], T]) -> T: ...

    def aws_session(self) -> Any: ...

    def s3_client(self) -> Any: ...
