"""Whether a process that wrote a file still runs: a spool record's writer, a report cache's temporary file.
A pid alone can lie, as the kernel reuses it: the process found must have started before the file was
written."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int, started_before_ns: int) -> bool:
    """Is `pid` still the process that wrote a record at `started_before_ns`?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError):  # OverflowError: a pid no process can have (an odd spool file's)
        return False
    started = _process_start_ns(pid)
    # A process that started after the record was written reuses the pid of the one that wrote it.
    return started is None or started <= started_before_ns + 10**9


def _process_start_ns(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = _boot_time_s()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20 or boot is None:
        return None
    ticks = int(fields[19])
    return int((boot + ticks / os.sysconf("SC_CLK_TCK")) * 1e9)


def _boot_time_s() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None
