"""The engines' own start-up loop, reproduced, and a gRPC interceptor that counts RPCs.

The engines look every route up by fields, one query per required kind, one after the
other (ENGINES.md):

    resource_kind == K AND tenant_id == T AND env == E AND project_id == P   limit(1)

`engines_loop` does exactly that, on a Firestore client whose channel goes through
`RpcCounter`, a real `grpc` client interceptor: the benchmark counts RPCs as they leave
the process, never by reasoning about the code.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.client import Client

from preflight.core.scope import Scope
from tests.harness import ENGINES_REFUSED


class RpcCounter(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Counts every RPC started on an intercepted channel, by method, and the documents the
    streamed answers carry (what real Firestore bills for) (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_method: Counter[str] = Counter()
        self.documents: Counter[str] = Counter()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.by_method.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.by_method)

    def documents_snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.documents)

    def _count(self, details: grpc.ClientCallDetails) -> str:
        method = details.method
        name = (method.decode() if isinstance(method, bytes) else str(method)).rsplit("/", 1)[-1]
        with self._lock:
            self.by_method[name] += 1
        return name

    def _count_document(self, method: str, response: Any) -> None:
        message = getattr(response, "_pb", response)
        has_field = getattr(message, "HasField", None)
        try:
            present = bool(has_field and has_field("document"))
        except ValueError:  # a response type without a document field
            present = False
        if present:
            with self._lock:
                self.documents[method] += 1

    def intercept_unary_unary(self, continuation: Callable[..., Any],
                              client_call_details: grpc.ClientCallDetails,
                              request: Any) -> Any:
        self._count(client_call_details)
        return continuation(client_call_details, request)

    def intercept_unary_stream(self, continuation: Callable[..., Any],
                               client_call_details: grpc.ClientCallDetails,
                               request: Any) -> Any:
        method = self._count(client_call_details)
        return _CountedStream(continuation(client_call_details, request),
                              lambda response: self._count_document(method, response))

    def intercept_stream_unary(self, continuation: Callable[..., Any],
                               client_call_details: grpc.ClientCallDetails,
                               request_iterator: Any) -> Any:
        self._count(client_call_details)
        return continuation(client_call_details, request_iterator)

    def intercept_stream_stream(self, continuation: Callable[..., Any],
                                client_call_details: grpc.ClientCallDetails,
                                request_iterator: Any) -> Any:
        self._count(client_call_details)
        return continuation(client_call_details, request_iterator)


class _CountedStream:
    """A streamed call that reports each response it yields; everything else is the call's."""

    def __init__(self, call: Any, seen: Callable[[Any], None]) -> None:
        self._call = call
        self._seen = seen

    def __iter__(self) -> _CountedStream:
        return self

    def __next__(self) -> Any:
        response = next(self._call)
        self._seen(response)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class CountingClient(Client):
    """google-cloud-firestore's own Client, with its emulator channel intercepted."""

    def __init__(self, *args: Any, counter: RpcCounter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rpc_counter = counter

    def _emulator_channel(self, transport: Any) -> Any:
        channel = super()._emulator_channel(transport)  # type: ignore[no-untyped-call]
        return grpc.intercept_channel(channel, self.rpc_counter)

    def _firestore_api_helper(self, transport: Any, client_class: Any, client_module: Any) -> Any:
        if self._emulator_host is None:
            raise RuntimeError("CountingClient counts RPCs against the emulator only "
                               "(set FIRESTORE_EMULATOR_HOST)")
        return super()._firestore_api_helper(transport, client_class, client_module)


def counting_client(project: str, counter: RpcCounter) -> CountingClient:
    """A fresh client (and so a fresh channel: a cold start) for the emulator."""
    return CountingClient(project=project, counter=counter)


@dataclass
class LoopResult:
    found: int = 0
    missing: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.refused


def engines_loop(client: Any, collection: str, scopes: Sequence[Scope],
                 kinds: Sequence[str],
                 refused: frozenset[str] = frozenset(ENGINES_REFUSED)) -> LoopResult:
    """For each scope, for each kind, sequentially: the engines' field lookup with limit(1)."""
    result = LoopResult()
    routes = client.collection(collection)
    for scope in scopes:
        for kind in kinds:
            query = (routes
                     .where(filter=FieldFilter("resource_kind", "==", kind))
                     .where(filter=FieldFilter("tenant_id", "==", scope.tenant))
                     .where(filter=FieldFilter("env", "==", scope.env))
                     .where(filter=FieldFilter("project_id", "==", scope.project))
                     .limit(1))
            first = next(iter(query.stream()), None)
            if first is None:
                result.missing.append(f"{scope.label}:{kind}")
                continue
            data = first.to_dict() or {}
            backend = str(data.get("backend_type", "")).strip().lower()
            if backend in refused:
                result.refused[f"{scope.label}:{kind}"] = backend
            else:
                result.found += 1
    return result
