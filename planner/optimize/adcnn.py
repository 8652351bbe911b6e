"""ADCNN tile assignment (Zhang, Lin, Zhang, ICPP 2020; the model: planner.optimize.adcnn_problem): which
board computes how many tiles of each size, to minimise the latency, exactly or by ADCNN's greedy rule.

The per-board binaries make the LP relaxation weak (a fractional board pays a fraction of
its latency), so when the boards share one link and are served fastest first (always the case for a
cluster's boards) some optimum uses exactly the first m boards (a dominance argument, see formulate).
Then, when the tile counts span at most adcnn_dp.MAX_GRID count vectors, a dynamic program over count
prefixes solves every m at once, exactly, without an ILP (planner.optimize.adcnn_dp; solver "dp");
with more count vectors, a decomposition solves, for each m, the ILP on the first m boards all used,
which has no binaries and a tight LP; LP bounds order and prune the m's. Boards on their own links
with one tile class and one latency (links differing only in rate) are solved by a search over caps
on the bottleneck with a dynamic program per cap (planner.optimize.adcnn_links; solver "dp").
Otherwise one ILP over all boards. All start from the best greedy assignment over prefixes.

Ties: the dynamic program's are in adcnn_dp. In the decomposition a prefix's assignment replaces
the incumbent only when strictly faster, so among equally fast ones the first found is kept (the
greedy seed, then the prefixes m in order of LP bound, equal bounds by smaller m); the search over
caps likewise keeps the first strictly faster one (caps in the order searched, each cap's assignments
by fewer boards used first); the single ILP
keeps the solver's answer unless it is slower than the seed. Which of several optima CBC or HiGHS
returns is the solver's, the same for the same model (both solvers are deterministic). A
time-limited answer (status time-limit) may differ between machines.

Units: seconds.
"""

from __future__ import annotations

import time

import numpy as np

from planner.optimize.adcnn_dp import MAX_GRID, grid_size, solve_prefix_dp
from planner.optimize.adcnn_ilp import formulate, lp_value, solve_cbc, solve_highs, warm_start
from planner.optimize.adcnn_links import rate_only_links, solve_separate_links
from planner.optimize.adcnn_problem import (
    AssignmentProblem,
    IntArray,
    Solution,
    best_prefix_greedy,
    evaluate,
    greedy,
)

SOLVERS = ("cbc", "highs", "greedy")


