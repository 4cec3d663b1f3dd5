"""Run a command in this process with every gRPC channel intercepted, then report the RPCs.

    python -m bench.counted_cli preflight check ...        # preflight.app.cli.main
    python -m bench.counted_cli script bench/minimal_script.py

The counts (method -> calls) are written as JSON to $BENCH_RPC_COUNT_FILE at exit, whether
the program leaves through `sys.exit` or preflight's `os._exit`, and the documents streamed
answers returned (method -> documents) to $BENCH_DOCUMENT_COUNT_FILE. Used for RPC counts only:
it imports grpc up front, so its wall time is not preflight's.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
from typing import Any, NoReturn

import grpc

from bench.engines_loop import RpcCounter

COUNTER = RpcCounter()
_insecure_channel = grpc.insecure_channel
_secure_channel = grpc.secure_channel
_os_exit = os._exit
_state = {"written": False}


def _insecure(target: str, *args: Any, **kwargs: Any) -> Any:
    return grpc.intercept_channel(_insecure_channel(target, *args, **kwargs), COUNTER)


def _secure(target: str, *args: Any, **kwargs: Any) -> Any:
    return grpc.intercept_channel(_secure_channel(target, *args, **kwargs), COUNTER)


def _write() -> None:
    if _state["written"]:
        return
    _state["written"] = True
    path = os.environ.get("BENCH_RPC_COUNT_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as stream:
            json.dump(COUNTER.snapshot(), stream)
    documents = os.environ.get("BENCH_DOCUMENT_COUNT_FILE")
    if documents:
        with open(documents, "w", encoding="utf-8") as stream:
            json.dump(COUNTER.documents_snapshot(), stream)


def _exit(status: int) -> NoReturn:
    _write()
    _os_exit(status)


def main() -> None:
    grpc.insecure_channel = _insecure
    grpc.secure_channel = _secure
    os._exit = _exit
    atexit.register(_write)
    what, *rest = sys.argv[1:]
    if what == "preflight":
        from preflight.app.cli import main as preflight_main

        sys.argv = ["preflight", *rest]
        preflight_main(rest)
    elif what == "script":
        sys.argv = rest
        runpy.run_path(rest[0], run_name="__main__")
    else:
        raise SystemExit(f"usage: python -m bench.counted_cli preflight|script ARGS (got {what})")


if __name__ == "__main__":
    main()
