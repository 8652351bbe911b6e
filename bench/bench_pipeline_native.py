"""Benchmark: the native stage partitioner on PipeDream's profiles, and the stretch goal.

1. Each profile in ../shared/profiles/pipedream at 4 × 4 (pipedream-cluster-a) and 2 × 8
   (pipedream-cluster-b): building the chain costs (two chain views: forward and backward prefix
   sums) and the exact dynamic program (planner.optimize.pipeline_native), best of --runs, with the
   plan it finds.
2. The stretch goal: a 1,000-layer chain (seeded random layers) on 128 servers × 8 GPUs (pipedream-cluster-b's
   links), solved exactly by the bottleneck search (planner.optimize.pipeline_bottleneck; idle devices
   allowed), with the work the dynamic program would need for the same instance. --cross-check also solves
   a mid-size instance both ways and checks that the optima are equal.

3. --scale: the issue-17 targets, each a whole process (python -c: imports, chain, search, figures)
   run 5 times, median CPU (user + sys of the child) and wall: 1,000 and 4,000 layers on 128 x 8 GPUs
   through partition_native past the dynamic program's limits (planner.optimize.pipeline_scale: the
   bottleneck search, its proven lower bound and gap), and the per-entry cost behind the limit
   BOTTLENECK_ENTRY_S (search seconds / (checks x entries)). With --cross-check, 200 and 500 layers on
   8 GPUs and 120 layers on 16 x 8 both ways: the search's boundary optimum equals the DP's, and the
   scale path's bound and incumbent bracket the DP's replica-aware optimum (equal when the gap is 0).

Run (repository root): PYTHONPATH=. python bench/bench_pipeline_native.py [--data ../shared] [--runs 3]
    [--layers 1000] [--servers 128] [--cross-check] [--scale]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from planner.optimize.chain_costs import chain_costs, plain_chain
from planner.optimize.pipeline_bottleneck import partition_bottleneck
from planner.optimize.pipeline_native import partition_native
from planner.spec.catalog import find
from planner.spec.pipedream_graph import load_graph

MODELS = ("vgg16", "alexnet", "gnmt", "resnet50", "gnmt_large")
SETTINGS = (("4x4", "pipedream-cluster-a", 4), ("2x8", "pipedream-cluster-b", 2))


def best_of(runs: int, work):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def profiles(data: Path, runs: int) -> None:
    print("profile      states  pairs    build   setting  solve    config           speedup/DP")
    for model in MODELS:
        path = data / "profiles" / "pipedream" / f"{model}.graph.txt"
        if not path.exists():
            print(f"{model:12s} (missing {path})")
            continue
        profile = load_graph(path, path.name)
        build, costs = best_of(runs, lambda profile=profile: chain_costs(profile))
        for label, name, servers in SETTINGS:
            cluster = find("hardware", name, ("cluster",)).with_top_count(servers)
            solve, result = best_of(runs, lambda c=cluster, k=costs: partition_native(k, c))
            print(
                f"{model:12s} {costs.num_states:6d} {len(costs.pair_start):7d} {build:7.3f} s  {label:7s} "
                f"{solve:6.3f} s  {result.config:16s} {result.speedup_over_dp:.3f}"
            )


def synthetic_chain(layers: int, seed: int = 0):
    """Layers shaped like a large model's: 0.5-5 ms forward, backward 2x, 0-200 MB of weights on 70% of
    the layers, 1-20 MB of activations (per minibatch)."""
    rng = np.random.default_rng(seed)
    forward = rng.uniform(0.5e-3, 5e-3, layers)
    backward = 2 * forward * rng.uniform(0.8, 1.2, layers)
    parameters = rng.uniform(0, 200e6, layers) * (rng.random(layers) > 0.3)
    activations = rng.uniform(1e6, 20e6, layers)
    return plain_chain(forward, backward, parameters, activations)


def stretch(layers: int, servers: int) -> None:
    costs = synthetic_chain(layers)
    cluster = find("hardware", "pipedream-cluster-b", ("cluster",)).with_top_count(servers)
    devices = cluster.total_devices
    start = time.perf_counter()
    result, stats = partition_bottleneck(costs, cluster)
    elapsed = time.perf_counter() - start
    pairs = layers * (layers + 1) // 2
    print(
        f"\nstretch: {layers}-layer chain on {servers} servers x {cluster.devices_per_server} GPUs "
        f"({devices})"
    )
    print(
        f"  bottleneck search (exact, idle devices allowed): {elapsed:.2f} s = {stats.coefficient_s:.2f} s "
        f"costing {stats.patterns} block patterns + {stats.search_s:.2f} s for {stats.checks} "
        "feasibility checks"
    )
    print(
        f"  optimum {result.pipeline_time_s * 1e3:.4f} ms per minibatch, {len(result.stages)} stages on "
        f"{result.devices_used} devices, speedup over DP {result.speedup_over_dp:.2f}"
    )
    print(
        f"  the dynamic program would evaluate {pairs * devices * (devices + 1) // 2:.3g} (stage, replicas, "
        f"offset) candidates: O(N^2 n^2)"
    )


def cross_check(layers: int, servers: int) -> None:
    costs = synthetic_chain(layers, seed=1)
    cluster = find("hardware", "pipedream-cluster-b", ("cluster",)).with_top_count(servers)
    dp_s, dp = best_of(
        1, lambda: partition_native(costs, cluster, use_fewer_machines=True, cut_links="boundary")
    )
    search_s, (found, stats) = best_of(1, lambda: partition_bottleneck(costs, cluster))
    same = "equal" if dp.pipeline_time_s == found.pipeline_time_s else "DIFFERENT"
    print(
        f"\ncross-check {layers} layers on {cluster.total_devices} GPUs: DP {dp_s:.2f} s, bottleneck search "
        f"{search_s:.2f} s ({stats.checks} checks); optima {same}: {dp.pipeline_time_s!r} vs "
        f"{found.pipeline_time_s!r}"
    )
    from planner.cost.overlap import device_overlap
    from planner.optimize.native_types import NativeOptions
    from planner.optimize.pipeline_native import NativePlanner, cluster_device
    from planner.optimize.pipeline_scale import optimum_at_scale

    exact = partition_native(costs, cluster)  # replica-aware cuts, every device used: the default
    options = NativeOptions(overlap=device_overlap(cluster_device(cluster)))
    scaled = optimum_at_scale(NativePlanner(costs, cluster, options))
    bound = scaled.lower_bound_s or 0.0
    holds = bound <= exact.pipeline_time_s <= scaled.pipeline_time_s
    print(
        f"  default model: DP {exact.pipeline_time_s!r}; scale path {scaled.pipeline_time_s!r}, "
        f"bound {bound!r}, "
        f"gap {scaled.gap:.3%}; bound <= DP <= incumbent: {holds}"
    )


SCALE_RUN = """
import sys, time
sys.path.insert(0, "bench")
from bench_pipeline_native import synthetic_chain
from planner.optimize import limits
from planner.optimize.pipeline_native import partition_native
from planner.spec.catalog import find
cluster = find("hardware", "pipedream-cluster-b", ("cluster",)).with_top_count({servers})
result = partition_native(synthetic_chain({layers}), cluster)
print(result.method, result.config.count("-") + 1, result.devices_used, result.pipeline_time_s,
      result.lower_bound_s, result.gap)
