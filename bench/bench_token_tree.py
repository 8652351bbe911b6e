"""Benchmark: Sequoia's optimal-tree dynamic program (planner.optimize.token_tree) at size 128.

Target: well under a second for a tree of 128 nodes. Reports the median wall time of `--runs` runs for
acceptance vectors of B = 4..32 ranks, with and without a depth bound, the worst case without early stop
(a vector whose best tree is deep), the hardware-aware search and Medusa's greedy growth.

Run (after `pip install -e .`): python bench/bench_token_tree.py [--size 128] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from planner.optimize import token_tree as tt


def median_time(function: Callable[[], object], runs: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def positional(ranks: int, total: float = 0.95, decay: float = 0.5) -> np.ndarray:
    """P[i] proportional to decay^i, summing to `total` (a typical top-heavy acceptance profile)."""
    weights = decay ** np.arange(ranks)
    return weights / weights.sum() * total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n, runs = args.size, args.runs
    cases: list[tuple[str, Callable[[], object]]] = []
    for ranks in (4, 8, 16, 32):
        p = positional(ranks)
        cases.append((f"optimal_tree B={ranks:<2} no depth bound", lambda p=p: tt.optimal_tree(p, n)))
        cases.append((f"optimal_tree B={ranks:<2} depth <= 16", lambda p=p: tt.optimal_tree(p, n, 16)))
    deep = np.array([0.99, 0.005, 0.004, 0.001])  # the best tree is a long spine: all n - 1 layers run
    cases.append(("optimal_tree B=4  deep (no early stop)", lambda: tt.optimal_tree(deep, n)))
    cases.append(("optimal_tree B=16 per-depth matrix, depth 16",
                  lambda: tt.optimal_tree(np.tile(positional(16), (16, 1)), n, 16)))  # fmt: skip
    verify = 1.0 + 0.002 * np.arange(n)
    cases.append(("hardware_aware_tree B=8 depth <= 16",
                  lambda: tt.hardware_aware_tree(positional(8), n, 0.05, verify, 16)))  # fmt: skip
    heads = np.sort(np.random.default_rng(0).uniform(0.05, 0.7, size=(5, 10)), axis=1)[:, ::-1]
    cases.append(("medusa_greedy_tree 5 heads x top-10", lambda: tt.medusa_greedy_tree(heads, n)))
    print(f"token-tree benchmark, size {n}, median of {runs} runs")
    for name, function in cases:
        print(f"  {name:<46} {median_time(function, runs) * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
