"""Benchmark: the PipeDream-compatible partitioner on PipeDream's profiles, against PipeDream's own timings.

Times loading the profile, building the chain view and solving (in-process, median of --runs), at 4 servers
× 4 GPUs (-n 4 4 -b 10e9 1.25e9 --activation_compression_ratio 1) and at the settings of the shipped
reference outputs, and prints the speed-up over PipeDream's optimizer timed on this kind of machine
(../shared/reference/pipedream_optimizer_outputs.yaml), in-process and as a whole `python` process (how
PipeDream's figure was timed: one core, interpreter start and imports included; median wall and CPU of
the child).
With --check it also confirms the optimum: the tables against the plain-loop transcription where that
finishes in reasonable time, otherwise a random sample of table entries re-derived by plain loops, and
the single-level optimum by plain loops.

Run (repository root): PYTHONPATH=. python bench/bench_pipedream.py [--data ../shared] [--runs 5] [--check]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from planner.optimize.chain_view import build_chain_view
from planner.optimize.pipedream import partition_pipedream
from planner.optimize.pipedream_dp import solve_tables
from planner.optimize.pipedream_reference import check_entries, reference_tables
from planner.optimize.pipedream_types import PipeDreamOptions
from planner.spec.pipedream_graph import load_graph

MODELS = ("vgg16", "alexnet", "gnmt", "resnet50", "gnmt_large")
FOUR_BY_FOUR = [(4, 10e9), (4, 1.25e9)]
RATIO = 1.0
FULL_CHECK_STATES = 300  # plain-loop tables up to this many states (resnet50 4x4: ~30 s)


def pipedream_seconds(text: str) -> tuple[float, bool]:
    """PipeDream's timing ("37.7 s", "more than 40 minutes") in seconds, and whether it is a lower bound."""
    match = re.search(r"([\d.]+)\s*(s|minutes?)", text)
    if match is None:
        raise ValueError(f"cannot read a time from {text!r}")
    seconds = float(match.group(1)) * (60.0 if match.group(2).startswith("minute") else 1.0)
    return seconds, text.strip().startswith("more than")


def settings(reference: dict) -> list[tuple[str, list[tuple[int, float]], float | None, dict | None]]:
    """(model, levels, ratio, reference case) for the 4x4 runs and the reference cases."""
    runs = [(model, FOUR_BY_FOUR, RATIO, None) for model in MODELS]
    for case in reference.get("cases", []):
        tokens = case["args"].split()
        counts = [int(t) for t in tokens[tokens.index("-n") + 1 : tokens.index("-b")]]
        bandwidths = [float(t) for t in tokens[tokens.index("-b") + 1 :] if not t.startswith("-")][
            : len(counts)
        ]
        runs.append((case["profile"], list(zip(counts, bandwidths, strict=True)), RATIO, case))
    return runs


def time_once(
    path: Path, levels: list[tuple[int, float]], ratio: float | None
) -> tuple[float, float, object]:
    start = time.perf_counter()
    profile = load_graph(path, path.name)
    view = build_chain_view(profile)
    built = time.perf_counter()
    result = partition_pipedream(view, levels, activation_compression_ratio=ratio)
    return built - start, time.perf_counter() - built, result


PROCESS_CODE = """
import sys
from pathlib import Path
from planner.optimize.pipedream import partition_pipedream
from planner.spec.pipedream_graph import load_graph
path = Path(sys.argv[1])
levels = [(int(n), float(b)) for n, b in (item.split(":") for item in sys.argv[2].split(","))]
print(partition_pipedream(load_graph(path, path.name), levels, activation_compression_ratio=1.0).config)
"""


