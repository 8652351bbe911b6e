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

Search space and complexity: B·K integer counts and B binaries ("formulate by counts": identical tiles
are one variable per board, not one per tile), O(B·K) linear constraints. Solved as an ILP with PuLP's
CBC or with HiGHS (scipy.optimize.milp), with a time limit; the optimality gap (incumbent - best bound)
/ incumbent is reported. NP-hard in general (it contains makespan scheduling on uniform machines,
Q||Cmax). The per-board binaries make the LP relaxation weak (a fractional board pays a fraction of
its latency), so when the boards share one link and are served fastest first (always the case for a
cluster's boards) the solver uses a decomposition that is still exact: some optimum then uses exactly
the first m boards (a dominance argument, see _formulate), so it solves, for each m, the ILP on the
first m boards all used, which has no binaries and a tight LP; LP bounds order and prune the m's.
Otherwise one ILP over all boards. Both start from the best greedy assignment over prefixes.

Ties: in the decomposition a prefix's assignment replaces the incumbent only when strictly faster, so
among equally fast ones the first found is kept (the greedy seed, then the prefixes m in order of LP
bound, equal bounds by smaller m); the single ILP keeps the solver's answer unless it is slower than the
seed. Which of several optima CBC or HiGHS returns is the solver's, the same for the same model (both
solvers are deterministic). A time-limited answer (status time-limit) may differ between machines.

