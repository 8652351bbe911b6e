"""ADCNN tile assignment: which board computes how many tiles of each size, to minimise the latency.

Source of the setting: Zhang, Lin, Zhang, "Adaptive Distributed Convolutional Neural Network Inference
at the Network Edge with ADCNN", ICPP 2020: the Central node scatters input tiles to Conv nodes, each
Conv node runs the conv part on its tiles (FDSP: tiles are independent), and sends the outputs back; at
run time ADCNN hands tiles to Conv nodes in proportion to their measured speed (`greedy` below).

What is optimised. Boards j = 0..B-1 are served in a fixed order (the list order; the planner lists the
fastest first). Tiles come in classes k of identical tiles (N_k each). For n[j, k] tiles of class k on
board j, with per-tile compute c[j, k], scatter time s[j, k] and gather time g[j, k] (bytes / effective
bandwidth) and a per-message latency α_j charged once each way when board j gets any tile (y_j):

    S_j = α_j·y_j + Σ_k s[j,k]·n[j,k]     scatter of board j's tiles, one message
    C_j = Σ_k c[j,k]·n[j,k]               its computation
    R_j = α_j·y_j + Σ_k g[j,k]·n[j,k]     return of its outputs, one message
    a_j = S_0 + ... + S_j                  the Central node sends the scatters back to back, in order
    e_j >= a_j + C_j + R_j                 board j's outputs are back no earlier than this
    e_j >= e_{j-1} + R_j                   returns are received one at a time, in board order
    e_0 >= a_{B-1} + R_0                   shared medium only (Wi-Fi): no return overlaps a scatter
    minimise e_{B-1}                       the moment the last output reaches the Central node

Transfers serialise at the Central node (its link, or the shared medium, carries every tile); on a
switched full-duplex network returns may overlap scatters, on a shared medium they may not. Boards
compute while later boards are still receiving. A board with no tiles costs nothing, so adding a board
never makes the optimum slower.

Units: seconds.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class AssignmentProblem:
    """The tile assignment as numbers: B boards (in service order) × K tile classes.

    compute / scatter / gather: seconds per tile of class k on board j, shape (B, K); latency: seconds
    per message for board j, shape (B,); counts: tiles of each class, shape (K,); shared: a shared
    medium (transfers and returns never overlap).
    """

    compute: FloatArray
    scatter: FloatArray
    gather: FloatArray
    latency: FloatArray
    counts: IntArray
    shared: bool

    def __post_init__(self) -> None:
        shape = self.compute.shape
        if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
            raise ValueError(f"compute must be boards × tile classes with both >= 1, got shape {shape}")
        if self.scatter.shape != shape or self.gather.shape != shape:
            raise ValueError("compute, scatter and gather must have the same shape (boards × classes)")
        if self.latency.shape != (shape[0],) or self.counts.shape != (shape[1],):
            raise ValueError("latency needs one value per board and counts one per tile class")
        if np.any(self.counts < 1):
            raise ValueError("every tile class needs at least one tile")
        for name in ("compute", "scatter", "gather", "latency"):
            values = getattr(self, name)
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise ValueError(f"{name} times must be finite and >= 0")

    @property
    def boards(self) -> int:
        return int(self.compute.shape[0])

    @property
    def classes(self) -> int:
        return int(self.compute.shape[1])


@dataclass(frozen=True)
class Timeline:
    """When each board's scatter arrives, its computation ends and its outputs are back (seconds)."""

    scatter_end: FloatArray
    compute_end: FloatArray
    return_end: FloatArray

    @property
    def makespan(self) -> float:
        return float(self.return_end[-1]) if self.return_end.size else 0.0


def evaluate(problem: AssignmentProblem, counts: npt.ArrayLike) -> Timeline:
    """The schedule of the module docstring for a given assignment `counts` (boards × classes)."""
    n = np.asarray(counts, dtype=float)
    if n.shape != problem.compute.shape:
        raise ValueError(f"an assignment is boards × classes {problem.compute.shape}, got {n.shape}")
    if not np.array_equal(n.sum(axis=0), problem.counts) or np.any(n < 0):
        raise ValueError("an assignment must place every tile exactly once")
    used = (n.sum(axis=1) > 0).astype(float)
    scatter = problem.latency * used + (problem.scatter * n).sum(axis=1)
    compute = (problem.compute * n).sum(axis=1)
    gather = problem.latency * used + (problem.gather * n).sum(axis=1)
    arrive = np.cumsum(scatter)
    done = arrive + compute
    back = np.empty(problem.boards)
    previous = float(arrive[-1]) if problem.shared else 0.0
    for j in range(problem.boards):
        back[j] = max(done[j] + gather[j], previous + gather[j])
        previous = back[j]
    return Timeline(arrive, done, back)


def greedy(problem: AssignmentProblem, boards: int | None = None) -> IntArray:
    """ADCNN's run-time rule: tiles largest first, each to the board whose computation would end
    earliest (list scheduling by speed; transfers ignored), over all boards or the first `boards`.
    O(T log B) for T tiles."""
    used = problem.boards if boards is None else boards
    order = np.argsort(-problem.compute.mean(axis=0), kind="stable")
    load = np.zeros(used)
    out = np.zeros(problem.compute.shape, dtype=np.int64)
    for k in order:
        cost = problem.compute[:used, k]
        heap = [(float(load[j] + cost[j]), j) for j in range(used)]
        heapq.heapify(heap)
        for _ in range(int(problem.counts[k])):
            finish, j = heapq.heappop(heap)
            load[j] = finish
            out[j, k] += 1
            heapq.heappush(heap, (finish + float(cost[j]), j))
    return out


def best_prefix_greedy(problem: AssignmentProblem) -> IntArray:
    """The greedy rule on the first m boards, for the m with the lowest makespan (transfers and
    per-message latency make more boards not always better); the ILP's starting incumbent."""
    best, best_span = greedy(problem), np.inf
    for m in range(1, problem.boards + 1):
        counts = greedy(problem, m)
        span = evaluate(problem, counts).makespan
        if span < best_span:
            best, best_span = counts, span
    return best


@dataclass(frozen=True)
class Solution:
    """An assignment with its latency and how it was found."""

    counts: IntArray
    timeline: Timeline
    solver: str
    status: str  # optimal, gap-limit, time-limit, heuristic
    bound: float | None  # best lower bound on the makespan, when the solver proves one
    solve_s: float

    @property
    def makespan(self) -> float:
        return self.timeline.makespan

    @property
    def gap(self) -> float | None:
        """(makespan - bound) / makespan, or None for a heuristic."""
        if self.bound is None or self.makespan <= 0:
            return None if self.bound is None else 0.0
        return max(0.0, (self.makespan - self.bound) / self.makespan)
