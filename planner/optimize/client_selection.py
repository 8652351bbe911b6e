"""Client selection for one federated round: an exact ILP on a FedMARL-style objective, and baselines.

Objective (FedMARL, Zhang, Lin, Zhang, AAAI 2022: maximise w1·Acc(T) − w2·Σ_t H_t − w3·Σ_t B_t, with H_t
the latency of round t and B_t its bandwidth; here one round, with the accuracy term replaced by the
utility of the data the round trains on, as the accuracy of a selection has no closed form):

    maximise  w1 · Σ_k u_k x_k  −  w2 · H  −  w3 · Σ_k b_k x_k / 1e9
    s.t.      H ≥ t_k x_k for every client k  (H: the round's latency, the slowest selected client)
              m_min ≤ Σ_k x_k ≤ m_max,  x_k ∈ {0, 1}

u_k: the client's utility (default: its expected share of the fleet's samples, availability × n_k / Σ n);
t_k: its round time in seconds (planner.cost.federated); b_k: the bytes it moves (download + upload),
counted in gigabytes (1e9 bytes) in the objective so that the weights are of a readable size.

The ILP (PuLP, CBC) writes the makespan H through the sorted distinct client times τ_1 < ... < τ_J: binary
y_j = 1 when the round lasts at least τ_j, y_1 ≥ y_2 ≥ ... ≥ y_J, x_k ≤ y_{j(k)} for the client's own
time, and H = Σ_j (τ_j − τ_{j−1}) y_j (τ_0 = 0). This is exactly H = max_k t_k x_k at the optimum (H is
minimised) and gives a much tighter LP relaxation than the big-M form H ≥ t_k x_k: 1,000 clients solve
in well under a second (bench/bench_client_selection.py). Size: K + J binaries, K + J constraints.

`solve_by_thresholds` is an exact O(K² log K) cross-check: for each candidate makespan τ_j it takes the
best clients among those no slower than τ_j. Baselines: `fastest` (the m clients with the smallest t_k)
and `random` (m clients uniformly at random: expected terms, the latency by order statistics).

Ties: among selections of equal objective the ILP returns CBC's optimum, the same for the same problem
(the model is built in client order and CBC is deterministic); `fastest` takes the lower client index
on equal round times (a stable sort); the reported clients are listed in ascending index order.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.cost.order_statistics import expected_max
from planner.limits import MAX_ILP_CLIENTS
from planner.optimize.solver_scratch import scratch_folder, use_folder

FloatArray = npt.NDArray[np.float64]
BYTES_PER_UNIT = 1e9  # the bytes term is counted in gigabytes


@dataclass(frozen=True)
class SelectionProblem:
    """Per-client round time (s), utility and bytes, the weights, and how many clients to select."""

    round_s: FloatArray
    utility: FloatArray
    bytes: FloatArray
    w_utility: float
    w_latency: float
    w_bytes: float
    min_clients: int
    max_clients: int

    def __post_init__(self) -> None:
        count = len(self.round_s)
        if count < 1 or len(self.utility) != count or len(self.bytes) != count:
            raise ValueError("round times, utilities and bytes need one entry per client, at least one")
        for name in ("round_s", "utility", "bytes"):
            values = np.asarray(getattr(self, name), dtype=float)
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise ValueError(f"{name} must be finite and >= 0 for every client")
        if min(self.w_utility, self.w_latency, self.w_bytes) < 0:
            raise ValueError("the weights must be >= 0")
        if not 1 <= self.min_clients <= self.max_clients <= count:
            raise ValueError(
                f"need 1 <= min clients ({self.min_clients}) <= max clients ({self.max_clients}) "
                f"<= clients ({count})"
            )

    def value(self) -> FloatArray:
        """Per-client part of the objective that does not depend on the others: w1·u_k − w3·b_k/1e9."""
        return self.w_utility * self.utility - self.w_bytes * self.bytes / BYTES_PER_UNIT


@dataclass(frozen=True)
class Selection:
    """A selection and its objective terms. `expected` marks a random baseline's expectations."""

    method: str
    chosen: tuple[int, ...] | None
    clients: float
    utility: float
    round_s: float
    bytes: float
    objective: float
    expected: bool = False
    status: str = "optimal"
    solve_s: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "clients": self.clients,
            "utility": self.utility,
            "round_s": self.round_s,
            "bytes": self.bytes,
            "objective": self.objective,
            "expected": self.expected,
            "status": self.status,
            "solve_s": self.solve_s,
        }


def objective(problem: SelectionProblem, utility: float, round_s: float, moved: float) -> float:
    """w1·U − w2·H − w3·B/1e9."""
    return (
        problem.w_utility * utility - problem.w_latency * round_s - problem.w_bytes * moved / BYTES_PER_UNIT
    )


def evaluate(
    problem: SelectionProblem,
    chosen: npt.ArrayLike,
    method: str,
    status: str = "optimal",
    solve_s: float = 0.0,
) -> Selection:
    """The terms and objective of a given set of clients (indices)."""
    index = np.asarray(chosen, dtype=np.int64)
    utility = float(problem.utility[index].sum())
    round_s = float(problem.round_s[index].max()) if len(index) else 0.0
    moved = float(problem.bytes[index].sum())
    return Selection(
        method,
        tuple(int(i) for i in np.sort(index)),
        float(len(index)),
        utility,
        round_s,
        moved,
        objective(problem, utility, round_s, moved),
        status=status,
        solve_s=solve_s,
    )


