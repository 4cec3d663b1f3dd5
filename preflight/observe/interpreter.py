"""Which client libraries import in the engines' Python: `preflight exec` only.

The engines import their backend's client library when they first build it; their
requirements may not bring it (docs/ENGINES.md §5.9). In `preflight exec`, the engines'
interpreter is in this container: one child process of it imports each library, with
preflight's environment (the command inherits what preflight was started with), writing no
bytecode.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.contract.targets import Endpoint
from preflight.observe.clients import Clients
from preflight.observe.errors import Transient

# Imports each module named on the command line; prints {module: error class} as JSON.
IMPORTS = ("import importlib, json, sys\n"
           "failed = {}\n"
           "for name in sys.argv[1:]:\n"
           "    try:\n"
           "        importlib.import_module(name)\n"
           "    except BaseException as error:\n"
           "        failed[name] = type(error).__name__\n"
           "print(json.dumps(failed))\n")


@dataclass(frozen=True, repr=False)
class InterpreterEndpoint(Endpoint):
    backend = "interpreter"
    python: str  # a path: not secret
    modules: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ImportsObservation:
    failed: Mapping[str, str] = field(default_factory=dict)  # module -> its error's class
    not_started: str | None = None  # why the interpreter could not run at all


def observe(endpoint: InterpreterEndpoint, timeout: float, clients: Clients,
            ) -> ImportsObservation:
    try:
        ran = subprocess.run([endpoint.python, "-B", "-c", IMPORTS, *endpoint.modules],
                             capture_output=True, text=True, timeout=timeout, check=False,
                             env=dict(os.environ), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        raise Transient(error, f"{endpoint.python} did not import the client libraries "
                        f"within {timeout:g}s") from error
    except OSError as error:
        return ImportsObservation(not_started=type(error).__name__)
    try:
        failed = json.loads(ran.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return ImportsObservation(not_started=f"exit status {ran.returncode}")
    if not isinstance(failed, dict):
        return ImportsObservation(not_started="an unexpected answer")
    return ImportsObservation({str(name): str(kind) for name, kind in failed.items()})