"""


# as the `planner` command runs (planner.cli.main): one OpenBLAS thread, whose spinning siblings would
# add ~0.3 s of CPU to a 2 s process; a value set by the caller is kept
SCALE_ENV = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}


def scale(layers: int, servers: int, runs: int = 5) -> None:
    import statistics
    import subprocess
    import sys

    cpu, wall, line = [], [], ""
    for _ in range(runs):
        before = os.times()
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", SCALE_RUN.format(layers=layers, servers=servers)],
            capture_output=True,
            text=True,
            check=True,
            env=SCALE_ENV,
        )
        wall.append(time.perf_counter() - start)
        after = os.times()
        cpu.append(
            after.children_user - before.children_user + after.children_system - before.children_system
        )
        line = done.stdout.strip()
    method, stages, used, time_s, bound, gap = line.rsplit(maxsplit=5)
    print(
        f"{layers} layers on {servers} x 8 GPUs, whole process: median CPU {statistics.median(cpu):.2f} s, "
        f"wall {statistics.median(wall):.2f} s ({runs} runs); {method}, {stages} stages on {used} devices, "
        f"{float(time_s) * 1e3:.4f} ms, lower bound {float(bound) * 1e3:.4f} ms, gap {float(gap):.3%}"
    )


def entry_cost(layers: int, servers: int) -> None:
    """Seconds per entry per check of the bottleneck search (the limit's unit cost)."""
    costs = synthetic_chain(layers)
    cluster = find("hardware", "pipedream-cluster-b", ("cluster",)).with_top_count(servers)
    _, stats = partition_bottleneck(costs, cluster)
    entries = layers * 8 * cluster.total_devices
    print(
        f"{layers} layers on {cluster.total_devices} GPUs: {stats.checks} checks, "
        f"search {stats.search_s:.2f} s "
        f"wall, {stats.search_s / (stats.checks * entries) * 1e9:.1f} ns per entry per check; "
        f"coefficients {stats.coefficient_s:.2f} s for {stats.patterns} patterns"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=128)
    parser.add_argument("--cross-check", action="store_true")
    parser.add_argument("--skip-profiles", action="store_true")
    parser.add_argument("--scale", action="store_true")
    args = parser.parse_args()
    if args.scale:
        for layers in (1000, 4000):
            scale(layers, 128)
            entry_cost(layers, 128)
        if args.cross_check:
            cross_check(200, 1)
            cross_check(500, 1)
            cross_check(120, 16)  # replica-aware cuts across servers: the exact cut search at work
        return
    if not args.skip_profiles:
        profiles(args.data, args.runs)
    stretch(args.layers, args.servers)
    if args.cross_check:
        cross_check(120, 8)


if __name__ == "__main__":
    main()
