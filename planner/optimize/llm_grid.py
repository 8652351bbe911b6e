"""The whole space of LLM training configurations at once: the candidate grid, as numpy arrays.

Search space: every (t, p) with t·p dividing the N devices (d = N / (t·p), so t·p·d = N), for a
mixture-of-experts model every expert-parallel degree e dividing both its experts and d (1 for a dense model;
planner.optimize.llm_setup for the layout), b = 1 .. max_microbatch, v = 1 .. max_interleave, recomputation
none / selective / full, ZeRO 0-3, built as a Cartesian product with numpy (no Python loop over candidates).
The rules a candidate must keep: planner.optimize.llm_rules; its costs: planner.optimize.llm_costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.cost.llm_memory import ZERO_STAGES
from planner.errors import InfeasibleError
from planner.limits import MAX_LLM_CANDIDATES
from planner.optimize.llm_setup import RECOMPUTE, Configuration, FloatArray, IntArray

MAX_CANDIDATES = MAX_LLM_CANDIDATES  # candidate_grid refuses more (planner/limits.py)


@dataclass(frozen=True)
class Grid:
    """Candidate configurations as parallel arrays, one entry per candidate; `recompute` indexes RECOMPUTE."""

    tensor: IntArray
    pipeline: IntArray
    data: IntArray
    microbatch: IntArray
    interleave: IntArray
    recompute: IntArray
    zero: IntArray
    expert: IntArray

    def __len__(self) -> int:
        return int(self.tensor.size)

    def configuration(self, i: int) -> Configuration:
        return Configuration(
            int(self.tensor[i]),
            int(self.pipeline[i]),
            int(self.data[i]),
            int(self.microbatch[i]),
            int(self.interleave[i]),
            RECOMPUTE[int(self.recompute[i])],
            int(self.zero[i]),
            int(self.expert[i]),
        )


def divisors(n: int) -> IntArray:
    """The divisors of n >= 1, ascending."""
    candidates = np.arange(1, n + 1, dtype=np.int64)
    return candidates[n % candidates == 0]


def candidate_grid(
    devices: int,
    *,
    max_microbatch: int,
    max_interleave: int,
    recompute: tuple[str, ...] = RECOMPUTE,
    zero: tuple[int, ...] = ZERO_STAGES,
    tensor: int | None = None,
    pipeline: int | None = None,
    microbatch: int | None = None,
    interleave: int | None = None,
    experts: int = 1,
    expert: int | None = None,
) -> Grid:
    """Every (t, p, d = N/(t·p), e, b, v, recompute, zero) with t·p dividing N and e dividing both `experts`
    (the model's routed experts per layer) and d, as arrays (a Cartesian product built with numpy, no
    Python loop over candidates). `tensor`, `pipeline`, `microbatch`, `interleave` and `expert` pin that
    value."""
    if max_microbatch < 1 or max_interleave < 1:
        raise ValueError("max_microbatch and max_interleave must be >= 1")
    unknown = [r for r in recompute if r not in RECOMPUTE]
    if unknown or not recompute:
        raise ValueError(f"recompute must be a non-empty subset of {', '.join(RECOMPUTE)}, got {recompute!r}")
    if not zero or any(z not in ZERO_STAGES for z in zero):
        raise ValueError(f"zero must be a non-empty subset of 0, 1, 2, 3, got {zero!r}")
    divs = divisors(devices)
    t_all, p_all = np.meshgrid(divs, divs, indexing="ij")
    keep = devices % (t_all * p_all) == 0
    if tensor is not None:
        keep &= t_all == tensor
    if pipeline is not None:
        keep &= p_all == pipeline
    pairs, e_values = _with_expert_degrees(t_all[keep], p_all[keep], devices, experts, expert)
    b_count = 1 if microbatch is not None else max_microbatch
    v_count = 1 if interleave is not None else max_interleave
    shape = (e_values.size, b_count, v_count, len(recompute), len(zero))
    if math.prod(shape) > MAX_CANDIDATES:  # checked before any array of that size is made
        raise InfeasibleError(
            f"the search would evaluate {math.prod(shape):,} candidates (limit {MAX_CANDIDATES:,}, about "
            "6 s and 0.7 GB): lower `max_microbatch` or `max_interleave`, or pin a degree "
            "(`tensor_parallel`, `pipeline_parallel`, `microbatch`)"
        )
    b_values = np.arange(1, max_microbatch + 1, dtype=np.int64)
    v_values = np.arange(1, max_interleave + 1, dtype=np.int64)
    if microbatch is not None:
        b_values = np.array([microbatch], dtype=np.int64)
    if interleave is not None:
        v_values = np.array([interleave], dtype=np.int64)
    r_values = np.array([RECOMPUTE.index(r) for r in recompute], dtype=np.int64)
    z_values = np.array(zero, dtype=np.int64)
    pair, bi, vi, ri, zi = (axis.ravel() for axis in np.indices(shape, dtype=np.int64))
    t, p, e = pairs[pair, 0], pairs[pair, 1], e_values[pair]
    return Grid(t, p, devices // (t * p), b_values[bi], v_values[vi], r_values[ri], z_values[zi], e)


def _with_expert_degrees(
    t: IntArray, p: IntArray, devices: int, experts: int, expert: int | None
) -> tuple[IntArray, IntArray]:
    """((t, p) rows, e) for every (t, p) pair and each expert degree e dividing `experts` and
    d = devices / (t·p) (`expert` pins it); dense models (experts = 1) keep e = 1 alone."""
    degrees = divisors(experts) if expert is None else np.array([expert], dtype=np.int64)
    d = devices // (t * p)
    t_rows, e_all = np.meshgrid(np.arange(t.size), degrees, indexing="ij")
    keep = (d[t_rows] % e_all == 0) & (experts % e_all == 0)
    rows = t_rows[keep]
    return np.stack([t[rows], p[rows]], axis=1), e_all[keep]


def per_distinct(keys: tuple[IntArray, ...], function: Any, outputs: int = 1) -> FloatArray:
    """function(*key) for each distinct key tuple, called once per key and spread back over the arrays; a
    function returning `outputs` > 1 numbers gives a (len, outputs) array."""
    stacked = np.stack(keys, axis=1)
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    rows = [function(*(int(x) for x in row)) for row in unique]
    values = np.array(rows, dtype=np.float64).reshape(len(unique), outputs)[inverse.ravel()]
    return values[:, 0] if outputs == 1 else values
