"""The cost model of LLM training configurations, evaluated on arrays (one entry per candidate of a
planner.optimize.llm_grid.Grid; one configuration is a one-row grid).

Per configuration (seconds; planner.cost.megatron for the formulas and sources):
  step      one device's forward + backward of one micro-batch on the last stage (it also holds the logit
            layer): matrix-multiply FLOPs / sustained compute + memory-bound kernels' bytes / sustained
            memory bandwidth (planner.cost.compute) + the tensor-parallel all-reduces of its l/p layers +
            2·v point-to-point transfers + (mixture of experts, e > 1) the expert-parallel all-to-alls of
            its l/p layers (not overlapped)
  pipeline  (m + (p-1)/v)·step (SC'21 Eq. 1; the (p-1)/v part is the bubble)
  data      the data-parallel gradient reduction by ZeRO stage and the part of it compute does not hide
            (planner.optimize.llm_data_parallel)
  optimizer the memory-bound update of the device's (ZeRO-sharded) parameters (planner.cost.memory)
Memory per device: the larger of the first stage (embedding, most micro-batches in flight) and the last
(head, logits), each model states by ZeRO stage (planner.cost.llm_memory; ZeRO-3's gathered working
copy: planner.optimize.llm_data_parallel) plus activations
(planner.cost.megatron), against Device.usable_memory. A candidate fails on the first of: the structural rules
(planner.optimize.llm_rules), memory. The few collective times are computed once per distinct (t, b) and
(t, p, d) (planner.cost.llm_comm).

Mixture of experts (every layer's FFN, e the expert-parallel degree): the experts' GEMMs by their shapes
(planner.cost.layer_kernels); per layer and micro-batch the all-to-alls of the tokens' rows to the experts and
back, 2 in the forward (dispatch, combine), 2 in the backward and 2 more under full recomputation (Lepikhin et
al. 2021, GShard, Sec. 2.2; Megatron-core's alltoall token dispatcher), the counts of the tensor-parallel
collectives (megatron.tp_collectives_per_layer). A device sends the rows its b·s tokens route, experts · C / e
(C = planner.cost.moe.expert_rows(e·b·s) per expert: k·b·s rows when dropless) of h activations, 1/t of them
with sequence parallelism (each tensor-parallel rank sends its shard and the experts' tensor-parallel gather
stands in for the FFN's all-reduce). Expert parameters' states and gradient reductions:
planner.cost.llm_memory, planner.optimize.llm_data_parallel. Complexity: O(|grid|) array work plus O(distinct
keys) collectives.

fp8 training (setup.gemm_precision, planner.cost.fp8_training): the layers' GEMMs at the fp8 peak plus
their operands' casts in `step`, the fp8 GEMM inputs' saved activations at 1 byte, the cached fp8 weights
in the weights' memory, and the weights' cast once per iteration (breakdown fp8_weight_cast_s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.cost import megatron as mg
from planner.cost.fp8_training import weight_cache_bytes, weight_cast_time
from planner.cost.llm_comm import ep_alltoall_time, p2p_time, tp_allreduce_time
from planner.cost.llm_memory import expert_stage_parameters, stage_parameters
from planner.cost.moe import dispatch_rows
from planner.optimize.llm_data_parallel import data_parallel_times, zero3_working_copy_bytes
from planner.optimize.llm_grid import Grid, per_distinct
from planner.optimize.llm_rules import rule_failures, rule_message
from planner.optimize.llm_setup import (
    DETAILS,
    REASONS,
    RECOMPUTE,
    FloatArray,
    IntArray,
    PlanEvaluation,
    TrainingSetup,
)
from planner.optimize.llm_step_costs import (
    activation_scale,
    compute_times,
    fp8_activation_saving,
    optimizer_time,
    state_total,
)

MEMORY_PARTS = ("weights", "gradients", "optimizer_state", "activations")


@dataclass(frozen=True)
class GridCosts:
    """Costs of every candidate of a grid (SI units): time per iteration and its parts (`breakdown`, each
    per iteration), memory per device (the worse of the first and last stage, by part in `memory_parts`),
    which rules each breaks (`failed`, codes of DETAILS) and the first failing one (`detail`, index into
    DETAILS' keys, -1 when feasible). Where B is not a multiple of b·d, m is fractional and the memory
    and the bubble are NaN."""

    time_s: FloatArray
    memory_bytes: FloatArray
    detail: IntArray
    microbatches: FloatArray
    bubble_overhead: FloatArray
    breakdown: dict[str, FloatArray]
    memory_parts: dict[str, FloatArray]
    last_stage_worse: Any
    failed: dict[str, Any]

    @property
    def category(self) -> IntArray:
        """Index into REASONS of the failing category, -1 when feasible."""
        lookup = np.array([REASONS.index(DETAILS[code]) for code in DETAILS], dtype=np.int64)
        return np.where(self.detail >= 0, lookup[np.maximum(self.detail, 0)], -1)


def _stage_memory(
    setup: TrainingSetup,
    parameters: Any,
    p: Any,
    t: Any,
    d: Any,
    z: Any,
    activations: Any,
    experts: Any,
    e: Any,
) -> dict[str, Any]:
    """Bytes per device of one stage by part (MEMORY_PARTS); ZeRO-3's working copy and fp8 training's
    cached fp8 weights count as weights."""
    weights, gradients, states, _ = state_total(setup, parameters, d, z, experts, e)
    weights = weights + zero3_working_copy_bytes(setup, t, z, e)
    if setup.gemm_precision == "fp8":
        weights = weights + weight_cache_bytes(setup.model, p, t, e)
    return dict(zip(MEMORY_PARTS, (weights, gradients, states, activations), strict=True))


def evaluate_grid(setup: TrainingSetup, grid: Grid) -> GridCosts:
    """Time, memory and feasibility of every candidate of `grid` at once (the module docstring's model)."""
    cfg, cluster = setup.model, setup.cluster
    t, p, d, b, v, z = grid.tensor, grid.pipeline, grid.data, grid.microbatch, grid.interleave, grid.zero
    e = grid.expert
    tf, pf, df, bf, vf, ef = (x.astype(np.float64) for x in (t, p, d, b, v, e))
    m = setup.global_batch / (bf * df)
    layers = cfg.num_layers / pf
    failed = rule_failures(setup, t, p, d, b, v, e)
    whole = ~failed["batch-multiple"]

    # per-recompute-mode pieces, assembled with np.where
    forward, total, collectives, per_layer = (np.zeros(len(grid)) for _ in range(4))
    times = compute_times(setup, tf, pf, bf, ef)
    for index, mode in enumerate(RECOMPUTE):
        chosen = grid.recompute == index
        if not chosen.any():
            continue
        f, tot = times[mode]
        forward = np.where(chosen, f, forward)
        total = np.where(chosen, tot, total)
        collectives = np.where(chosen, mg.tp_collectives_per_layer(mode), collectives)
        act = mg.layer_activation_bytes(
            cfg, setup.seq_len, bf, tf, mode, setup.sequence_parallel, setup.attention
        ) - fp8_activation_saving(setup, setup.seq_len, bf, tf, mode)
        per_layer = np.where(chosen, act, per_layer)

    boundary_per_b = setup.seq_len * cfg.hidden_size * setup.activation_bytes
    tp_one = per_distinct((t, b), lambda tt, bb: tp_allreduce_time(cluster, tt, bb * boundary_per_b))
    tp = layers * collectives * tp_one
    p2p = np.where(p > 1, 2.0 * vf * p2p_time(cluster, tf, df, pf, bf * boundary_per_b), 0.0)
    step = total + tp + p2p
    if cfg.is_moe:
        alltoall = layers * collectives * _alltoall_times(setup, t, b, e)
        step = step + alltoall
    piped = mg.pipeline_time(m, pf, vf, step)

    first, last = stage_parameters(cfg, pf, tf)
    experts = expert_stage_parameters(cfg, pf, tf)
    traffic, exposed = data_parallel_times(setup, t, p, d, z, m, forward, total, e)
    update = optimizer_time(setup, np.maximum(first, last), df, z, experts, ef)
    time = piped + exposed + update
    if setup.gemm_precision == "fp8":
        weight_cast = weight_cast_time(cfg, setup.device, pf, tf, ef)
        time = time + weight_cast

    scale = activation_scale(setup)
    output = mg.output_activation_bytes(cfg, setup.seq_len, bf, tf)
    m_whole = np.where(whole, m, np.nan)
    first_act, last_act = (
        per_layer * mg.in_flight_layer_microbatches(cfg.num_layers, pf, m_whole, vf, last=is_last)
        for is_last in (False, True)
    )
    first_act = np.where(p == 1, first_act + output, first_act)
    first_parts = _stage_memory(setup, first, pf, tf, df, z, scale * first_act, experts, ef)
    last_parts = _stage_memory(setup, last, pf, tf, df, z, scale * (last_act + output), experts, ef)
    first_mem, last_mem = sum(first_parts.values()), sum(last_parts.values())
    last_worse = last_mem > first_mem
    memory = np.where(last_worse, last_mem, first_mem)
    memory = np.where(whole, memory, np.nan)

    codes = list(DETAILS)
    detail = np.full(len(grid), -1, dtype=np.int64)
    for code, fails in failed.items():
        detail = np.where((detail < 0) & fails, codes.index(code), detail)
    failed["memory"] = whole & ~(memory <= setup.device.usable_memory)
    detail = np.where((detail < 0) & failed["memory"], codes.index("memory"), detail)
    breakdown = {
        "compute_s": m * total,
        "tensor_parallel_comm_s": m * tp,
        "pipeline_p2p_s": m * p2p,
        "bubble_s": piped - m * step,
        "data_parallel_comm_s": traffic,
        "data_parallel_exposed_s": exposed,
        "optimizer_s": update,
    }
    if cfg.is_moe:
        breakdown["expert_parallel_comm_s"] = m * alltoall
    if setup.gemm_precision == "fp8":
        breakdown["fp8_weight_cast_s"] = weight_cast
    return GridCosts(
        time_s=time,
        memory_bytes=memory,
        detail=detail,
        microbatches=m,
        bubble_overhead=np.where(whole, (pf - 1.0) / (vf * m), np.nan),
        breakdown=breakdown,
        memory_parts={
            part: np.where(last_worse, last_parts[part], first_parts[part]) for part in MEMORY_PARTS
        },
        last_stage_worse=last_worse,
        failed=failed,
    )


def _alltoall_times(setup: TrainingSetup, t: IntArray, b: IntArray, e: IntArray) -> FloatArray:
    """Seconds of one expert-parallel all-to-all per candidate (module docstring), once per (t, b, e)."""
    cfg, cluster = setup.model, setup.cluster

    def one(tt: int, bb: int, ee: int) -> float:
        rows = dispatch_rows(cfg, bb * setup.seq_len, ee)
        shard = tt if setup.sequence_parallel else 1
        return ep_alltoall_time(cluster, tt, ee, rows * cfg.hidden_size * setup.activation_bytes / shard)

    return per_distinct((t, b, e), one)


def plan_evaluation(setup: TrainingSetup, grid: Grid, costs: GridCosts, i: int) -> PlanEvaluation:
    """Candidate i of an evaluated grid in full: its time and memory breakdowns, FLOPs, throughput and every
    rule it breaks, with the reasons in words."""
    c = grid.configuration(i)
    cfg = setup.model
    stage = "last" if bool(np.asarray(costs.last_stage_worse).ravel()[i]) else "first"
    memory = float(costs.memory_bytes[i])
    reasons, codes = [], []
    for code in DETAILS:
        if not bool(costs.failed[code][i]):
            continue
        codes.append(code)
        if code == "memory":
            reasons.append(
                f"needs {memory / 2**30:.1f} GiB per device ({stage} stage), the device has "
                f"{setup.device.usable_memory / 2**30:.1f} GiB usable"
            )
        else:
            reasons.append(rule_message(code, setup, c))
    time = float(costs.time_s[i])
    tokens = setup.global_batch * setup.seq_len
    done = mg.effective_recompute(c.recompute, setup.attention)
    executed = float(mg.training_flops(cfg, tokens, setup.seq_len, done))
    useful = float(mg.model_flops(cfg, tokens, setup.seq_len))
    n = c.devices
    return PlanEvaluation(
        config=c,
        devices=n,
        microbatches=float(costs.microbatches[i]),
        time_per_iteration_s=time,
        time_breakdown={key: float(value[i]) for key, value in costs.breakdown.items()},
        flops_per_iteration=executed,
        model_flops_per_iteration=useful,
        tflops_per_device=executed / time / n / 1e12,
        model_tflops_per_device=useful / time / n / 1e12,
        mfu=useful / time / n / setup.device.peak(setup.gemm_dtype),
        tokens_per_s=tokens / time,
        bubble_overhead=float(costs.bubble_overhead[i]),
        memory_per_device_bytes=memory,
        memory_breakdown={**{k: float(v[i]) for k, v in costs.memory_parts.items()}, "stage": stage},
        device_memory_bytes=setup.device.memory,
        feasible=not codes,
        reasons=tuple(reasons),
        reason_codes=tuple(codes),
    )