Units: seconds.
"""

from __future__ import annotations

import heapq
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from planner.optimize.solver_scratch import scratch_folder, use_folder

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SOLVERS = ("cbc", "highs", "greedy")


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


def solve(
    problem: AssignmentProblem, solver: str = "cbc", time_limit: float = 10.0, gap: float = 0.0
) -> Solution:
    """Assign the tiles: exactly (ILP, `cbc` or `highs`) or by ADCNN's `greedy` rule.

    `time_limit` (s) and `gap` (relative optimality gap at which to stop) bound the ILP; the greedy
    assignment seeds it. Raises ValueError for an unknown solver or bad limits.
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
    some optimum uses exactly the first m boards for some m (see _formulate's dominance cut)."""
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
    model = _formulate(problem, evaluate(problem, incumbent).makespan)
    run = _solve_cbc if solver == "cbc" else _solve_highs
    values, status, bound = run(model, _warm_start(problem, incumbent, model), time_limit, gap)
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
    run = _solve_cbc if solver == "cbc" else _solve_highs
    models, bounds = {}, {}
    for m in range(1, problem.boards + 1):
        models[m] = _formulate(_prefix(problem, m), upper, used=True)
        bounds[m] = _lp_value(models[m])
    proven = dict(bounds)
    for m in sorted(bounds, key=lambda key: bounds[key]):
        if bounds[m] >= upper * (1.0 - gap) - 1e-12:
            break
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        sub = _prefix(problem, m)
        fits = best[m:].sum() == 0 and bool(np.all(best[:m].sum(axis=1) > 0))
        start = _warm_start(sub, best[:m], models[m]) if fits else None
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


def _lp_value(model: _Linear) -> float:
    """The LP relaxation's optimum (HiGHS in-process), +inf when infeasible."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    matrix, lo, hi, cost = _arrays(model)
    result = milp(
        cost,
        constraints=LinearConstraint(matrix, lo, hi),
        bounds=Bounds(np.array(model.lower), np.array(model.upper)),
    )
    return float(result.fun) if result.status == 0 else np.inf


# --- the linear model -------------------------------------------------------------------------------


@dataclass
class _Linear:
    """A mixed-integer linear model in rows: minimise c·x subject to lo <= A x <= hi, bounds, integrality."""

    names: list[str] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    rows: list[tuple[dict[int, float], float, float]] = field(default_factory=list)
    objective: dict[int, float] = field(default_factory=dict)

    def var(self, name: str, lower: float, upper: float, integer: bool) -> int:
        self.names.append(name)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(integer)
        return len(self.names) - 1

    def row(self, coefs: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append(({k: v for k, v in coefs.items() if v != 0.0}, lo, hi))


def _add(target: dict[int, float], terms: dict[int, float], scale: float = 1.0) -> None:
    for k, v in terms.items():
        target[k] = target.get(k, 0.0) + scale * v


def _formulate(p: AssignmentProblem, upper: float, used: bool = False) -> _Linear:
    """Variables: n[j,k] (index j·K + k), then y[j], then e[j]; rows as in the module docstring, plus
    cuts that only remove assignments slower than a known one of makespan `upper`:

    * a used board's own path fits in the makespan: S_j + C_j + R_j <= e_j <= L <= upper, so
      Σ_k (s + c + g)[j,k]·n[j,k] + 2α_j·y_j <= upper·y_j, and per class n[j,k] <= M[j,k]·y_j with
      M[j,k] = min(N_k, floor((upper - 2α_j) / (s + c + g)[j,k]));
    * dominance: when boards j and j+1 have the same link and j computes every class no slower, some
      optimum never uses j+1 without j (move j+1's tiles to j: nothing ends later), so y_j >= y_{j+1}.

    `used` fixes every y_j to 1 (the decomposition by prefixes, _solve_by_prefix).
    """
    m = _Linear()
    limit = upper * (1.0 + 1e-9)
    path = p.scatter + p.compute + p.gather  # seconds per tile on its board's own path
    n = [
        [m.var(f"n_{j}_{k}", 0, float(p.counts[k]), True) for k in range(p.classes)] for j in range(p.boards)
    ]
    y = [m.var(f"y_{j}", 1 if used else 0, 1, True) for j in range(p.boards)]  # used: every board works
    horizon = float(
        (p.compute.max(axis=0) * p.counts).sum()
        + ((p.scatter + p.gather).max(axis=0) * p.counts).sum()
        + 2 * p.latency.sum()
    )
    e = [m.var(f"e_{j}", 0, max(horizon, limit), False) for j in range(p.boards)]
    for k in range(p.classes):
        m.row({n[j][k]: 1.0 for j in range(p.boards)}, float(p.counts[k]), float(p.counts[k]))
    for j in range(p.boards):
        room = limit - 2.0 * float(p.latency[j])
        for k in range(p.classes):
            cap = (
                float(p.counts[k])
                if path[j, k] <= 0
                else min(float(p.counts[k]), np.floor(room / path[j, k]))
            )
            m.row({n[j][k]: 1.0, y[j]: -max(cap, 0.0)}, -np.inf, 0.0)
        own = {n[j][k]: float(path[j, k]) for k in range(p.classes)}
        own[y[j]] = 2.0 * float(p.latency[j]) - limit
        m.row(own, -np.inf, 0.0)
    for j in range(p.boards - 1):
        same_link = (
            np.array_equal(p.scatter[j], p.scatter[j + 1])
            and np.array_equal(p.gather[j], p.gather[j + 1])
            and p.latency[j] == p.latency[j + 1]
        )
        if same_link and np.all(p.compute[j] <= p.compute[j + 1]):
            m.row({y[j]: 1.0, y[j + 1]: -1.0}, 0.0, np.inf)

    def scatter(j: int) -> dict[int, float]:
        terms = {n[j][k]: float(p.scatter[j, k]) for k in range(p.classes)}
        terms[y[j]] = float(p.latency[j])
        return terms

    def returned(j: int) -> dict[int, float]:
        terms = {n[j][k]: float(p.gather[j, k]) for k in range(p.classes)}
        terms[y[j]] = float(p.latency[j])
        return terms

    prefix: dict[int, float] = {}
    for j in range(p.boards):
        _add(prefix, scatter(j))
        row: dict[int, float] = {e[j]: 1.0}
        _add(row, prefix, -1.0)
        _add(row, {n[j][k]: float(p.compute[j, k]) for k in range(p.classes)}, -1.0)
        _add(row, returned(j), -1.0)
        m.row(row, 0.0, np.inf)
        if j > 0:
            chain: dict[int, float] = {e[j]: 1.0, e[j - 1]: -1.0}
            _add(chain, returned(j), -1.0)
            m.row(chain, 0.0, np.inf)
    if p.shared:
        first: dict[int, float] = {e[0]: 1.0}
        _add(first, prefix, -1.0)
        _add(first, returned(0), -1.0)
        m.row(first, 0.0, np.inf)
    m.objective = {e[-1]: 1.0}
    return m


def _warm_start(p: AssignmentProblem, counts: IntArray, model: _Linear) -> list[float]:
    """Values of every variable for an assignment (the solvers' starting incumbent)."""
    timeline = evaluate(p, counts)
    used = (counts.sum(axis=1) > 0).astype(float)
    return [*counts.ravel().astype(float), *used, *timeline.return_end]


def _solve_cbc(
    model: _Linear, start: list[float] | None, time_limit: float, gap: float
) -> tuple[list[float] | None, str, float | None]:
    """CBC through PuLP: the COIN_CMD binary where installed, else the CBC that ships with PuLP
    (PULP_CBC_CMD, which PuLP 3.x marks as deprecated; its warning is silenced here)."""
    import warnings

    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        prob = pulp.LpProblem("adcnn", pulp.LpMinimize)
        add = getattr(prob, "add_variable", None)
        xs = []
        for name, lo, hi, integer in zip(model.names, model.lower, model.upper, model.integer, strict=True):
            cat = "Integer" if integer else "Continuous"
            xs.append(add(name, lo, hi, cat=cat) if add else pulp.LpVariable(name, lo, hi, cat=cat))
        prob += pulp.lpSum(coef * xs[i] for i, coef in model.objective.items())
        for index, (coefs, lo, hi) in enumerate(model.rows):
            expr = pulp.lpSum(coef * xs[i] for i, coef in coefs.items())
            if lo == hi:
                prob += expr == lo, f"r{index}"
            else:
                if np.isfinite(lo):
                    prob += expr >= lo, f"r{index}_lo"
                if np.isfinite(hi):
                    prob += expr <= hi, f"r{index}_hi"
        for x, value in zip(xs, start or [], strict=False):
            x.setInitialValue(value)
        with scratch_folder("adcnn") as folder:
            log = folder / "cbc.log"
            options = {
                "msg": False,
                "timeLimit": time_limit,
                "gapRel": gap,
                "warmStart": True,
                "logPath": str(log),
            }
            coin = pulp.COIN_CMD(**options)
            solver = coin if coin.available() else pulp.PULP_CBC_CMD(**options)
            prob.solve(use_folder(solver, folder))
            text = log.read_text(encoding="utf-8", errors="replace")
        values = [x.value() for x in xs]
        objective = pulp.value(prob.objective)
    if any(v is None for v in values) or objective is None:
        return None, "time-limit", None
    objective = float(objective)
    result = text.split("Result - ")[-1] if "Result - " in text else ""
    if result.startswith("Optimal solution found") and "tolerance" not in result.splitlines()[0]:
        return [float(v) for v in values], "optimal", objective
    bound = _cbc_bound(text)
    if result.startswith("Stopped on time"):
        status = "time-limit"
    elif bound is not None and objective - bound > 1e-7 * max(1.0, abs(objective)):
        status = "gap-limit"
    else:
        status = "optimal"
    return [float(v) for v in values], status, bound


def _cbc_bound(log: str) -> float | None:
    """The best lower bound CBC printed: its summary's "Lower bound:", else the last "best possible"."""
    found = re.findall(r"Lower bound:\s*([-+0-9.eE]+)", log) or re.findall(
        r"best possible ([-+0-9.eE]+)", log
    )
    return float(found[-1]) if found else None


def _solve_highs(
    model: _Linear, start: list[float] | None, time_limit: float, gap: float
) -> tuple[list[float] | None, str, float | None]:
    """HiGHS through scipy.optimize.milp (scipy ships HiGHS; it takes no starting incumbent)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    matrix, lo, hi, cost = _arrays(model)
    result = milp(
        cost,
        constraints=LinearConstraint(matrix, lo, hi),
        integrality=np.array(model.integer, dtype=int),
        bounds=Bounds(np.array(model.lower), np.array(model.upper)),
        options={"time_limit": float(time_limit), "mip_rel_gap": float(gap), "disp": False},
    )
    if result.x is None:
        return None, "time-limit", None
    bound = getattr(result, "mip_dual_bound", None)
    if result.status == 0:
        status = (
            "optimal"
            if bound is None or result.fun - bound <= 1e-9 * max(1.0, abs(result.fun))
            else "gap-limit"
        )
    else:
        status = "time-limit"
    return [float(v) for v in result.x], status, None if bound is None else float(bound)


def _arrays(model: _Linear) -> tuple[Any, FloatArray, FloatArray, FloatArray]:
    """The model as scipy arrays: a CSR constraint matrix, row bounds and the cost vector."""
    from scipy.sparse import csr_matrix

    rows, cols, data = [], [], []
    for r, (coefs, _, _) in enumerate(model.rows):
        for i, coef in coefs.items():
            rows.append(r)
            cols.append(i)
            data.append(coef)
    matrix = csr_matrix((data, (rows, cols)), shape=(len(model.rows), len(model.names)))
    lo = np.array([low for _, low, _ in model.rows], dtype=float)
    hi = np.array([high for _, _, high in model.rows], dtype=float)
    cost = np.zeros(len(model.names))
    for i, coef in model.objective.items():
        cost[i] = coef
    return matrix, lo, hi, cost
