"""A gRPC forwarder that drops request headers on the way: HTTP/2 headers, edited.

The Firestore emulator enforces security rules only on requests without its owner token,
and the Python client always sends `authorization: Bearer owner`. A TCP forwarder cannot
edit HTTP/2 headers; this one terminates each call (grpcio's generic handlers, messages as
raw bytes), drops the named metadata and makes the same call upstream, so the emulator
answers as it would answer a workload that is not the owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

# Firestore's streaming methods; every other method is unary.
SERVER_STREAMING = frozenset({"RunQuery", "BatchGetDocuments", "RunAggregationQuery"})
BIDI_STREAMING = frozenset({"Listen", "Write"})


def _remaining(context: grpc.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    return remaining if remaining is not None and remaining < 86_400 else None


class HeaderDroppingForwarder(grpc.GenericRpcHandler):
    """Listens on a free loopback port; forwards every call to `target` minus `drop`."""

    def __init__(self, target: str, drop: frozenset[str] = frozenset({"authorization"})) -> None:
        self.drop = drop
        self.calls: list[str] = []
        self.upstream = grpc.insecure_channel(target)
        self.server = grpc.server(ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers((self,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=None)
        self.upstream.close()

    def _metadata(self, details: grpc.HandlerCallDetails) -> list[tuple[str, Any]]:
        return [(key, value) for key, value in details.invocation_metadata
                if key.lower() not in self.drop and not key.startswith(":")
                and not key.lower().startswith("grpc-") and key.lower() != "user-agent"]

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        method: str = handler_call_details.method
        name = method.rsplit("/", 1)[-1]
        metadata = self._metadata(handler_call_details)
        self.calls.append(name)

        def abort(context: grpc.ServicerContext, error: grpc.RpcError) -> None:
            context.abort(error.code(), error.details() or "")

        if name in SERVER_STREAMING:
            def server_streaming(request: bytes, context: grpc.ServicerContext,
                                 ) -> Iterator[bytes]:
                call = self.upstream.unary_stream(method)(
                    request, metadata=metadata, timeout=_remaining(context))
                try:
                    yield from call
                except grpc.RpcError as error:
                    abort(context, error)

            return grpc.unary_stream_rpc_method_handler(server_streaming)
        if name in BIDI_STREAMING:
            def bidi(requests: Iterator[bytes], context: grpc.ServicerContext,
                     ) -> Iterator[bytes]:
                call = self.upstream.stream_stream(method)(
                    requests, metadata=metadata, timeout=_remaining(context))
                try:
                    yield from call
                except grpc.RpcError as error:
                    abort(context, error)

            return grpc.stream_stream_rpc_method_handler(bidi)

        def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                response: bytes = self.upstream.unary_unary(method)(
                    request, metadata=metadata, timeout=_remaining(context))
            except grpc.RpcError as error:
                abort(context, error)
                raise
            return response

        return grpc.unary_unary_rpc_method_handler(unary)
