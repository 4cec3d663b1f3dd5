"""When this process started, on the monotonic clock.

The deadline is counted from the process's own start, not from the moment our code first
runs: interpreter start-up and imports are part of the budget an init container spends.
"""

import os
import time


def _process_start() -> float:
    now = time.monotonic()
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        with open("/proc/uptime", "rb") as uptime:
            seconds_since_boot = float(uptime.read().split()[0])
        started_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return now
    age = seconds_since_boot - started_after_boot
    return now - age if 0.0 <= age < 5.0 else now


PROCESS_START = _process_start()
