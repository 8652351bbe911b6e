"""Exact ADCNN tile assignment by dynamic programming over tile-count prefixes, for boards on one link
that are prefix-dominant (planner.optimize.adcnn.prefix_dominant; the model: planner.optimize.adcnn_problem).

Why it is exact. Some optimum uses exactly the first m boards, each with at least one tile (the dominance
argument of adcnn_ilp.formulate). With every one of the first m boards used and one link (per-tile
scatter s_k, gather g_k and latency α shared by all boards), the schedule's latency is the largest of

    h_j = α(m + 1) + s·P_j + c_j·n_j + g·(N − P_{j−1})    for j < m (unrolling e_j of adcnn_problem:
                                                           e_{m−1} = max_j (a_j + C_j + R_j + Σ_{i>j} R_i))
    2αm + (s + g)·N                                        on a shared medium (e_0 >= a_{m−1} + R_0)

where P_j = n_0 + … + n_j is the count vector placed on the first j + 1 boards. h_j depends on the
assignment only through (P_{j−1}, n_j), and α(m + 1) is the same for every j of one m, so one forward
recursion over boards gives every m at once:

    F_j(P) = min over n >= 1 tile of max(F_{j−1}(P − n), (s − g)·(P − n) + (s + c_j)·n + g·N)

with F_{−1}(0) = −∞; the latency of the best m-board assignment is F_{m−1}(N) + α(m + 1) (with the
shared-medium term). A board's n is limited by its own path (S_j + C_j + R_j <= the greedy incumbent's
latency), a cut that removes only slower assignments.

Cost: O(B · |grid| · |n|) with |grid| = Π_k (N_k + 1) count vectors and |n| the vectors a board can take
under the incumbent; solve() uses it when the grid has at most MAX_GRID states, else the ILP.

Ties: the smallest m of least latency; within a board, the first n (count vectors in C order over
classes) that strictly lowers F. Units: seconds.
"""

from __future__ import annotations

import numpy as np

from planner.optimize.adcnn_problem import AssignmentProblem, IntArray

MAX_GRID = 100_000  # count vectors Π_k (N_k + 1); 8 boards × 64 tiles of 3 sizes has 11,132


def grid_size(problem: AssignmentProblem) -> int:
    """Π_k (N_k + 1): the number of count vectors the recursion tabulates."""
    return int(np.prod(problem.counts + 1))


def solve_prefix_dp(problem: AssignmentProblem, upper: float) -> IntArray | None:
    """An optimal assignment of a prefix-dominant problem (module docstring), or None when none has
    latency <= `upper` (the incumbent's; the caller keeps it). Boards past the best m get no tiles."""
    p = problem
    shape = tuple(int(c) + 1 for c in p.counts)
    limit = upper * (1.0 + 1e-9)
    s, g, alpha = p.scatter[0], p.gather[0], float(p.latency[0])
    counts = p.counts
    grid = np.indices(shape).reshape(p.classes, -1).T  # every count vector, C order
    base = (grid @ (s - g) + float(g @ counts)).reshape(shape)  # (s − g)·Q + g·N over Q
    table = np.full(shape, np.inf)
    table[(0,) * p.classes] = -np.inf
    choices: list[tuple[IntArray, np.ndarray]] = []
    best_m, best_value = 0, np.inf
    for j in range(p.boards):
        path = grid @ (s + p.compute[j] + g)
        candidates = grid[(path + 2.0 * alpha <= limit) & (grid.sum(axis=1) > 0)]
        new = np.full(shape, np.inf)
        choice = np.full(shape, -1, dtype=np.int32)
        for index, n in enumerate(candidates):
            source = tuple(slice(0, int(c) - int(k) + 1) for c, k in zip(counts, n, strict=True))
            target = tuple(slice(int(k), int(c) + 1) for c, k in zip(counts, n, strict=True))
            value = np.maximum(table[source], base[source] + float((s + p.compute[j]) @ n))
            better = value < new[target]
            new[target] = np.where(better, value, new[target])
            choice[target] = np.where(better, index, choice[target])
        table = np.where(new + alpha * (j + 2) <= limit, new, np.inf)  # slower than the incumbent: pruned
        choices.append((candidates, choice))
        value = float(table[tuple(shape_k - 1 for shape_k in shape)]) + alpha * (j + 2)
        if p.shared:
            value = max(value, 2.0 * alpha * (j + 1) + float((s + g) @ counts))
        if value < best_value:
            best_m, best_value = j + 1, value
        if not np.isfinite(table).any():
            break
    if best_m == 0:
        return None
    out = np.zeros(p.compute.shape, dtype=np.int64)
    placed = counts.copy()
    for j in range(best_m - 1, -1, -1):
        candidates, choice = choices[j]
        n = candidates[int(choice[tuple(placed)])]
        out[j] = n
        placed = placed - n
    return out
