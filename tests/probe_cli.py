"""`python -m tests.probe_cli SUBJECTS.json check ARGS…`: preflight's real CLI, with
backends.reachable registered and fed the subjects in the JSON file.

This is the wiring the profile will do (register the check, hand it the registry's usable
routes), done here so the secrets audit can run the whole process, outputs and logs
included, before that lands. Nothing else of preflight is changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from preflight import checks
from preflight.backends import ProbeSubject
from preflight.checks.backends_reachable import BackendsReachable


def main() -> None:
    path, *argv = sys.argv[1:]
    subjects = [ProbeSubject(**entry) for entry in json.loads(Path(path).read_text())]

    class FedFromFile(BackendsReachable):
        def __init__(self) -> None:
            super().__init__(lambda _ctx: subjects)

    checks.REGISTRY = (*checks.REGISTRY, FedFromFile)
    checks.NAMES = tuple(check.name for check in checks.REGISTRY)
    from preflight.cli import main as preflight_main

    preflight_main(argv)


if __name__ == "__main__":
    main()
