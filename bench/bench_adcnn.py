"""Benchmark the ADCNN tile-assignment ILP (planner.optimize.adcnn).

Targets (issues 7 and 17, item 6): 8 boards x 64 tiles solved optimally in <= 1 s; 64 boards x 1,024
tiles within 1% of optimal in <= 5 s. Instances are heterogeneous boards (speeds drawn uniformly over a
4x range, seeded, served fastest first) on one link (a cluster level: shared Wi-Fi or a switch), with
identical tiles (one class) or tiles of three sizes (a grid that does not divide the map); boards on one
link are solved by the dynamic program over count prefixes (planner.optimize.adcnn_dp) where its grid is
small enough, else by the ILP on each prefix. Two last rows give every board its own link of random rate
(possible through the API only), where neither applies: with one tile class and one latency they go to
the search over caps on the bottleneck (planner.optimize.adcnn_links), else to one ILP with a binary per
board. Per-tile costs
are VGG-16's conv part on a Raspberry Pi 3B+ (planner's roofline) scaled by each board's speed; the
figures printed are the median (over the seeds) and largest wall-clock and CPU seconds of `solve` (model
build, solver start, solve; CPU counts this process and the solver processes it starts, CBC runs as one),
the status, the proven gap, and how much slower ADCNN's greedy rule is.

    python bench/bench_adcnn.py [--solver cbc|highs] [--seeds 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np

from planner.cost import edge_tiles
from planner.cost.edge_model import from_architecture
from planner.optimize.adcnn import solve
from planner.optimize.adcnn_problem import AssignmentProblem, evaluate, greedy
from planner.spec.catalog import find


def instance(
    boards: int, tiles: int, classes: int, shared: bool, seed: int, same_link: bool = True
) -> AssignmentProblem:
    """VGG-16 tiles (cut after pool5, FDSP) on `boards` boards of random speed, on one link of 6.25 MB/s
    (pi-cluster's Wi-Fi, effective) or, with `same_link` False, each on its own link of random rate."""
    rng = np.random.default_rng(seed)
    vgg = from_architecture(find("models", "vgg16"))
    pi = find("hardware", "raspberry-pi-3b-plus")
    cut = vgg.index("pool5")
    whole = edge_tiles.tile_compute_time(vgg, cut, 1.0, pi)
    sizes = np.array([1.0, 0.75, 0.5625])[:classes]  # 4x4, 4x3 and 3x3 cells of a grid
    counts = np.full(classes, tiles // classes)
    counts[0] += tiles - counts.sum()
    share = sizes / float(sizes @ counts)  # shares of the map covered by one tile of each class
    speed = np.sort(rng.uniform(0.5, 2.0, boards))[::-1]  # relative to a Pi 3B+, fastest first
    rate = rng.uniform(3e6, 12e6, boards) if not same_link else np.full(boards, 6.25e6)  # bytes/s
    return AssignmentProblem(
        compute=np.outer(1.0 / speed, share * whole),
        scatter=np.outer(1.0 / rate, share * vgg.image_bytes),
        gather=np.outer(1.0 / rate, share * vgg.output_bytes[cut]),
        latency=np.full(boards, 2e-3),
        counts=counts.astype(np.int64),
        shared=shared,
    )


def cpu_seconds() -> float:
    """CPU seconds of this process and of the solver processes it waited for."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run(
    boards: int,
    tiles: int,
    classes: int,
    shared: bool,
    gap: float,
    limit: float,
    solver: str,
    seeds: int,
    same_link: bool = True,
) -> None:
    times, cpus, gaps, excess, statuses = [], [], [], [], []
    for seed in range(seeds):
        problem = instance(boards, tiles, classes, shared, seed, same_link)
        start, cpu = time.perf_counter(), cpu_seconds()
        solution = solve(problem, solver, time_limit=limit, gap=gap)
        times.append(time.perf_counter() - start)
        cpus.append(cpu_seconds() - cpu)
        gaps.append(solution.gap if solution.gap is not None else float("nan"))
        statuses.append(solution.status)
        excess.append(100 * (evaluate(problem, greedy(problem)).makespan / solution.makespan - 1))
    medium = ("shared" if shared else "switched") + ("" if same_link else ", own links")
    print(
        f"{boards:>3} boards x {tiles:>5} tiles, {classes} size(s), {medium:19}: "
        f"wall median {statistics.median(times):6.3f} s, max {max(times):6.3f} s; "
        f"CPU median {statistics.median(cpus):6.3f} s, max {max(cpus):6.3f} s; "
        f"gap max {100 * max(gaps):6.3f}%; {'/'.join(sorted(set(statuses)))}; "
        f"greedy slower by {min(excess):5.1f}-{max(excess):5.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solver", default="cbc", choices=["cbc", "highs"])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print(
        f"solver {args.solver}, {args.seeds} seeds per row; "
        "target: 8 x 64 optimal <= 1 s, 64 x 1024 within 1% in <= 5 s"
    )
    for classes in (1, 3):
        for shared in (True, False):
            run(8, 64, classes, shared, 0.0, 10.0, args.solver, args.seeds)
    for classes in (1, 3):
        for shared in (True, False):
            run(64, 1024, classes, shared, 0.01, 5.0, args.solver, args.seeds)
    # boards on links of different rates: no prefix structure; the search over caps (one tile class)
    run(8, 64, 1, True, 0.0, 10.0, args.solver, args.seeds, same_link=False)
    run(64, 1024, 1, True, 0.01, 5.0, args.solver, args.seeds, same_link=False)


if __name__ == "__main__":
    main()
