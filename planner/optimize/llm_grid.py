"""The whole space of LLM training configurations at once: the candidate grid and its costs, as numpy arrays.

Search space: every (t, p) with t·p dividing the N devices (d = N / (t·p), so t·p·d = N), b = 1 ..
max_microbatch, v = 1 .. max_interleave, recomputation none / selective / full, ZeRO 0-3. Rules, as in
Megatron-LM: t divides the attention heads, the key/value heads and the FFN size; p divides the layers
(no uneven stages, Megatron's --num-layers constraint); v > 1 needs p > 1, v dividing l/p and m a multiple
of p (the interleaved schedule's constraint); B a multiple of b·d (m = B/(b·d) whole). A candidate fails on
the first of: divisibility, batch, memory. The whole grid is evaluated with numpy arrays at once (the cost
model of planner.optimize.llm_evaluate); the few collective times it needs are computed once per distinct
(t, b) and (t, p) (planner.cost.llm_comm). Complexity: O(|grid|) array work plus O(divisor pairs × |b|)
collective evaluations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.cost import megatron as mg
from planner.cost.llm_comm import dp_allreduce_time, p2p_time, tp_allreduce_time
from planner.cost.llm_memory import ZERO_STAGES, stage_parameters
from planner.errors import InfeasibleError
from planner.limits import MAX_LLM_CANDIDATES
from planner.optimize.llm_setup import (
    DETAILS,
    REASONS,
    RECOMPUTE,
    Configuration,
    FloatArray,
    IntArray,
    TrainingSetup,
)
from planner.optimize.llm_step_costs import (
    activation_scale,
    compute_times,
    data_parallel_traffic,
    optimizer_time,
    overlap_window,
    state_total,
)
from planner.spec.profile import DTYPE_BYTES

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
) -> Grid:
    """Every (t, p, d = N/(t·p), b, v, recompute, zero) with t·p dividing N, as arrays (a Cartesian
    product built with numpy, no Python loop over candidates). `tensor`, `pipeline`, `microbatch` and
    `interleave` pin that value."""
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
    t_pairs, p_pairs = t_all[keep], p_all[keep]
    b_count = 1 if microbatch is not None else max_microbatch
    v_count = 1 if interleave is not None else max_interleave
    shape = (t_pairs.size, b_count, v_count, len(recompute), len(zero))
    if math.prod(shape) > MAX_CANDIDATES:  # checked before any array of that size is made
        raise InfeasibleError(
            f"the search would evaluate {math.prod(shape):,} candidates (limit {MAX_CANDIDATES:,}, about "
            "6 s and 0.7 GB): lower --max-microbatch or --max-interleave, or pin a degree (-t, -p, -b)"
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
    t, p = t_pairs[pair], p_pairs[pair]
    return Grid(t, p, devices // (t * p), b_values[bi], v_values[vi], r_values[ri], z_values[zi])


@dataclass(frozen=True)
class GridCosts:
    """Vectorised costs of a grid: time per iteration (s), memory per device (bytes), and the first failing
    reason (index into DETAILS' keys, -1 when feasible)."""

    time_s: FloatArray
    memory_bytes: FloatArray
    detail: IntArray

    @property
    def category(self) -> IntArray:
        """Index into REASONS of the failing category, -1 when feasible."""
        lookup = np.array([REASONS.index(DETAILS[code]) for code in DETAILS], dtype=np.int64)
        return np.where(self.detail >= 0, lookup[np.maximum(self.detail, 0)], -1)


def _lookup(keys: tuple[IntArray, ...], function: Any) -> FloatArray:
    """function(*key) for each distinct key tuple, spread back over the arrays."""
    stacked = np.stack(keys, axis=1)
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    values = np.array([function(*(int(x) for x in row)) for row in unique], dtype=np.float64)
    return values[inverse.ravel()]


def evaluate_grid(setup: TrainingSetup, grid: Grid) -> GridCosts:
    """Time, memory and feasibility of every candidate of `grid` at once (the scalar model of
    `evaluate_configuration`, on arrays)."""
    cfg, cluster = setup.model, setup.cluster
    t, p, d, b, v, z = grid.tensor, grid.pipeline, grid.data, grid.microbatch, grid.interleave, grid.zero
    tf, pf, df, bf, vf = (x.astype(np.float64) for x in (t, p, d, b, v))
    m = setup.global_batch / (bf * df)
    layers = cfg.num_layers / pf

    # first failing rule, in DETAILS order
    per_stage = np.where(cfg.num_layers % p == 0, cfg.num_layers // p, 0)
    checks = {
        "tensor-heads": cfg.num_heads % t != 0,
        "tensor-kv-heads": cfg.kv_heads % t != 0,
        "tensor-ffn": cfg.ffn_size % t != 0,
        "pipeline-layers": cfg.num_layers % p != 0,
        "interleave-pipeline": (v > 1) & (p == 1),
        "interleave-layers": (v > 1) & (p > 1) & ((cfg.num_layers % p != 0) | (per_stage % v != 0)),
        "batch-multiple": setup.global_batch % (b * d) != 0,
        "interleave-microbatches": (v > 1)
        & (setup.global_batch % (b * d) == 0)
        & ((setup.global_batch // (b * d)) % p != 0),
    }
    detail = np.full(len(grid), -1, dtype=np.int64)
    codes = list(DETAILS)
    for code, failed in checks.items():
        detail = np.where((detail < 0) & failed, codes.index(code), detail)

    # per-recompute-mode pieces, assembled with np.where
    forward = np.zeros(len(grid))
    total = np.zeros(len(grid))
    collectives = np.zeros(len(grid))
    per_layer = np.zeros(len(grid))
    for index, mode in enumerate(RECOMPUTE):
        chosen = grid.recompute == index
        if not chosen.any():
            continue
        f, tot = compute_times(setup, tf, pf, bf, mode)
        forward = np.where(chosen, f, forward)
        total = np.where(chosen, tot, total)
        collectives = np.where(chosen, mg.tp_collectives_per_layer(mode), collectives)
        act = mg.layer_activation_bytes(cfg, setup.seq_len, bf, tf, mode, setup.sequence_parallel)
        per_layer = np.where(chosen, act, per_layer)

    boundary_per_b = setup.seq_len * cfg.hidden_size * setup.activation_bytes
    tp_one = _lookup((t, b), lambda tt, bb: tp_allreduce_time(cluster, tt, bb * boundary_per_b))
    tp = layers * collectives * tp_one
    p2p = np.where(p > 1, 2.0 * vf * p2p_time(cluster, tf, df, pf, bf * boundary_per_b), 0.0)
    step = total + tp + p2p
    piped = mg.pipeline_time(m, pf, vf, step)

    first, last = stage_parameters(cfg, pf, tf)
    psi = np.maximum(first, last)
    grad_per_param = DTYPE_BYTES[setup.dtype]

    def dp_time(tt: int, pp: int) -> float:
        f_stage, l_stage = stage_parameters(cfg, pp, tt)
        psi_pair = max(float(f_stage), float(l_stage))
        return dp_allreduce_time(cluster, tt, setup.device_count // (tt * pp), psi_pair * grad_per_param)

    traffic = data_parallel_traffic(z, m) * _lookup((t, p), dp_time)
    window = overlap_window(z, m, forward, total) if setup.overlap_grad_reduce else 0.0
    exposed = np.maximum(0.0, traffic - window)
    time = piped + exposed + optimizer_time(setup, psi, df, z)

    scale = activation_scale(setup)
    output = mg.output_activation_bytes(cfg, setup.seq_len, bf, tf)
    first_act = per_layer * mg.in_flight_layer_microbatches(cfg.num_layers, pf, m, vf, last=False)
    last_act = per_layer * mg.in_flight_layer_microbatches(cfg.num_layers, pf, m, vf, last=True) + output
    first_act = np.where(p == 1, first_act + output, first_act)
    first_mem = state_total(setup, first, df, z)[3] + scale * first_act
    last_mem = state_total(setup, last, df, z)[3] + scale * last_act
    memory = np.maximum(first_mem, last_mem)
    detail = np.where((detail < 0) & ~(memory <= setup.device.memory), codes.index("memory"), detail)
    return GridCosts(time_s=time, memory_bytes=memory, detail=detail)
