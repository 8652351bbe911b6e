"""Cost pieces of LLM training configurations used by planner.optimize.llm_costs: numpy broadcasting,
scalars or arrays.

Compute: every GEMM from its shape and the memory-bound kernels from their bytes (planner.cost.layer_kernels,
planner.cost.gemm; formulas of planner.cost.megatron); fp8 GEMMs and their casts:
planner.cost.fp8_training. Model states: planner.cost.llm_memory;
the optimizer update: planner.cost.memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.cost import megatron as mg
from planner.cost.compute import sustained_memory_bandwidth
from planner.cost.fp8_training import cast_times, saved_activation_saving
from planner.cost.gemm import memory_bound_time
from planner.cost.layer_kernels import (
    SCORE_KERNELS,
    attention_times,
    dense_times,
    elementwise_time,
    gradient_accumulation_time,
    logit_times,
    loss_times,
)
from planner.cost.llm_memory import model_state_bytes
from planner.cost.memory import update_bytes_per_parameter
from planner.optimize.llm_setup import FloatArray, TrainingSetup
from planner.spec.profile import DTYPE_BYTES


def compute_times(
    setup: TrainingSetup, t: Any, p: Any, b: Any, e: Any = 1
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """For each recomputation mode, (forward, forward + backward) compute seconds of one micro-batch on the
    last stage's device: l/p layers (recomputation included) and the logit layer with the loss, each split
    t ways; every GEMM timed from its shape and the memory-bound kernels from their bytes
    (planner.cost.layer_kernels), one kernel after another.

    Per layer: the backward runs twice the forward's matrix multiplies and bytes (SC'21 Eq. 3's appendix),
    except fused attention's core (planner.cost.layer_kernels.attention_times); full recomputation adds
    one forward, selective (standard attention) the attention core's forward (Korthikanti et al. Sec. 5;
    with fused attention it is none). The per-layer times are computed once per distinct (t, b) for all
    modes (and e, the expert-parallel degree of a mixture of experts)."""
    shards, micro, experts = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (t, b, e)))
    keys = np.stack([shards.ravel(), micro.ravel(), experts.ravel()], axis=1)
    rows, inverse = np.unique(keys, axis=0, return_inverse=True)
    forward, step, selective, logits_forward, logits = (
        x[inverse.ravel()].reshape(shards.shape)
        for x in _layer_times(setup, rows[:, 0], rows[:, 1], rows[:, 2])
    )
    layers = setup.model.num_layers / np.asarray(p, dtype=np.float64)
    replays = {"none": 0.0 * forward, "selective": selective, "full": forward}
    return {
        mode: (layers * forward + logits_forward, layers * (step + replays[mode]) + logits)
        for mode in mg.RECOMPUTE
    }


def _layer_times(setup: TrainingSetup, t: FloatArray, b: FloatArray, e: FloatArray) -> tuple[FloatArray, ...]:
    """(one layer's forward, its forward + backward, what selective recomputation replays, the logit
    layer's forward, its forward + backward) seconds for each (t, b, e)."""
    cfg, device, dtype = setup.model, setup.device, setup.dtype
    tokens = b * setup.seq_len
    dense, dense_backward = dense_times(device, setup.gemm_dtype, cfg, tokens, t, e, router_dtype=dtype)
    if setup.gemm_precision == "fp8":  # the casts of the GEMMs' operands (planner.cost.fp8_training)
        cast, cast_backward = cast_times(cfg, device, tokens, t)
        dense, dense_backward = dense + cast, dense_backward + cast_backward
    attention, attention_backward = attention_times(device, dtype, cfg, setup.seq_len, b, t, setup.attention)
    linear, core = mg.elementwise_bytes_per_token(
        cfg, setup.seq_len, t, setup.sequence_parallel, setup.attention
    )
    scale = activation_scale(setup) * tokens
    elementwise = elementwise_time(device, (linear + core) * scale, setup.attention)
    forward_layer = dense + attention + elementwise
    backward_layer = dense_backward + attention_backward + 2.0 * elementwise
    if not setup.gradient_accumulation_fusion:
        grad_bytes = DTYPE_BYTES[setup.gradient_precision]
        backward_layer = backward_layer + gradient_accumulation_time(
            device, cfg, DTYPE_BYTES[dtype], grad_bytes, t
        )
    if setup.attention == "standard":  # the core's GEMMs and its score kernels
        selective = attention + memory_bound_time(device, core * scale, SCORE_KERNELS)
    else:  # fused attention: selective recomputation is none (megatron.effective_recompute)
        selective = 0.0 * forward_layer
    projection_forward, projection_backward = logit_times(device, dtype, cfg, tokens, t)
    loss_forward, loss_backward = loss_times(device, cfg, tokens, t)
    logits_forward = projection_forward + loss_forward
    logits_backward = projection_backward + loss_backward
    return (
        forward_layer,
        forward_layer + backward_layer,
        selective,
        logits_forward,
        logits_forward + logits_backward,
    )


def optimizer_time(
    setup: TrainingSetup, parameters: Any, data: Any, zero: Any, experts: Any = 0.0, expert: Any = 1
) -> FloatArray:
    """Memory-bound optimizer step over the device's parameters (ZeRO >= 1: its 1/d shard; of the routed
    experts, split e ways, its 1/(d/e) shard, as state_total), gradients clipped by their global norm
    (Megatron-LM's default --clip-grad 1.0, megatron/arguments.py; GPT-3, Brown et al. 2020, App. B:
    "clip the global norm of the gradient at 1.0")."""
    sharded = np.asarray(zero) >= 1
    e = np.asarray(expert, dtype=np.float64)
    d = np.asarray(data, dtype=np.float64)
    shared = np.asarray(parameters, dtype=np.float64) - experts
    per_parameter = update_bytes_per_parameter(
        setup.dtype, setup.optimizer, setup.gradient_precision, gradient_clipping=True
    )
    moved = per_parameter * shared / np.where(sharded, d, 1.0)
    moved = moved + per_parameter * (experts / e) / np.where(sharded, d / e, 1.0)
    return moved / sustained_memory_bandwidth(setup.device)


def state_total(
    setup: TrainingSetup, parameters: Any, data: Any, zero: Any, experts: Any = 0.0, expert: Any = 1
) -> tuple[FloatArray, ...]:
    """(weights, gradients, optimizer state, their sum) bytes per device: `parameters` sharded by ZeRO
    over d, of which `experts` (routed experts, before expert parallelism) are split e ways and sharded
    over the d / e ranks holding the same experts (planner.cost.llm_memory)."""
    shared = np.asarray(parameters, dtype=np.float64) - experts
    e = np.asarray(expert, dtype=np.float64)
    parts = (
        model_state_bytes(psi, d, zero, setup.dtype, setup.optimizer, setup.gradient_precision)
        for psi, d in ((shared, data), (experts / e, np.asarray(data) / e))
    )
    weights, gradients, states = (a + b for a, b in zip(*parts, strict=True))
    return weights, gradients, states, weights + gradients + states


def activation_scale(setup: TrainingSetup) -> float:
    """Korthikanti's byte counts assume 16-bit activations; fp32 training doubles them."""
    return setup.activation_bytes / 2.0


def fp8_activation_saving(setup: TrainingSetup, seq_len: Any, microbatch: Any, tensor: Any, mode: str) -> Any:
    """Bytes per layer and micro-batch that fp8 GEMM inputs save on one device (planner.cost.fp8_training):
    none unless gemm_precision is fp8 and the mode keeps the GEMM inputs (not full recomputation)."""
    if setup.gemm_precision != "fp8" or mg.effective_recompute(mode, setup.attention) == "full":
        return 0.0
    whole, split = saved_activation_saving(setup.model)
    t = np.asarray(tensor, dtype=np.float64)
    shard = t if setup.sequence_parallel else 1.0
    return seq_len * np.asarray(microbatch, dtype=np.float64) * (whole / shard + split / t)
