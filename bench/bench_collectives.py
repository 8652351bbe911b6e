"""How many (message size, N, algorithm) points per second the vectorised collective models evaluate.

Run: python bench/bench_collectives.py [--sizes 1000] [--devices 1000] [--repeat 5]

Each algorithm is evaluated on a sizes x devices grid (numpy broadcasting, one call per algorithm); the
figure is grid points x algorithms / best wall time of `repeat` runs. Target (issue 4): >= 1e6 points/s.
Also times `allreduce_on_cluster` (per call, not vectorised) for reference.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from planner.cost import collectives as c
from planner.cost.cluster_allreduce import allreduce_on_cluster
from planner.cost.collective_registry import algorithm_names

PRIMITIVES: dict[str, Callable[..., np.ndarray]] = {
    "ring": c.ring_allreduce_time,
    "tree": c.tree_allreduce_time,
    "halving-doubling": c.halving_doubling_allreduce_time,
    "ps": c.ps_allreduce_time,
    "ps-sharded": lambda g, n, b, a: c.ps_allreduce_time(g, n, b, a, shards=n),
    "hierarchical": lambda g, n, b, a: c.hierarchical_allreduce_time(
        g, 8, np.ceil(n / 8), b * 10, a / 5, b, a
    ),
    "lower-bound": c.allreduce_lower_bound,
}


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    g = np.logspace(3, 10, args.sizes)[:, None]
    n = np.arange(1, args.devices + 1, dtype=np.float64)[None, :]
    bandwidth, latency = 1.25e9, 5e-5
    points = args.sizes * args.devices
    total_time = 0.0
    print(f"grid: {args.sizes} sizes x {args.devices} device counts = {points:,} points per algorithm")
    for name, function in PRIMITIVES.items():
        t = best_of(args.repeat, lambda f=function: f(g, n, bandwidth, latency))
        if name != "lower-bound":
            total_time += t
        print(f"  {name:18s} {t * 1e3:8.1f} ms  {points / t:12,.0f} points/s")
    algorithms = len(PRIMITIVES) - 1
    overall = points * algorithms / total_time
    print(f"the {algorithms} algorithms together: {overall:,.0f} (size, N, algorithm) points/s")

    from planner.spec.catalog import find

    cluster = find("hardware", "pipedream-cluster-a").with_top_count(4)
    calls = 200
    for algorithm in algorithm_names():
        t = best_of(
            args.repeat, lambda a=algorithm: [allreduce_on_cluster(cluster, 1e8, a) for _ in range(calls)]
        )
        print(f"  allreduce_on_cluster {algorithm:18s} {t / calls * 1e6:8.1f} us per call (16 devices)")


if __name__ == "__main__":
    main()
