"""Benchmark: the per-unit cost of PipeDream's search (planner.optimize.limits' PipeDream limits).

The worst case of the pruned fill (planner.optimize.pipedream_relax) is an input where no candidate can
be skipped: a chain of zero-cost layers, where every candidate ties with every bound. Each size runs in a
fresh child process (median of --runs: wall and CPU seconds of the solve, the child's peak RSS), and
the table divides the time by the work units planner.optimize.limits counts:
* levels below the top: states^3 · sum of m^2 (here one level of 8, the top level of 1 unit);
* the top level: states^2 · m(m-1)/2 (here the top level of 128, below it 1 unit).
A chain with distinct costs takes a small fraction of this (bench/bench_pipedream_scale.py).

Run (repository root): PYTHONPATH=. python bench/bench_pipedream_limits.py [--states 150 200 250] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
from planner.optimize.chain_view import build_chain_view
from planner.optimize.pipedream_dp import solve
from planner.optimize.pipedream_types import PipeDreamOptions
from planner.spec.profile import Layer, ModelProfile
states, levels = int(sys.argv[1]), json.loads(sys.argv[2])
layers = tuple(
    Layer(name=f"l{i}", forward_time=0.0, backward_time=0.0, parameter_bytes=0.0, output_bytes=0.0,
          inputs=(f"l{i - 1}",) if i else ())
    for i in range(states)
)
view = build_chain_view(ModelProfile(spec="profile", name="zero", per="minibatch", layers=layers))
wall, cpu = time.perf_counter(), time.process_time()
solve(view, [tuple(level) for level in levels], PipeDreamOptions())
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps([wall, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]))
"""

SEARCHES = {  # name: (levels, work units for a number of states)
    "below the top": ([[8, 1e9], [1, 1e9]], lambda n: n**3 * 8**2),
    "top level": ([[1, 1e9], [128, 1e9]], lambda n: n**2 * 128 * 127 // 2),
}


def measure(states: int, levels: list, runs: int) -> tuple[float, float, float]:
    """Median wall and CPU seconds of the solve and the largest peak RSS (bytes) over `runs` children."""
    results = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(states), json.dumps(levels)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        results.append(json.loads(done.stdout))
    return (
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results),
        max(r[2] for r in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, nargs="+", default=[150, 200, 250])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"zero-cost chains (every candidate evaluated); median of {args.runs} children")
    print(
        f"{'search':<14} {'states':>6} {'units':>9} {'wall s':>7} {'CPU s':>7} {'ns/unit wall':>12} "
        f"{'ns/unit CPU':>11} {'peak RSS':>9}"
    )
    for name, (levels, units) in SEARCHES.items():
        for states in args.states:
            wall, cpu, rss = measure(states, levels, args.runs)
            work = units(states)
            print(
                f"{name:<14} {states:>6} {work:>9.2g} {wall:>7.2f} {cpu:>7.2f} {wall / work * 1e9:>12.2f} "
                f"{cpu / work * 1e9:>11.2f} {rss / 2**20:>7.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
