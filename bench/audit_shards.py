"""The audit in shards (issue 23): `preflight audit --shard I/N` tasks at once, then the merge.

For each fleet (bench/audit_scale.py) and shard count: every shard's process started at
once, as a Cloud Run job's tasks or an Indexed Job's pods start, against the one emulator;
each one's wall time and peak RSS (GNU time, as bench/measure.py explains); what its part
says it read and what finding its range cost; then `preflight audit merge` of the parts
with every report written, its wall time, CPU and peak RSS, and the merged report checked
against what the fleet must give. The sum of the documents the shards' pages read must be
the registry: none twice, none missed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import audit_scale
from bench.measure import run_process


def _end(path: Path) -> dict[str, Any]:
    with path.open("rb") as stream:
        stream.seek(max(0, path.stat().st_size - 1_000_000))
        last = stream.read().decode("utf-8").strip().splitlines()[-1]
    end: dict[str, Any] = json.loads(last)["end"]
    return end


def measure(preflight: str, env: Mapping[str, str], root: Path, count: int,
            want: Mapping[str, int], fail: Callable[[str], None],
            call_timeout: float) -> dict[str, Any]:
    """One sharded audit of the seeded fleet: the shards at once, then the merge."""
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as folder:
        parts = Path(folder) / "parts"
        reports = Path(folder) / "reports"
        parts.mkdir()
        reports.mkdir()

        def shard(index: int) -> Any:
            return run_process([preflight, "audit", "--shard", f"{index}/{count}",
                                "--report-dir", str(parts), "--run", "bench",
                                "--timeout", "7200", "--attempt-timeout", str(call_timeout)],
                               env, cwd=root, rss=True, timeout=7800)

        started = time.monotonic()
        with ThreadPoolExecutor(count) as pool:
            runs = list(pool.map(shard, range(count)))
        all_done = time.monotonic() - started
        rows = []
        for index, run in enumerate(runs):
            path = parts / f"audit-part-{index:04d}-of-{count:04d}.jsonl"
            if run.returncode != 0 or not path.exists():
                fail(f"shards: shard {index}/{count} exited {run.returncode}; {run.describe()}")
                return {}
            end = _end(path)
            rows.append({"wall_s": run.wall_s, "cpu_s": run.user_s + run.sys_s,
                         "rss_mib": run.max_rss_kib / 1024 if run.max_rss_kib >= 0 else None,
                         "documents": end["documents"], "read": end["read"],
                         "pages": end["pages"], "scopes": end["tally"]["scopes"],
                         "part_bytes": path.stat().st_size,
                         "range": end["range"], "index": end["index"]})
        read = sum(row["read"] for row in rows)
        if read != want["documents"]:
            fail(f"shards: {count} shard(s) read {read} documents, the registry holds "
                 f"{want['documents']}")
        merge = run_process([preflight, "audit", "merge", str(parts), "--format", "json",
                             "--report-dir", str(reports)], env, cwd=root, rss=True,
                            timeout=3600)
        try:
            report = json.loads(merge.stdout)
        except ValueError:
            fail(f"shards: the merge gave no JSON report; {merge.describe()}")
            return {}
        got = {"documents": report["registry"]["documents"],
               "scopes": report["registry"]["scopes"], **report["summary"]["scopes"]}
        if merge.returncode != 1 or got != dict(want):
            fail(f"shards: the merge of {count} part(s): expected exit 1 and {dict(want)}, "
                 f"got exit {merge.returncode} and {got}")
        return {"count": count, "shards": rows, "all_done_s": all_done,
                "slowest_s": max(row["wall_s"] for row in rows), "read": read,
                "merge": {"wall_s": merge.wall_s, "cpu_s": merge.user_s + merge.sys_s,
                          "rss_mib": merge.max_rss_kib / 1024 if merge.max_rss_kib >= 0
                          else None,
                          "reports_bytes": {p.name: p.stat().st_size
                                            for p in sorted(reports.iterdir())}}}


def run(preflight: str, address: str, root: Path, plan: Mapping[int, Sequence[int]],
        fail: Callable[[str], None], log: Callable[[str], None],
        call_timeout: float, clear: Callable[[str], None]) -> dict[str, Any]:
    sizes = []
    for documents, counts in sorted(plan.items()):
        project = f"bench-shards-{documents}"
        want = audit_scale.expected(documents)
        started = time.monotonic()
        written = audit_scale.write(address, project, documents)
        log(f"shards: seeded {written:,} documents in {time.monotonic() - started:.0f}s")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
               "FIRESTORE_EMULATOR_HOST": address, "GCP_PROJECT_ID": project}
        runs = []
        for count in counts:
            load_before = [round(x, 2) for x in os.getloadavg()]
            measured = measure(preflight, env, root, count, want, fail, call_timeout)
            if not measured:
                continue
            measured["load"] = {"before": load_before,
                                "after": [round(x, 2) for x in os.getloadavg()]}
            runs.append(measured)
            rss = [row["rss_mib"] for row in measured["shards"]]
            log(f"shards: {written:,} documents, {count} shard(s): slowest "
                f"{measured['slowest_s']:.1f}s, read {measured['read']:,}, RSS "
                f"{', '.join(f'{r:.0f}' for r in rss if r is not None)} MiB; merge "
                f"{measured['merge']['wall_s']:.1f}s")
        clear(project)
        sizes.append({"documents": written, "scopes": want["scopes"], "runs": runs})
    return {"sizes": sizes}
