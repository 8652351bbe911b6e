"""Benchmark: the client-selection ILP on 1,000 clients (target: an answer within 5 s on a 2-core machine).

Run: python bench/bench_client_selection.py [--runs 5] [--clients 1000]

Two problems: the shipped fleet `mixed-edge` (1,000 clients, ResNet-18, E = 1, B = 32; selection of 10..200
clients) and a synthetic one (lognormal times, utilities and bytes) with --clients clients. Each run
builds and solves the ILP from scratch (PuLP + CBC); the objective is checked against the exact threshold
enumeration. Prints the median, min and max wall time of build + solve.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def shipped_problem(low: int, high: int):  # type: ignore[no-untyped-def]
    from planner.cost.federated_fleet import LocalWork, fleet_times, load_model
    from planner.optimize import client_selection as cs
    from planner.spec.catalog import find

    fleet = find("fleets", "mixed-edge")
    model = load_model(find("models", "resnet18"))
    ft = fleet_times(fleet, model, LocalWork(), high)
    moved = np.full(fleet.total_clients, model.download_bytes + model.upload_bytes)
    utility = cs.data_utility(ft.members.samples, ft.members.availability)
    return cs.SelectionProblem(ft.times.total_s, utility, moved, 1000.0, 0.1, 1.0, low, high)


def synthetic_problem(clients: int, seed: int = 0):  # type: ignore[no-untyped-def]
    from planner.optimize import client_selection as cs

    rng = np.random.default_rng(seed)
    t = rng.lognormal(4, 1, clients)
    u = rng.lognormal(0, 0.5, clients)
    return cs.SelectionProblem(t, u / u.sum(), rng.lognormal(18, 0.3, clients), 100.0, 0.05, 1.0, 50, 200)


def bench(label: str, problem, runs: int) -> None:  # type: ignore[no-untyped-def]
    from planner.optimize import client_selection as cs

    exact = cs.solve_by_thresholds(problem)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = cs.solve_ilp(problem)
        times.append(time.perf_counter() - start)
        assert abs(result.objective - exact.objective) <= 1e-6 * max(1.0, abs(exact.objective)), (
            result,
            exact,
        )
    print(
        f"{label:<44} median {statistics.median(times):6.3f} s   min {min(times):6.3f} s   "
        f"max {max(times):6.3f} s   ({runs} runs; {len(problem.round_s)} clients, "
        f"{int(result.clients)} selected, objective {result.objective:.4f} = exact)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=1000)
    args = parser.parse_args()
    bench("mixed-edge, resnet18, 10..200 clients", shipped_problem(10, 200), args.runs)
    bench(f"synthetic, {args.clients} clients, 50..200", synthetic_problem(args.clients), args.runs)


if __name__ == "__main__":
    main()
