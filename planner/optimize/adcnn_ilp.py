"""The ADCNN tile assignment (planner.optimize.adcnn_problem states the model) as a linear program, solved
by PuLP's CBC or by HiGHS (scipy.optimize.milp).

Search space and complexity: B·K integer counts and B binaries ("formulate by counts": identical tiles
are one variable per board, not one per tile), O(B·K) linear constraints. Solved as an ILP with PuLP's
CBC or with HiGHS (scipy.optimize.milp), with a time limit; the optimality gap (incumbent - best bound)
/ incumbent is reported. NP-hard in general (it contains makespan scheduling on uniform machines,
Q||Cmax). The exact decomposition over prefixes of the boards, and the greedy seed: planner.optimize.adcnn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.optimize.adcnn_problem import AssignmentProblem, FloatArray, IntArray, evaluate
from planner.optimize.solver_scratch import scratch_folder, use_folder

# --- the linear model -------------------------------------------------------------------------------


@dataclass
class LinearModel:
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


def formulate(p: AssignmentProblem, upper: float, used: bool = False) -> LinearModel:
    """Variables: n[j,k] (index j·K + k), then y[j], then e[j]; rows as in the module docstring, plus
    cuts that only remove assignments slower than a known one of makespan `upper`:

    * a used board's own path fits in the makespan: S_j + C_j + R_j <= e_j <= L <= upper, so
      Σ_k (s + c + g)[j,k]·n[j,k] + 2α_j·y_j <= upper·y_j, and per class n[j,k] <= M[j,k]·y_j with
      M[j,k] = min(N_k, floor((upper - 2α_j) / (s + c + g)[j,k]));
    * dominance: when boards j and j+1 have the same link and j computes every class no slower, some
      optimum never uses j+1 without j (move j+1's tiles to j: nothing ends later), so y_j >= y_{j+1}.

    `used` fixes every y_j to 1 (the decomposition by prefixes, _solve_by_prefix).
    """
    m = LinearModel()
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


def warm_start(p: AssignmentProblem, counts: IntArray, model: LinearModel) -> list[float]:
    """Values of every variable for an assignment (the solvers' starting incumbent)."""
    timeline = evaluate(p, counts)
    used = (counts.sum(axis=1) > 0).astype(float)
    return [*counts.ravel().astype(float), *used, *timeline.return_end]


def solve_cbc(
    model: LinearModel, start: list[float] | None, time_limit: float, gap: float
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


def solve_highs(
    model: LinearModel, start: list[float] | None, time_limit: float, gap: float
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


def _arrays(model: LinearModel) -> tuple[Any, FloatArray, FloatArray, FloatArray]:
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


def lp_value(model: LinearModel) -> float:
    """The LP relaxation's optimum (HiGHS in-process), +inf when infeasible."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    matrix, lo, hi, cost = _arrays(model)
    result = milp(
        cost,
        constraints=LinearConstraint(matrix, lo, hi),
        bounds=Bounds(np.array(model.lower), np.array(model.upper)),
    )
    return float(result.fun) if result.status == 0 else np.inf
