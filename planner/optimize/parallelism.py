"""LLM training plans: tensor (t) × pipeline (p) × data (d) parallelism, micro-batch size b, interleaving v,
activation recomputation, ZeRO stage and (mixture of experts) expert parallelism e, searched exhaustively
and vectorised.

What it optimises: time per training iteration (one global batch of B sequences of length s) on the
devices given, subject to the memory of one device. Ties (equal times) are broken by lower memory per
device, then smaller t·p (less model parallelism), then smaller t, p, b, v, recomputation in the order
none < selective < full, lower ZeRO stage and smaller e: a total order, so the ranking is deterministic.

The search space: planner.optimize.llm_grid; its rules: planner.optimize.llm_rules; the cost model, on
arrays: planner.optimize.llm_costs, which also gives the top plans in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.cost.llm_memory import ZERO_STAGES
from planner.optimize.llm_costs import GridCosts, evaluate_grid, plan_evaluation
from planner.optimize.llm_grid import Grid, candidate_grid
from planner.optimize.llm_setup import (
    DETAILS,
    REASONS,
    RECOMPUTE,
    IntArray,
    PlanEvaluation,
    TrainingSetup,
)


@dataclass(frozen=True)
class SearchResult:
    """The top feasible plans (best first; see the module docstring for the order) and why the rest fail."""

    setup: TrainingSetup
    candidates: int
    feasible: int
    rejected: dict[str, int]
    rejected_details: dict[str, int]
    smallest_memory_bytes: float | None
    plans: tuple[PlanEvaluation, ...]
    over_memory: tuple[
        tuple[float, float], ...
    ] = ()  # (memory, time) of the fastest rejected for memory alone

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": self.candidates,
            "feasible": self.feasible,
            "rejected": dict(self.rejected),
            "rejected_details": dict(self.rejected_details),
            "smallest_memory_per_device_bytes": self.smallest_memory_bytes,
            "plans": [plan.to_dict() for plan in self.plans],
            "over_memory": [
                {"memory_per_device_bytes": memory, "time_per_iteration_s": time}
                for memory, time in self.over_memory
            ],
        }


def rank(grid: Grid, costs: GridCosts) -> IntArray:
    """Indices of the feasible candidates, best first: time, then memory, t·p, t, p, b, v, recompute, zero,
    e."""
    ok = np.flatnonzero(costs.detail < 0)
    keys = (
        grid.expert[ok],
        grid.zero[ok],
        grid.recompute[ok],
        grid.interleave[ok],
        grid.microbatch[ok],
        grid.pipeline[ok],
        grid.tensor[ok],
        grid.tensor[ok] * grid.pipeline[ok],
        costs.memory_bytes[ok],
        costs.time_s[ok],
    )
    return ok[np.lexsort(keys)]


def search(
    setup: TrainingSetup,
    *,
    top: int = 10,
    max_microbatch: int,
    max_interleave: int,
    recompute: tuple[str, ...] = RECOMPUTE,
    zero: tuple[int, ...] = ZERO_STAGES,
    tensor: int | None = None,
    pipeline: int | None = None,
    microbatch: int | None = None,
    interleave: int | None = None,
    expert: int | None = None,
) -> SearchResult:
    """Evaluate every candidate on the setup's devices and return the `top` feasible plans (in full) with
    counts of the rejected ones per reason. Keyword arguments restrict the grid (see `candidate_grid`)."""
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    if setup.attention == "flash" and {"none", "selective"} <= set(recompute):
        recompute = tuple(r for r in recompute if r != "selective")  # the same plan as none (megatron)
    grid = candidate_grid(
        setup.device_count,
        max_microbatch=max_microbatch,
        max_interleave=max_interleave,
        recompute=recompute,
        zero=zero,
        tensor=tensor,
        pipeline=pipeline,
        microbatch=microbatch,
        interleave=interleave,
        experts=setup.model.num_experts,
        expert=expert,
    )
    costs = evaluate_grid(setup, grid)
    order = rank(grid, costs)
    plans = tuple(plan_evaluation(setup, grid, costs, int(i)) for i in order[:top])
    category = costs.category
    memory_only = np.flatnonzero((costs.detail == list(DETAILS).index("memory")) & np.isfinite(costs.time_s))
    fastest = memory_only[np.argsort(costs.time_s[memory_only], kind="stable")[:top]]
    structural = (costs.detail < 0) | (category == REASONS.index("memory"))
    return SearchResult(
        setup=setup,
        candidates=len(grid),
        feasible=int(order.size),
        rejected={reason: int(np.count_nonzero(category == i)) for i, reason in enumerate(REASONS)},
        rejected_details={code: int(np.count_nonzero(costs.detail == i)) for i, code in enumerate(DETAILS)},
        smallest_memory_bytes=float(costs.memory_bytes[structural].min()) if structural.any() else None,
        plans=plans,
        over_memory=tuple((float(costs.memory_bytes[i]), float(costs.time_s[i])) for i in fastest),
    )
