"""Benchmark: branchy graphs (issue 17, item 3) and the antichain search's cost per state.

For each graph of tests/data/branchy (a non-Input source, 4 chains of 20 and its 8 x 10 and 16 x 5
variants, one join; a stem and 3 blocks of 4 branches of 6 layers), `planner pipeline partition` with the
native cost model (default and --straight), with --cost-model pipedream, and `planner plan`: the median of
5 runs of wall and CPU seconds of the whole process, the peak RSS and the exit code (0 answered, 1
refused with the estimate). Target: each answered in <= 10 s and < 2 GB, or refused in < 1 s.

Then the per-unit cost written next to the limit (planner/optimize/limits.py, SEARCH_S_PER_STATE): the
seconds per state of the antichain search on the 4 x 20 block, searched up to 20,000 states.

Run (repository root, virtual environment active): python bench/bench_branchy.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run_timed import run_timed

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "branchy"
CLUSTER = ["--cluster", "pipedream-cluster-a"]


def search_seconds_per_state(states: int = 20_000) -> float:
    from planner.optimize.antichain_blocks import AntichainGraph
    from planner.spec.pipedream_graph import load_graph

    profile = load_graph(DATA / "parallel_4x20.graph.txt", "parallel_4x20")
    count = len(profile.layers)
    producers = [[int(name[4:]) for name in layer.inputs or ()] for layer in profile.layers]
    consumers: list[list[int]] = [[] for _ in range(count)]
    for v, inputs in enumerate(producers):
        for u in inputs:
            consumers[u].append(v)
    graph = AntichainGraph(count, list(range(count)), producers, consumers)
    (block,) = graph.blocks()
    start = time.perf_counter()
    assert graph.search(block, states) is None
    return (time.perf_counter() - start) / states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    planner = shutil.which("planner") or "planner"
    for path in sorted(DATA.glob("*.graph.txt")):
        commands = {
            "partition": [planner, "pipeline", "partition", str(path), *CLUSTER],
            "partition --straight": [planner, "pipeline", "partition", str(path), *CLUSTER, "--straight"],
            "partition pipedream": [
                planner,
                "pipeline",
                "partition",
                str(path),
                *CLUSTER,
                "--cost-model",
                "pipedream",
            ],
            "plan": [planner, "plan", str(path), *CLUSTER, "--profile-batch", "32"],
        }
        for label, command in commands.items():
            t = run_timed(command, args.runs)
            print(
                f"{path.name[: -len('.graph.txt')]:14} {label:21} exit {t.exit_code}  "
                f"wall {t.wall_s:6.2f} s  cpu {t.cpu_s:6.2f} s  peak {t.peak_rss_mib:7.0f} MiB",
                t.first_error[:70],
            )
    print(f"antichain search: {search_seconds_per_state() * 1e6:.1f} µs per state (4 x 20 block)")


if __name__ == "__main__":
    main()