def solve(
    problem: AssignmentProblem, solver: str = "cbc", time_limit: float = 10.0, gap: float = 0.0
) -> Solution:
    """Assign the tiles: exactly (ILP, `cbc` or `highs`, or the dynamic program where it applies:
    module docstring) or by ADCNN's `greedy` rule.

    `time_limit` (s) and `gap` (relative optimality gap at which to stop) bound the ILP and the search
    over caps (adcnn_links); the greedy assignment seeds both. Raises ValueError for an unknown solver
    or bad limits.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got '{solver}'")
    if time_limit <= 0 or not 0 <= gap < 1:
        raise ValueError("time_limit must be > 0 and gap in [0, 1)")
    start = time.perf_counter()
    seed = greedy(problem)
    if solver == "greedy":
        return Solution(
            seed, evaluate(problem, seed), "greedy", "heuristic", None, time.perf_counter() - start
        )
    incumbent = best_prefix_greedy(problem)
    if prefix_dominant(problem) and grid_size(problem) <= MAX_GRID:
        exact = solve_prefix_dp(problem, evaluate(problem, incumbent).makespan)
        counts = incumbent if exact is None else exact  # None: nothing beats the incumbent
        timeline = evaluate(problem, counts)
        return Solution(counts, timeline, "dp", "optimal", timeline.makespan, time.perf_counter() - start)
    kappa = None if prefix_dominant(problem) else rate_only_links(problem)
    if kappa is not None:
        counts, status, lower = solve_separate_links(problem, kappa, incumbent, start + time_limit, gap)
        timeline = evaluate(problem, counts)
        return Solution(counts, timeline, "dp", status, lower, time.perf_counter() - start)
    if prefix_dominant(problem):
        counts, status, bound = _solve_by_prefix(problem, incumbent, solver, start + time_limit, gap)
    else:
        counts, status, bound = _solve_whole(problem, incumbent, solver, time_limit, gap)
    timeline = evaluate(problem, counts)
    if bound is not None:
        bound = min(bound, timeline.makespan)
    return Solution(counts, timeline, solver, status, bound, time.perf_counter() - start)


def prefix_dominant(problem: AssignmentProblem) -> bool:
    """True when every board has the same link as the next and computes every class no slower: then
    some optimum uses exactly the first m boards for some m (see formulate's dominance cut)."""
    p = problem
    return all(
        np.array_equal(p.scatter[j], p.scatter[j + 1])
        and np.array_equal(p.gather[j], p.gather[j + 1])
        and p.latency[j] == p.latency[j + 1]
        and bool(np.all(p.compute[j] <= p.compute[j + 1]))
        for j in range(p.boards - 1)
    )


def _prefix(problem: AssignmentProblem, boards: int) -> AssignmentProblem:
    p = problem
    return AssignmentProblem(
        p.compute[:boards], p.scatter[:boards], p.gather[:boards], p.latency[:boards], p.counts, p.shared
    )


def _counts(problem: AssignmentProblem, values: list[float], boards: int) -> IntArray:
    """The integer counts of a solver's solution for the first `boards` boards, padded with zeros."""
    out = np.zeros(problem.compute.shape, dtype=np.int64)
    out[:boards] = (
        np.rint(values[: boards * problem.classes]).astype(np.int64).reshape(boards, problem.classes)
    )
    return out


def _solve_whole(
    problem: AssignmentProblem, incumbent: IntArray, solver: str, time_limit: float, gap: float
) -> tuple[IntArray, str, float | None]:
    """One ILP over every board, with a binary 'used' per board."""
    model = formulate(problem, evaluate(problem, incumbent).makespan)
    run = solve_cbc if solver == "cbc" else solve_highs
    values, status, bound = run(model, warm_start(problem, incumbent, model), time_limit, gap)
    if values is None:
        return incumbent, "time-limit (no solution from the solver: greedy kept)", bound
    counts = _counts(problem, values, problem.boards)
    if evaluate(problem, counts).makespan > evaluate(problem, incumbent).makespan:
        counts = incumbent  # a time-limited solution worse than the starting one: keep that
    return counts, status, bound


def _solve_by_prefix(
    problem: AssignmentProblem, incumbent: IntArray, solver: str, deadline: float, gap: float
) -> tuple[IntArray, str, float | None]:
    """Exact by decomposition when the boards are prefix-dominant: for every m, the ILP on the first
    m boards, all used (no binaries, so its LP relaxation is tight up to tile granularity). Each m's LP
    bound is computed first; the ILPs are solved in order of bound until no m can beat the incumbent
    by more than `gap`. The bound reported is the least over m of what was proven."""
    best, upper = incumbent, evaluate(problem, incumbent).makespan
    run = solve_cbc if solver == "cbc" else solve_highs
    models, bounds = {}, {}
    for m in range(1, problem.boards + 1):
        models[m] = formulate(_prefix(problem, m), upper, used=True)
        bounds[m] = lp_value(models[m])
    proven = dict(bounds)
    for m in sorted(bounds, key=lambda key: bounds[key]):
        if bounds[m] >= upper * (1.0 - gap) - 1e-12:
            break
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        sub = _prefix(problem, m)
        fits = best[m:].sum() == 0 and bool(np.all(best[:m].sum(axis=1) > 0))
        start = warm_start(sub, best[:m], models[m]) if fits else None
        values, _, bound = run(models[m], start, remaining, gap)
        if bound is not None:
            proven[m] = max(bounds[m], bound)
        if values is not None:
            counts = _counts(problem, values, m)
            span = evaluate(problem, counts).makespan
            if span < upper:
                best, upper = counts, span
    lower = min(upper, *proven.values())
    if lower >= upper * (1.0 - 1e-7):
        return best, "optimal", upper
    return best, ("gap-limit" if lower >= upper * (1.0 - gap) - 1e-12 else "time-limit"), lower