def solve_ilp(problem: SelectionProblem, time_limit_s: float = 60.0) -> Selection:
    """The optimal selection by the ILP of the module docstring (PuLP with its bundled CBC)."""
    import pulp

    count = len(problem.round_s)
    if count > MAX_ILP_CLIENTS:
        from planner.errors import InfeasibleError

        raise InfeasibleError(
            f"the exact selection ILP takes at most {MAX_ILP_CLIENTS:,} clients (about 10 s), and the fleet "
            f"has {count:,}; select among a sample of the fleet, or cost a random round with "
            "`planner fl round`"
        )
    order = np.argsort(problem.round_s, kind="stable")
    levels, level_of = np.unique(problem.round_s[order], return_inverse=True)
    steps = np.diff(np.concatenate([[0.0], levels]))
    lp = pulp.LpProblem("client_selection", pulp.LpMaximize)
    x = [lp.add_variable(f"x{k}", cat="Binary") for k in range(count)]
    y = [lp.add_variable(f"y{j}", cat="Binary") for j in range(len(levels))]
    makespan = lp.add_variable("H", lowBound=0)
    lp += pulp.lpDot(problem.value().tolist(), x) - problem.w_latency * makespan
    lp += makespan == pulp.lpDot(steps.tolist(), y)
    for j in range(len(levels) - 1):
        lp += y[j] >= y[j + 1]
    for position, k in enumerate(order):
        lp += x[int(k)] <= y[int(level_of[position])]
    lp += pulp.lpSum(x) >= problem.min_clients
    lp += pulp.lpSum(x) <= problem.max_clients
    start = time.perf_counter()
    with warnings.catch_warnings():  # PuLP 3 announces PULP_CBC_CMD's removal in 4.0; it is the bundled CBC
        warnings.simplefilter("ignore", DeprecationWarning)
        with scratch_folder("selection") as folder:
            lp.solve(use_folder(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s), folder))
    elapsed = time.perf_counter() - start
    status = pulp.LpStatus[lp.status].lower()
    if status != "optimal":  # e.g. no incumbent within the user's time limit: no answer to give
        from planner.errors import InfeasibleError

        raise InfeasibleError(
            f"the selection ILP ended '{status}' within the time limit of {time_limit_s:g} s; "
            "allow more time (`time_limit`)"
        )
    chosen = [k for k in range(count) if (x[k].value() or 0.0) > 0.5]
    return evaluate(problem, chosen, "ilp", status=status, solve_s=elapsed)


def solve_by_thresholds(problem: SelectionProblem) -> Selection:
    """Exact by enumeration of the makespan: for each distinct client time τ, the best selection among the
    clients no slower than τ takes the min_clients of highest value, then every further one of positive
    value up to max_clients; the optimum is the best over τ of that value − w2·τ. O(K² log K)."""
    value = problem.value()
    best: Selection | None = None
    for tau in np.unique(problem.round_s):
        eligible = np.flatnonzero(problem.round_s <= tau)
        if len(eligible) < problem.min_clients:
            continue
        ranked = eligible[np.argsort(-value[eligible], kind="stable")]
        take = problem.min_clients + int(np.sum(value[ranked[problem.min_clients : problem.max_clients]] > 0))
        candidate = evaluate(problem, ranked[:take], "thresholds")
        if best is None or candidate.objective > best.objective + 1e-12:
            best = candidate
    assert best is not None  # the slowest τ makes every client eligible
    return best


def fastest(problem: SelectionProblem, m: int) -> Selection:
    """Baseline: the m clients with the smallest round times (ties: lower index first)."""
    _check_count(problem, m)
    return evaluate(problem, np.argsort(problem.round_s, kind="stable")[:m], "fastest")


def random_expected(problem: SelectionProblem, m: int) -> Selection:
    """Baseline: m clients uniformly at random, as expectations: m·mean(u), E[max t] (order statistics,
    planner.cost.federated.expected_max), m·mean(b)."""
    _check_count(problem, m)
    utility = m * float(problem.utility.mean())
    round_s = expected_max(problem.round_s, m)
    moved = m * float(problem.bytes.mean())
    return Selection(
        "random", None, float(m), utility, round_s, moved, objective(problem, utility, round_s, moved), True
    )


def _check_count(problem: SelectionProblem, m: int) -> None:
    if not problem.min_clients <= m <= problem.max_clients:
        raise ValueError(
            f"the baselines' m ({m}) must be within the ILP's range "
            f"{problem.min_clients}..{problem.max_clients}"
        )


def data_utility(samples: npt.ArrayLike, availability: npt.ArrayLike) -> FloatArray:
    """Default utility of a client: its expected share of the fleet's samples, p_k · n_k / Σ_j n_j."""
    n = np.asarray(samples, dtype=float)
    return np.asarray(availability, dtype=float) * n / n.sum()
