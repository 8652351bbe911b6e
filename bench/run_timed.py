"""Run a command in a child process several times: median wall and CPU seconds and the largest peak RSS.

CPU is the child's user + system time and RSS its own ru_maxrss, both from os.wait4; shared by the bench
scripts that time whole `planner` processes (issue 17: median of 5, wall and CPU).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    wall_s: float  # median
    cpu_s: float  # median
    peak_rss_mib: float  # the largest over the runs
    exit_code: int
    first_error: str


def run_timed(command: list[str], runs: int = 5) -> Timing:
    walls, cpus, peaks, code, error = [], [], [], 0, ""
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert child.stderr is not None
        stderr = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024)
        code = os.waitstatus_to_exitcode(status)
        error = stderr.decode(errors="replace").strip().splitlines()[0] if stderr.strip() else ""
        child.returncode = code  # reaped by wait4
    return Timing(statistics.median(walls), statistics.median(cpus), max(peaks), code, error)
