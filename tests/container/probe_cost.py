"""What one exec probe costs, measured inside the image next to a running `preflight serve`.

    podman exec CONTAINER /opt/venv/bin/python -c "$(cat probe_cost.py)" RUNS

Runs `preflight probe startup` RUNS times as the kubelet would (a fresh process each time,
against a serve that has passed), then the bare interpreter (`python3 -I -c pass`) as the
floor, and prints one JSON document: wall time (median, 90th percentile) and CPU time
(user + system, from getrusage of the children) per run, and the largest RSS. The
kubelet's and the runtime's own cost of an exec (runc) is not included.
"""

import json
import resource
import statistics
import subprocess
import sys
import time


def measure(argv: list[str], runs: int) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              check=False)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{argv} exited {done.returncode}")
    walls.sort()
    return {"wall_ms_median": round(statistics.median(walls) * 1000, 1),
            "wall_ms_p90": round(walls[int(0.9 * (len(walls) - 1))] * 1000, 1),
            "cpu_ms_median": round(statistics.median(cpus) * 1000, 1),
            "cpu_ms_mean": round(statistics.fmean(cpus) * 1000, 1)}


runs = int(sys.argv[1])
probe = measure(["/opt/venv/bin/preflight", "probe", "startup"], runs)
probe["max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
floor = measure(["/usr/bin/python3", "-I", "-c", "pass"], runs)
print(json.dumps({"runs": runs, "python": sys.version.split()[0],
                  "preflight probe startup": probe, "python3 -I -c pass": floor}))
