"""Benchmark: wall time of `planner --help` (start-up cost; target <= 0.3 s on a 2-core machine).

Run: python bench/cli_startup.py [--runs 20]
Uses the `planner` console script on PATH when present, else `python -m planner`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def time_command(command: list[str], runs: int) -> list[float]:
    """Wall seconds of each of `runs` runs of `command` (after one warm-up run)."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    script = shutil.which("planner")
    base = [script] if script else [sys.executable, "-m", "planner"]
    for label, extra in (("planner --help", ["--help"]), ("planner hardware list", ["hardware", "list"])):
        times = time_command([*base, *extra], args.runs)
        print(
            f"{label:<24} median {statistics.median(times) * 1e3:7.1f} ms   "
            f"min {min(times) * 1e3:7.1f} ms   max {max(times) * 1e3:7.1f} ms   ({args.runs} runs, {base[0]})"
        )


if __name__ == "__main__":
    main()