def time_process(path: Path, levels: list[tuple[int, float]]) -> tuple[float, float]:
    """Wall and CPU seconds of a whole `python -c` process (interpreter, imports, load, solve), as
    PipeDream's figure is timed."""
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    spec = ",".join(f"{count}:{bandwidth!r}" for count, bandwidth in levels)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", PROCESS_CODE, str(path), spec], check=True, capture_output=True, env=env
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def check(path: Path, levels: list[tuple[int, float]], ratio: float | None, samples: int) -> str:
    """Confirm the optimum with plain loops; returns a short description of what was checked."""
    view = build_chain_view(load_graph(path, path.name))
    options = PipeDreamOptions(activation_compression_ratio=ratio)
    tables = solve_tables(view, levels, options)
    if view.num_states <= FULL_CHECK_STATES:
        slow = reference_tables(view, levels, activation_compression_ratio=ratio)
        for table, loops in zip(tables, slow, strict=True):
            machines, count, rows = table.shape
            expected = np.array(
                [[[loops[r][j][m] for r in range(rows)] for j in range(count)] for m in range(machines)]
            )
            assert np.array_equal(table, expected), "tables differ from the plain-loop transcription"
        return "all tables = plain loops"
    rng = random.Random(0)
    entries = []
    for level, table in enumerate(tables):
        machines, count, rows = table.shape
        for _ in range(samples):
            j = rng.randrange(count)
            entries.append((level, rng.randrange(min(rows, j + 1)), j, rng.randrange(machines)))
    entries.append((len(tables) - 1, 0, view.num_states - 1, levels[-1][0] - 1))  # the optimum itself
    check_entries(view, levels, tables, entries, activation_compression_ratio=ratio)
    single = [levels[0]]  # the innermost level alone (its outermost table, row 0, by plain loops)
    fast = partition_pipedream(view, single, activation_compression_ratio=ratio).pipeline_time_s
    slow_single = reference_tables(view, single, activation_compression_ratio=ratio)[-1][0][
        view.num_states - 1
    ]
    assert fast == slow_single[-1], "single-level optimum differs from the plain loops"
    return f"{len(entries)} sampled entries re-derived; {single[0][0]}-device optimum = plain loops"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="confirm the optima with plain loops (slow)")
    parser.add_argument("--samples", type=int, default=3000, help="entries per level re-derived by --check")
    args = parser.parse_args()
    reference_path = args.data / "reference" / "pipedream_optimizer_outputs.yaml"
    if not reference_path.is_file():
        sys.exit(
            f"{reference_path} is absent: pass --data DIR (the shared folder with profiles/ and reference/)"
        )
    reference = yaml.safe_load(reference_path.read_text())
    timings = reference.get("timing_on_this_kind_of_machine", {})
    print(
        f"{'model':<11} {'levels':<16} {'states':>6} {'load+view':>9} {'solve s':>8} {'total s':>8} "
        f"{'process wall/CPU s':>18} {'PipeDream s':>12} {'speed-up':>17}  config / check"
    )
    for model, levels, ratio, case in settings(reference):
        path = args.data / "profiles" / "pipedream" / f"{model}.graph.txt"
        runs = [time_once(path, levels, ratio) for _ in range(args.runs)]
        view_s, solve_s = (statistics.median(run[index] for run in runs) for index in (0, 1))
        total, result = statistics.median(run[0] + run[1] for run in runs), runs[-1][2]
        label = "x".join(str(count) for count, _ in levels)
        published = timings.get(f"{model}_{label}") if case is None else None
        if published is not None:
            seconds, lower_bound = pipedream_seconds(str(published))
            processes = [time_process(path, levels) for _ in range(args.runs)]
            process, cpu = (statistics.median(run[index] for run in processes) for index in (0, 1))
            more = ">" if lower_bound else ""
            factor = f"{more}{seconds / total:.0f}x/{more}{seconds / process:.0f}x"
            pipedream = f"{more}{seconds:g}"
            process_s = f"{process:.3f}/{cpu:.3f}"
        else:
            factor = pipedream = process_s = "-"
        note = result.config
        if case is not None:
            error = max(
                abs(getattr(result, key) / case[key] - 1)
                for key in ("pipeline_time_s", "single_stage_time_s", "dp_speedup_vs_single")
            )
            note += f"  (reference case: max rel. error {error:.1e})"
        if args.check:
            note += f"  [{check(path, levels, ratio, args.samples)}]"
        setting = f"{label} {levels[-1][1]:.3g}"
        print(
            f"{model:<11} {setting:<16} {result.num_states:>6} {view_s:>9.3f} {solve_s:>8.3f}"
            f" {total:>8.3f} {process_s:>18} {pipedream:>12} {factor:>17}  {note}",
            flush=True,
        )


if __name__ == "__main__":
    main()
