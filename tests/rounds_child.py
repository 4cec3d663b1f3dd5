"""A child process for tests: `preflight check --wait` rounds, with RSS after each one.

    python -m tests.rounds_child ROUNDS OUT.json -- [check options]

Runs the real command layer (`Run.prepare`) and the real `Session` rounds and pauses that
`check --wait` and `exec --wait` use, with collection switched off at start exactly as
`preflight.app.cli.main` does; only the backoff between rounds is made short, so that hundreds
of rounds fit in a test. Writes the resident set size (KiB) measured after each round, the
cyclic garbage automatic collection freed during the rounds, and what is left at the end.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

from preflight.app import cli
from preflight.run.retry import Backoff


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    rounds, out, *rest = sys.argv[1:]
    options = rest[1:] if rest[:1] == ["--"] else rest
    gc.disable()  # as preflight.app.cli.main does at start
    context = cli.check.make_context("check", list(options))
    run = cli.Run.prepare(context, dict(context.params), live=False)
    session = run.session
    session.backoff = Backoff(initial=0.001, cap=0.002)
    samples = []
    for _ in range(int(rounds)):
        verdict = session.run_round()
        samples.append({"rss_kib": rss_kib(), "failed": verdict.failed,
                        "gc_enabled": gc.isenabled()})
        if not session.pause():
            break
    collected = sum(generation["collected"] for generation in gc.get_stats())
    unreachable = gc.collect()  # cyclic garbage not collected yet
    Path(out).write_text(json.dumps({"rounds": samples, "collected_during_rounds": collected,
                                     "garbage_at_end": unreachable}))


if __name__ == "__main__":
    main()
