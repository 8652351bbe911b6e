"""Data-parallel communication of LLM training configurations, on arrays (one entry per candidate): the
gradient reduction by ZeRO stage, how much of it hides behind compute, and ZeRO-3's gathered working copy.

Traffic per iteration, with τ(x) a reduce-scatter plus an all-gather of x bytes among the d replicas
(the bytes of one all-reduce, Rajbhandari et al., "ZeRO", SC 2020, Sec. 7.2.1; each half of it), as NCCL
runs them: rings (its tree algorithm serves all-reduce alone), Ψ the stage's parameters, L one layer's
(both per tensor-parallel rank), w and g the bytes per weight and per gradient:
  ZeRO 0    one all-reduce of Ψ·g, NCCL's fastest algorithm (planner.cost.llm_comm.dp_allreduce_time)
  ZeRO-1    τ(Ψ·g): the gradients reduce-scattered, the updated weights all-gathered
  ZeRO-2    a reduce-scatter per micro-batch and one all-gather: (m + 1)/2 · τ(Ψ·g)
  ZeRO-3    per micro-batch and layer, as FSDP and DeepSpeed run it (Zhao et al., "PyTorch FSDP", VLDB
            2023, Sec. 3.2-4): an all-gather of the layer's weights before its forward and again before
            its backward, and a reduce-scatter of its gradients after: m·[(l/p)·(τ(L·w) + τ(L·g)/2) +
            τ(R·w) + τ(R·g)/2], R = Ψ - (l/p)·L the embedding / head part; each layer's collectives pay
            their own latency.
Overlap (when `overlap_grad_reduce`), as it happens (planner.cost.overlap.backward_phase): ZeRO 0/1 run
behind the last micro-batch's backward, ZeRO-2 behind every backward, ZeRO-3 behind every forward and
backward; the compute they overlap slows down (the collective's kernels take SMs and memory bandwidth),
what does not fit is exposed, and so is what nothing can hide: the last gradient bucket (ZeRO 0-2: its
share of the stage's collective, MEGATRON_BUCKET_PARAMETERS), and for ZeRO-3 each micro-batch's first
all-gather (no layer computes before it) and the step's last reduce-scatter, τ(L·w)/2 per micro-batch plus
τ(L·g)/2.
Mixture of experts with expert parallelism e: each collective above moves the non-expert bytes among the
d replicas and the device's routed experts' bytes (its 1/e share) among the d / e replicas that hold the
same experts, t·e devices apart (Megatron-core's expert-data-parallel group, planner.optimize.llm_setup):
τ(x) becomes τ_d(x_shared) + τ_{d/e}(x_experts / e), the two one after the other.
ZeRO-3's working copy: the layer being computed and the one prefetched, gathered in full (2·L·w bytes;
FSDP's limit of two all-gathers in flight, Zhao et al. Sec. 4.2), and the layer's unsharded gradient
before its reduce-scatter (L·g). Units: bytes, seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.cost.llm_comm import dp_allreduce_time
from planner.cost.llm_memory import expert_stage_parameters, layer_parameters, stage_parameters
from planner.cost.overlap import backward_phase, device_overlap
from planner.optimize.llm_grid import per_distinct
from planner.optimize.llm_setup import FloatArray, IntArray, TrainingSetup
from planner.spec.profile import DTYPE_BYTES

# Megatron-LM's gradient bucket: 40M parameters (megatron/core/distributed: bucket_size defaults to
# max(40,000,000, 1,000,000 · dp) parameters); the last one is reduced after the last backward layer.
MEGATRON_BUCKET_PARAMETERS = 40_000_000
RINGS = ("ring",)  # NCCL's only algorithm for reduce-scatter and all-gather


def _stage_and_layer_times(setup: TrainingSetup, t: int, p: int, d: int, e: int) -> tuple[float, ...]:
    """(τ(Ψ·g) as an all-reduce, the same as rings, τ(L·w), τ(L·g), τ(R·w), τ(R·g), the last bucket's share
    of the stage's gradients) for one (t, p, d, e), the collectives but the first as rings (module
    docstring)."""
    cfg = setup.model
    w, g = DTYPE_BYTES[setup.dtype], DTYPE_BYTES[setup.gradient_precision]
    first, last = stage_parameters(cfg, p, t)
    experts = float(expert_stage_parameters(cfg, p, t))
    stage = max(float(first), float(last))
    layer = layer_parameters(cfg) / t
    layer_experts = experts * p / cfg.num_layers
    rest = max(0.0, stage - cfg.num_layers / p * layer)
    split = ((stage, experts, g), (layer, layer_experts, w), (layer, layer_experts, g), (rest, 0.0, w))
    parts = [*split, (rest, 0.0, g)]

    def reduce(total: float, routed: float, size: float, algorithms: tuple[str, ...] | None) -> float:
        shared = dp_allreduce_time(setup.cluster, t, d, (total - routed) * size, algorithms)
        return shared + dp_allreduce_time(setup.cluster, t * e, d // e, routed / e * size, algorithms)

    rings = (reduce(*part, RINGS) for part in parts)
    held = stage - experts + experts / e
    last_bucket = min(1.0, MEGATRON_BUCKET_PARAMETERS / held) if held > 0 else 0.0
    return (reduce(stage, experts, g, None), *rings, last_bucket)


def data_parallel_times(
    setup: TrainingSetup,
    t: IntArray,
    p: IntArray,
    d: IntArray,
    z: IntArray,
    microbatches: FloatArray,
    forward: FloatArray,
    total: FloatArray,
    e: IntArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(traffic, exposed) data-parallel seconds per iteration of each candidate (module docstring);
    `forward` and `total` are one micro-batch's compute seconds (forward, forward + backward); `e` the
    expert-parallel degrees (default 1)."""
    m = np.asarray(microbatches, dtype=np.float64)
    e = np.ones_like(t) if e is None else e
    allreduce, stage, layer_w, layer_g, rest_w, rest_g, bucket = per_distinct(
        (t, p, d, e), lambda tt, pp, dd, ee: _stage_and_layer_times(setup, tt, pp, dd, ee), outputs=7
    ).T
    layers = setup.model.num_layers / p.astype(np.float64)
    zero3 = m * (layers * (layer_w + 0.5 * layer_g) + rest_w + 0.5 * rest_g)
    traffic = np.where(
        z == 0, allreduce, np.where(z == 1, stage, np.where(z == 2, (m + 1.0) / 2.0 * stage, zero3))
    )
    if not setup.overlap_grad_reduce:
        return traffic, traffic
    backward = total - forward
    window = np.where(z <= 1, backward, np.where(z == 2, m * backward, m * total))
    tail = np.where(
        z == 0,
        bucket * allreduce,
        np.where(
            z == 1, bucket * stage, np.where(z == 2, 0.5 * bucket * stage, m * 0.5 * layer_w + 0.5 * layer_g)
        ),
    )
    exposed = backward_phase(window, traffic, tail, device_overlap(setup.device)) - window
    return traffic, np.maximum(0.0, exposed)


def zero3_working_copy_bytes(setup: TrainingSetup, t: Any, z: Any, e: Any = 1) -> FloatArray:
    """Bytes of ZeRO-3's gathered working copy per device (module docstring), 0 for other stages; of a
    mixture of experts' layer the device's 1/e of its routed experts."""
    cfg = setup.model
    routed = expert_stage_parameters(cfg, cfg.num_layers, 1)
    held = layer_parameters(cfg) - routed + routed / np.asarray(e, dtype=np.float64)
    layer = held / np.asarray(t, dtype=np.float64)
    copy = layer * (2.0 * DTYPE_BYTES[setup.dtype] + DTYPE_BYTES[setup.gradient_precision])
    return np.where(np.asarray(z) == 3, copy, 0.0)
