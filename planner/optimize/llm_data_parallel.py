"""Data-parallel communication of LLM training configurations, on arrays (one entry per candidate): the
gradient reduction by ZeRO stage, how much of it hides behind compute, and ZeRO-3's gathered working copy.

Traffic per iteration, with τ(x) one data-parallel all-reduce of x bytes among the d replicas
(planner.cost.llm_comm.dp_allreduce_time; an all-gather or a reduce-scatter is half of it, Rajbhandari
et al., "ZeRO", SC 2020, Sec. 7.2.1), Ψ the stage's parameters, L one layer's (both per tensor-parallel
rank), w and g the bytes per weight and per gradient:
  ZeRO 0/1  τ(Ψ·g): one all-reduce (ZeRO-1: reduce-scatter + all-gather, the same bytes)
  ZeRO-2    a reduce-scatter per micro-batch and one all-gather: (m + 1)/2 · τ(Ψ·g)
  ZeRO-3    per micro-batch and layer, as FSDP and DeepSpeed run it (Zhao et al., "PyTorch FSDP", VLDB
            2023, Sec. 3.2-4): an all-gather of the layer's weights before its forward and again before
            its backward, and a reduce-scatter of its gradients after: m·[(l/p)·(τ(L·w) + τ(L·g)/2) +
            τ(R·w) + τ(R·g)/2], R = Ψ - (l/p)·L the embedding / head part; each layer's collectives pay
            their own latency.
Overlap (when `overlap_grad_reduce`): ZeRO 0/1 hide behind the last micro-batch's backward, ZeRO-2 behind
every backward, ZeRO-3 behind every forward and backward; only the excess is exposed, and ZeRO-3 also
exposes what nothing can hide: each micro-batch's first all-gather (no layer computes before it) and the
step's last reduce-scatter (no layer computes after it), τ(L·w)/2 per micro-batch plus τ(L·g)/2.
ZeRO-3's working copy: the layer being computed and the one prefetched, gathered in full (2·L·w bytes;
FSDP's limit of two all-gathers in flight, Zhao et al. Sec. 4.2), and the layer's unsharded gradient
before its reduce-scatter (L·g). Units: bytes, seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.cost.llm_comm import dp_allreduce_time
from planner.cost.llm_memory import layer_parameters, stage_parameters
from planner.optimize.llm_grid import per_distinct
from planner.optimize.llm_setup import FloatArray, IntArray, TrainingSetup
from planner.spec.profile import DTYPE_BYTES


def _stage_and_layer_times(setup: TrainingSetup, t: int, p: int, d: int) -> tuple[float, ...]:
    """(τ(Ψ·g), τ(L·w), τ(L·g), τ(R·w), τ(R·g)) for one (t, p, d); see the module docstring."""
    cfg, cluster = setup.model, setup.cluster
    w, g = DTYPE_BYTES[setup.dtype], DTYPE_BYTES[setup.gradient_precision]
    first, last = stage_parameters(cfg, p, t)
    stage = max(float(first), float(last))
    layer = layer_parameters(cfg) / t
    rest = max(0.0, stage - cfg.num_layers / p * layer)
    return tuple(
        dp_allreduce_time(cluster, t, d, size)
        for size in (stage * g, layer * w, layer * g, rest * w, rest * g)
    )


def data_parallel_times(
    setup: TrainingSetup,
    t: IntArray,
    p: IntArray,
    d: IntArray,
    z: IntArray,
    microbatches: FloatArray,
    forward: FloatArray,
    total: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """(traffic, exposed) data-parallel seconds per iteration of each candidate (module docstring);
    `forward` and `total` are one micro-batch's compute seconds (forward, forward + backward)."""
    m = np.asarray(microbatches, dtype=np.float64)
    stage, layer_w, layer_g, rest_w, rest_g = (
        per_distinct((t, p, d), lambda tt, pp, dd, k=k: _stage_and_layer_times(setup, tt, pp, dd)[k])
        for k in range(5)
    )
    layers = setup.model.num_layers / p.astype(np.float64)
    zero3 = m * (layers * (layer_w + 0.5 * layer_g) + rest_w + 0.5 * rest_g)
    traffic = np.where(z <= 1, stage, np.where(z == 2, (m + 1.0) / 2.0 * stage, zero3))
    if not setup.overlap_grad_reduce:
        return traffic, traffic
    backward = total - forward
    window = np.where(z <= 1, backward, np.where(z == 2, m * backward, m * total))
    unhidden = np.where(z == 3, m * 0.5 * layer_w + 0.5 * layer_g, 0.0)
    exposed = np.maximum(0.0, traffic - window) + unhidden
    return traffic, np.minimum(traffic, exposed)


def zero3_working_copy_bytes(setup: TrainingSetup, t: Any, z: Any) -> FloatArray:
    """Bytes of ZeRO-3's gathered working copy per device (module docstring), 0 for other stages."""
    layer = layer_parameters(setup.model) / np.asarray(t, dtype=np.float64)
    copy = layer * (2.0 * DTYPE_BYTES[setup.dtype] + DTYPE_BYTES[setup.gradient_precision])
    return np.where(np.asarray(z) == 3, copy, 0.0)
