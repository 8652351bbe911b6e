"""Exact ADCNN tile assignment when every board has its own link (the model: planner.optimize.adcnn_problem),
for one tile class, one per-message latency α and links that differ only in rate.

Why the boards do not decouple. Every scatter leaves the Central node on its link, one after another, so
board j's outputs wait for the scatters of boards 0..j − 1 and the returns of boards j + 1.. wait for
board j's: the boards' finish times are coupled through the two serial sequences. Unrolling e_j of
adcnn_problem with S_i − R_i = (s_i − g_i)·n_i (the latency α·y_i cancels):

    latency = Γ + max(M, A)     Γ = Σ_i (α·y_i + g_i·n_i)         every return, once
                                M = max over used j of α + D_{j−1} + (s_j + c_j)·n_j
                                D_j = Σ_{i<=j} (s_i − g_i)·n_i    scatters not yet matched by returns
                                A = Σ_i (α·y_i + s_i·n_i)         shared medium only (e_0 >= a_{B−1} + R_0)

Structure used. When the links differ only in rate, g_i = κ·s_i for one 0 <= κ <= 1 (output bytes over
input bytes, the same for every board), so with X = Σ s_i·n_i (scatter seconds without latency) and m
used boards: Γ = α·m + κ·X, D = (1 − κ)·X, A = α·m + X, all nondecreasing in X. For a cap γ on max(M, A)
the least Γ is then a dynamic program over boards with state (tiles placed P, boards used m) keeping
the least X (a smaller X never hurts a later board's cap nor the final Γ); call it φ(γ). The optimum is
min over γ of γ + φ(γ) (the threshold method for a bottleneck-plus-sum objective: fix the bottleneck,
minimise the sum under it). φ is nonincreasing and piecewise constant, so on an interval (u, v] of caps
u + φ(v) is a lower bound, and the assignment found at v, with its own max(M, A) = w, settles every cap
in [w, v]. The search splits the open interval of least bound until every bound is within the
requested gap of the incumbent (gap 0: within 1e-9, reported as optimal) or the deadline passes.

Cost per cap: O(B · N · m · n) for B boards, N tiles, m <= B boards used and n <= the tiles a board can
take under the cap, compiled (numba: a few hundred million scalar steps per solve as Python loops);
states whose Γ alone reaches what the interval needs to beat are pruned. Units: seconds.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from planner.optimize.adcnn_problem import AssignmentProblem, IntArray, evaluate

RTOL = 1e-9  # relative slack for float rounding between the recursion and adcnn_problem.evaluate


def rate_only_links(problem: AssignmentProblem) -> float | None:
    """κ (gather = κ · scatter, 0 <= κ <= 1) when the problem has one tile class and one latency, so that
    the links differ only in rate; None otherwise (the recursion would not be exact)."""
    p = problem
    if p.classes != 1 or not np.all(p.latency == p.latency[0]):
        return None
    s, g = p.scatter[:, 0], p.gather[:, 0]
    if not np.any(s > 0):
        return None if np.any(g > 0) else 0.0
    kappa = float(np.max(g[s > 0] / s[s > 0]))
    if kappa > 1.0 or not np.allclose(g, kappa * s, rtol=1e-12, atol=0.0):
        return None
    return kappa


@njit(cache=True)
def _least_scatter(scatter, path, reach, alpha, kappa, tiles, cap, shared, cutoff):  # type: ignore[no-untyped-def]
    """The recursion of the module docstring for cap `cap`: x[P, m] the least X over the boards seen,
    choice[j, P, m] the tiles board j takes on the way there (0: none). Dropped: states with α·m + κ·X
    >= cutoff (their Γ alone is too large) and states whose remaining tiles exceed what the later boards
    could take under the cap even ignoring whole tiles (reach[j] = Σ_{i>j} 1 / path_i)."""
    boards = scatter.shape[0]
    x = np.full((tiles + 1, boards + 1), np.inf)
    x[0, 0] = 0.0
    choice = np.zeros((boards, tiles + 1, boards + 1), dtype=np.int16)
    for j in range(boards):
        new = x.copy()
        for p in range(tiles):
            for m in range(j + 1):
                here = x[p, m]
                if here == np.inf:
                    continue
                most = tiles - p
                room = cap - alpha - (1.0 - kappa) * here
                if room * reach[j] < tiles - p - (room / path[j] if path[j] > 0 else np.inf):
                    continue  # this board and the later ones cannot take the rest
                if path[j] > 0:
                    most = min(most, int(np.floor(room / path[j])) if room >= 0 else 0)
                elif room < 0:
                    most = 0
                for n in range(1, most + 1):
                    value = here + scatter[j] * n  # both tests below only tighten as n grows
                    messages = alpha * (m + 1)
                    if messages + kappa * value >= cutoff or (shared and messages + value > cap):
                        break
                    rest = tiles - p - n
                    if rest > 0 and room * reach[j] < rest:
                        continue  # the later boards cannot take the rest
                    if value < new[p + n, m + 1]:
                        new[p + n, m + 1] = value
                        choice[j, p + n, m + 1] = n
        x = new
    return x, choice


def _assignment(choice: np.ndarray, tiles: int, used: int) -> IntArray:
    """Walk the choices back from (all tiles, `used` boards)."""
    boards = choice.shape[0]
    out = np.zeros((boards, 1), dtype=np.int64)
    p, m = tiles, used
    for j in range(boards - 1, -1, -1):
        n = int(choice[j, p, m])
        if n:
            out[j, 0] = n
            p, m = p - n, m - 1
    return out


class _Threshold:
    """φ(γ) evaluations for one problem, and the best assignment any of them found."""

    def __init__(self, problem: AssignmentProblem, kappa: float, incumbent: IntArray) -> None:
        p = problem
        self.problem, self.kappa = p, kappa
        self.scatter = np.ascontiguousarray(p.scatter[:, 0])
        self.path = self.scatter + p.compute[:, 0]
        inverse = np.divide(1.0, self.path, out=np.full(p.boards, np.inf), where=self.path > 0)
        self.reach = np.append(np.cumsum(inverse[::-1])[::-1][1:], 0.0)  # Σ_{i>j} 1 / path_i
        self.alpha = float(p.latency[0])
        self.tiles = int(p.counts[0])
        self.best, self.upper = incumbent, evaluate(p, incumbent).makespan

    def least_returns(self, cap: float, cutoff: float) -> tuple[float, float]:
        """(φ(cap), w): the least Γ under cap `cap` (>= `cutoff` means "cutoff or more": pruned) and
        the smallest max(M, A) among the assignments reaching it (w <= cap; +inf when pruned)."""
        shared = self.problem.shared
        x, choice = _least_scatter(
            self.scatter, self.path, self.reach, self.alpha, self.kappa, self.tiles, cap, shared, cutoff
        )
        gamma = self.alpha * np.arange(x.shape[1]) + self.kappa * x[self.tiles]
        if not np.isfinite(gamma).any():
            return cutoff, np.inf
        least = float(gamma.min())
        settled = np.inf
        for used in np.flatnonzero(np.isfinite(gamma)):
            counts = _assignment(choice, self.tiles, int(used))
            span = evaluate(self.problem, counts).makespan
            if span < self.upper:
                self.best, self.upper = counts, span
            if gamma[used] <= least:
                settled = min(settled, span - float(gamma[used]))  # max(M, A) of this assignment
        return least, settled


def solve_separate_links(
    problem: AssignmentProblem, kappa: float, incumbent: IntArray, deadline: float, gap: float
) -> tuple[IntArray, str, float]:
    """The best assignment (module docstring) from `incumbent`, with its status (optimal, gap-limit,
    time-limit) and a proven lower bound on the latency. Stops once no open interval of caps can beat
    the incumbent by more than `gap` (relative) or at `deadline` (time.perf_counter()).

    Each open interval (u, v] of caps carries φ_v <= φ over it, so its caps' latency is at least
    u + φ_v, and only caps below goal − φ_v can beat the goal: the interval's top is cut there. Half
    of the allowed gap is spent as the width below which an interval is closed (its bound is then within
    that width of the goal), which stops the bisection's endless approach to a cut top."""
    search = _Threshold(problem, kappa, incumbent)
    slack = max(gap / 2.0, RTOL)
    intervals, first, proven = [(0.0, search.upper, 0.0)], True, np.inf
    while True:
        goal, width = search.upper * (1.0 - slack), search.upper * slack
        kept = []
        for u, v, phi in intervals:
            top = min(v, goal - phi)
            if top - u > width:
                kept.append((u, top, phi))
            else:
                proven = min(proven, u + phi)  # >= goal − width: every cap in (u, v] is settled
        intervals = sorted(kept, key=lambda item: item[0] + item[2])
        if not intervals:
            bound = min(proven, search.upper)
            status = "optimal" if bound >= search.upper * (1.0 - 3 * RTOL) else "gap-limit"
            return search.best, status, bound
        if time.perf_counter() >= deadline:
            return search.best, "time-limit", min(proven, intervals[0][0] + intervals[0][2])
        u, v, phi = intervals.pop(0)
        cap, first = (v if first else 0.5 * (u + v)), False  # first at the incumbent's cap
        least, settled = search.least_returns(cap, goal - u)  # Γ >= goal − u cannot help on (u, cap]
        if cap < v:
            intervals.append((cap, v, phi))  # φ >= φ_v there
        intervals.append((u, min(cap, settled), max(least, phi)))  # [settled, cap] has φ = least
