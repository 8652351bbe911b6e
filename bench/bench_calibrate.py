"""Benchmark: the rates `planner calibrate` measures on this machine (its figures left the tests in issue 13:
a 2-vCPU VM measured a 128 x 128 fp32 matmul at 9.5e7 FLOP/s in one run and above 1e8 in the next).

Run: python bench/bench_calibrate.py [--runs 5]
Prints, per measurement, the median rate over `runs` calls with its min and max, and the median wall and
CPU seconds of one call (CPU above wall means BLAS or copy threads ran in parallel).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from planner.calibrate import measure_copy, measure_loopback, measure_matmul
from planner.host import usable_cpus


def _runs(call: Callable[[], float], runs: int) -> tuple[list[float], list[float], list[float]]:
    rates, walls, cpus = [], [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        rates.append(call())
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return rates, walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cases: list[tuple[str, str, Callable[[], float]]] = [
        (f"matmul {n} {dtype}", "FLOP/s", lambda n=n, dtype=dtype: measure_matmul(n, dtype, 3))
        for n in (128, 1024)
        for dtype in ("fp32", "fp64")
    ]
    cases.append(("copy 64 MiB", "B/s", lambda: measure_copy(64 * 2**20, 3, threads=usable_cpus())))
    cases.append(("loopback bandwidth", "B/s", lambda: measure_loopback(50, 64 * 2**20, 2).bandwidth))
    for label, unit, call in cases:
        rates, walls, cpus = _runs(call, args.runs)
        print(
            f"{label:<20} median {statistics.median(rates):9.3g} {unit:<6} (min {min(rates):.3g}, max "
            f"{max(rates):.3g})   wall {statistics.median(walls):.3f} s   cpu {statistics.median(cpus):.3f} s"
        )


if __name__ == "__main__":
    main()
