"""What the checks of one run share: the config, the deadline, and the run's clients.

Each client has one accessor that builds it once per run, so every check talking to a
dependency uses the same client: S3 and DynamoDB are called with the very credentials STS
vouched for, Firestore with the ones gcp.credentials refreshed. The registry is read once
per round and shared by every check that judges routes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from preflight.config import Config
from preflight.contract.route_model import RouteDoc
from preflight.core.scope import Scope
from preflight.observe import aws, firestore, s3
from preflight.observe.registry import RegistryRead

T = TypeVar("T")


class Context:
    def __init__(self, config: Config, deadline: float) -> None:
        self.config = config
        self.deadline = deadline
        self.gcp_credentials: Any = None  # set by gcp.credentials once refreshed
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._clients: dict[str, Any] = {}
        self._registry: RegistryRead | None = None

    @property
    def client_timeout(self) -> float:
        """What every client is built with: one call's bound, as configured."""
        return self.config.attempt_timeout

    def begin_round(self) -> None:
        """The registry is read afresh each round; clients live as long as the run."""
        with self._lock:
            self._registry = None

    def call_timeout(self) -> float:
        """The bound for one call: the attempt timeout, never past the deadline."""
        remaining = self.deadline - time.monotonic()
        return max(0.05, min(self.config.attempt_timeout, remaining))

    def cached(self, key: str, factory: Callable[[], T]) -> T:
        """Built once per run; a slow factory blocks only callers of the same key."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._clients:
                built = factory()
                with self._lock:
                    self._clients[key] = built
            value: T = self._clients[key]
            return value

    def principal(self) -> str | None:
        """The Google service account the refreshed credentials belong to, if one."""
        principal = getattr(self.gcp_credentials, "service_account_email", None)
        return principal if isinstance(principal, str) else None

    def firestore_client(self) -> Any:
        config = self.config
        assert config.project is not None
        return self.cached("firestore", lambda: firestore.make_client(
            config.project or "", config.database, self.gcp_credentials))

    def aws_session(self) -> Any:
        return self.cached("aws.session", lambda: aws.make_session(
            self.client_timeout, self.config.aws_web_identity))

    def s3_client(self) -> Any:
        return self.cached("s3", lambda: s3.make_client(self.client_timeout,
                                                        self.aws_session()))

    def registry(self) -> RegistryRead:
        """This round's read of the registry, at every scope a route is looked up at."""
        with self._lock:
            if self._registry is None:
                self._registry = RegistryRead(self.config.collection,
                                              self.config.every_scope())
            return self._registry

    def routes(self) -> dict[Scope, list[RouteDoc]]:
        """Every route document at every scope, as this round read them (reading what is
        still unread; transient trouble and refusals are raised)."""
        return self.registry().by_scope(self.firestore_client(), self.call_timeout)

    def nearby(self, scope: Scope) -> firestore.Pages:
        """Every document of the scope's tenant and env, project or not: for near misses."""
        return self.registry().nearby(self.firestore_client(), self.call_timeout, scope)
