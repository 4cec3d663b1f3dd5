"""`python -m tests.probe_cli SUBJECTS.json check ARGS…`: preflight's real CLI, with
backends.reachable fed the subjects in the JSON file instead of the registry's routes.

The secrets audit plants canaries in every config key of every backend: feeding them
directly lets it cover backends no route of the test registry would name. Nothing else
of preflight is changed. Backends the profile marks unusable are probed all the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from preflight import checks
from preflight.checks.backends_reachable import BackendsReachable
from preflight.contract.targets import ProbeSubject
from tests.probing import route_subject, usable_everywhere, variable

SUBJECTS: list[ProbeSubject] = []


class FedFromFile(BackendsReachable):
    def __init__(self) -> None:
        super().__init__(lambda _ctx: SUBJECTS)


def main() -> None:
    path, *argv = sys.argv[1:]
    # As probe_subjects makes them: each route with its kind's spec (backends the engines
    # cannot use at this version included), each variable with what its backend reads.
    profile = usable_everywhere()
    SUBJECTS[:] = [variable(entry["kind"], entry["backend"], profile)
                   if entry["kind"] == entry["origin"] else route_subject(profile, **entry)
                   for entry in json.loads(Path(path).read_text())]
    checks.CHECKS[BackendsReachable.name] = f"{__name__}:FedFromFile"
    from preflight.app.cli import main as preflight_main

    preflight_main(argv)


if __name__ == "__main__":
    main()
