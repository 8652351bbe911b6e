"""ADCNN tile assignment: the ILP against brute force, and properties of the optimum."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import numpy as np
import pytest

from planner.optimize.adcnn import _solve_by_prefix, _solve_whole, prefix_dominant, solve
from planner.optimize.adcnn_links import rate_only_links
from planner.optimize.adcnn_problem import AssignmentProblem, best_prefix_greedy, evaluate, greedy


def random_problem(
    rng: np.random.Generator, boards: int, counts: list[int], shared: bool
) -> AssignmentProblem:
    size = rng.uniform(0.5, 2.0, len(counts))
    speed = rng.uniform(0.3, 3.0, boards)
    rate = rng.uniform(0.5, 4.0, boards)
    return AssignmentProblem(
        compute=np.outer(1 / speed, size),
        scatter=np.outer(1 / rate, size) * 0.3,
        gather=np.outer(1 / rate, size) * 0.1,
        latency=rng.uniform(0.0, 0.05, boards),
        counts=np.array(counts, dtype=np.int64),
        shared=shared,
    )


def brute_force(problem: AssignmentProblem) -> float:
    """Every assignment of individual tiles to boards, evaluated with the same schedule."""
    tiles = [k for k, count in enumerate(problem.counts) for _ in range(int(count))]
    best = np.inf
    for choice in itertools.product(range(problem.boards), repeat=len(tiles)):
        counts = np.zeros(problem.compute.shape, dtype=np.int64)
        for tile, board in zip(tiles, choice, strict=True):
            counts[board, tile] += 1
        best = min(best, evaluate(problem, counts).makespan)
    return float(best)


CASES = [
    (2, [3], True),
    (3, [2, 2], True),
    (3, [4], False),
    (2, [2, 1, 1], False),
    (3, [1, 2, 2], True),
    (4, [3, 1], False),
]


@pytest.mark.parametrize(("boards", "counts", "shared"), CASES)
@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_ilp_matches_brute_force(boards: int, counts: list[int], shared: bool, solver: str) -> None:
    rng = np.random.default_rng(boards * 100 + sum(counts) * 10 + shared)
    problem = random_problem(rng, boards, counts, shared)
    solution = solve(problem, solver, time_limit=20, gap=0.0)
    assert solution.status == "optimal"
    assert solution.makespan == pytest.approx(brute_force(problem), rel=1e-7, abs=1e-9)
    assert solution.gap == pytest.approx(0.0, abs=1e-6)
    assert solution.counts.sum(axis=0).tolist() == counts


def same_link_problem(
    rng: np.random.Generator, boards: int, counts: list[int], shared: bool
) -> AssignmentProblem:
    """Boards on one link, fastest first: the decomposition by prefixes applies."""
    size = rng.uniform(0.5, 2.0, len(counts))
    speed = np.sort(rng.uniform(0.3, 3.0, boards))[::-1]
    return AssignmentProblem(
        compute=np.outer(1 / speed, size),
        scatter=np.tile(size * 0.2, (boards, 1)),
        gather=np.tile(size * 0.05, (boards, 1)),
        latency=np.full(boards, rng.uniform(0.0, 0.3)),
        counts=np.array(counts, dtype=np.int64),
        shared=shared,
    )


@pytest.mark.parametrize(("boards", "counts", "shared"), CASES)
def test_prefix_decomposition_matches_brute_force(boards: int, counts: list[int], shared: bool) -> None:
    rng = np.random.default_rng(boards * 7 + sum(counts) + 3 * shared)
    problem = same_link_problem(rng, boards, counts, shared)
    assert prefix_dominant(problem)
    solution = solve(problem, "highs", time_limit=20)
    assert (solution.solver, solution.status) == ("dp", "optimal")
    assert solution.makespan == pytest.approx(brute_force(problem), rel=1e-7, abs=1e-9)


@pytest.mark.parametrize(
    ("boards", "counts", "shared", "identical"),
    [
        (4, [6, 4, 3], True, False),
        (5, [7, 5], False, False),
        (4, [9, 2, 2], False, True),
        (6, [20], True, True),
    ],
)
def test_dynamic_program_matches_the_ilp_decomposition(
    boards: int, counts: list[int], shared: bool, identical: bool
) -> None:
    """The dynamic program (too many assignments for brute force here) against the ILP on each prefix."""
    rng = np.random.default_rng(boards + len(counts) + 11 * identical)
    problem = same_link_problem(rng, boards, counts, shared)
    if identical:  # a cluster's boards: one device, one link
        problem = AssignmentProblem(
            np.tile(problem.compute[0], (boards, 1)),
            problem.scatter,
            problem.gather,
            problem.latency,
            problem.counts,
            shared,
        )
    ilp, status, _ = _solve_by_prefix(
        problem, best_prefix_greedy(problem), "highs", time.perf_counter() + 60, 0.0
    )
    assert status == "optimal"
    solution = solve(problem, "cbc")
    assert solution.solver == "dp"
    assert solution.makespan == pytest.approx(evaluate(problem, ilp).makespan, rel=1e-9)
    assert solution.counts.sum(axis=0).tolist() == counts
    used = solution.counts.sum(axis=1) > 0
    assert used.tolist() == sorted(used.tolist(), reverse=True)  # a prefix of the boards


def test_random_links_are_not_prefix_dominant() -> None:
    assert not prefix_dominant(random_problem(np.random.default_rng(1), 3, [2], True))


@pytest.mark.parametrize("seed", range(4))
def test_more_boards_never_slower_and_greedy_never_better(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shared = bool(seed % 2)
    counts = [5, 3]
    build = random_problem if seed < 2 else same_link_problem  # one ILP, or the decomposition by prefixes
    bigger = build(rng, 5, counts, shared)
    previous = np.inf
    for boards in range(1, 6):
        sub = AssignmentProblem(
            bigger.compute[:boards],
            bigger.scatter[:boards],
            bigger.gather[:boards],
            bigger.latency[:boards],
            bigger.counts,
            shared,
        )
        exact = solve(sub, "cbc", time_limit=20)
        assert exact.status == "optimal"
        assert exact.makespan <= previous + 1e-9
        assert exact.makespan <= evaluate(sub, greedy(sub)).makespan + 1e-9
        previous = exact.makespan


def test_an_idle_board_costs_nothing() -> None:
    rng = np.random.default_rng(7)
    problem = random_problem(rng, 3, [4], True)
    counts = np.array([[2], [0], [2]])
    with_idle = evaluate(problem, counts)
    assert with_idle.scatter_end[1] == with_idle.scatter_end[0]
    assert with_idle.return_end[1] == with_idle.return_end[0]


def test_shared_medium_never_faster_than_switched() -> None:
    rng = np.random.default_rng(3)
    shared = random_problem(rng, 3, [3, 2], True)
    switched = AssignmentProblem(
        shared.compute, shared.scatter, shared.gather, shared.latency, shared.counts, False
    )
    counts = greedy(shared)
    assert evaluate(shared, counts).makespan >= evaluate(switched, counts).makespan


def test_schedule_by_hand() -> None:
    problem = AssignmentProblem(
        compute=np.array([[1.0], [2.0]]),
        scatter=np.array([[0.5], [0.5]]),
        gather=np.array([[0.25], [0.25]]),
        latency=np.array([0.0, 0.0]),
        counts=np.array([2]),
        shared=True,
    )
    timeline = evaluate(problem, np.array([[1], [1]]))
    # board 0: input at 0.5, done at 1.5; board 1: input at 1.0, done at 3.0
    assert timeline.scatter_end.tolist() == [0.5, 1.0]
    assert timeline.compute_end.tolist() == [1.5, 3.0]
    assert timeline.return_end.tolist() == [1.75, 3.25]
    # both tiles on the fast board: 1.0 + 2.0 + 0.5 = 3.5; on the slow board 5.5: one each is optimal
    assert solve(problem, "cbc").makespan == pytest.approx(3.25)


def test_greedy_is_speed_proportional() -> None:
    problem = AssignmentProblem(
        compute=np.array([[1.0], [2.0]]),
        scatter=np.zeros((2, 1)),
        gather=np.zeros((2, 1)),
        latency=np.zeros(2),
        counts=np.array([6]),
        shared=False,
    )
    assert greedy(problem)[:, 0].tolist() == [4, 2]


def test_bad_problems_are_rejected() -> None:
    with pytest.raises(ValueError, match="same shape"):
        AssignmentProblem(
            np.ones((2, 1)), np.ones((1, 1)), np.ones((2, 1)), np.zeros(2), np.array([1]), False
        )
    with pytest.raises(ValueError, match="at least one tile"):
        AssignmentProblem(
            np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1)), np.zeros(1), np.array([0]), False
        )
    with pytest.raises(ValueError, match="finite"):
        AssignmentProblem(
            np.full((1, 1), np.nan), np.ones((1, 1)), np.ones((1, 1)), np.zeros(1), np.array([1]), False
        )
    problem = random_problem(np.random.default_rng(0), 2, [2], False)
    with pytest.raises(ValueError, match="solver"):
        solve(problem, "gurobi")
    with pytest.raises(ValueError, match="exactly once"):
        evaluate(problem, np.array([[1], [0]]))


def own_links_problem(rng: np.random.Generator, boards: int, tiles: int, shared: bool) -> AssignmentProblem:
    """Boards of random speed, each on its own link of random rate, one latency, one tile class: the
    search over caps (planner.optimize.adcnn_links) applies."""
    speed = rng.uniform(0.3, 3.0, boards)
    rate = rng.uniform(0.5, 4.0, boards)
    return AssignmentProblem(
        compute=(1 / speed)[:, None],
        scatter=(0.3 / rate)[:, None],
        gather=(0.3 * rng.uniform(0.0, 1.0) / rate)[:, None],
        latency=np.full(boards, rng.uniform(0.0, 0.3)),
        counts=np.array([tiles], dtype=np.int64),
        shared=shared,
    )


def best_over_counts(problem: AssignmentProblem) -> float:
    """Every split of the tiles over the boards (one tile class), evaluated with the same schedule."""
    tiles, best = int(problem.counts[0]), np.inf
    for cuts in itertools.combinations(range(tiles + problem.boards - 1), problem.boards - 1):
        bounds = [-1, *cuts, tiles + problem.boards - 1]
        counts = np.diff(bounds)[:, None] - 1
        best = min(best, evaluate(problem, counts).makespan)
    return float(best)


@pytest.mark.parametrize("seed", range(8))
def test_own_links_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    problem = own_links_problem(rng, 2 + seed % 4, 4 + seed, bool(seed % 2))
    assert not prefix_dominant(problem)
    solution = solve(problem, "cbc", gap=0.0)
    assert (solution.solver, solution.status) == ("dp", "optimal")
    assert solution.makespan == pytest.approx(best_over_counts(problem), rel=1e-9)
    assert solution.bound == pytest.approx(solution.makespan, rel=1e-8)


@pytest.mark.parametrize(("boards", "tiles", "shared"), [(6, 30, True), (8, 40, False), (10, 25, True)])
def test_own_links_match_the_ilp(boards: int, tiles: int, shared: bool) -> None:
    """Too many splits for brute force: against the single ILP run to optimality."""
    problem = own_links_problem(np.random.default_rng(boards + tiles), boards, tiles, shared)
    ilp, status, _ = _solve_whole(problem, best_prefix_greedy(problem), "highs", 60.0, 0.0)
    assert status == "optimal"
    solution = solve(problem, "cbc", gap=0.0)
    assert (solution.solver, solution.status) == ("dp", "optimal")
    assert solution.makespan == pytest.approx(evaluate(problem, ilp).makespan, rel=1e-7)
    assert solution.counts.sum() == tiles


def test_own_links_search_needs_rate_only_links() -> None:
    """Links that differ in latency, or gathers not in one ratio to scatters, go to the ILP."""
    problem = own_links_problem(np.random.default_rng(3), 4, 10, True)
    assert rate_only_links(problem) == pytest.approx(float(problem.gather[0, 0] / problem.scatter[0, 0]))
    latency = problem.latency.copy()
    latency[1] += 0.01
    assert rate_only_links(replace(problem, latency=latency)) is None
    gather = problem.gather.copy()
    gather[2] *= 1.5
    assert rate_only_links(replace(problem, gather=gather)) is None
    assert rate_only_links(random_problem(np.random.default_rng(1), 3, [2, 2], True)) is None
