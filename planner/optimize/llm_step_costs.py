"""Cost pieces of LLM training configurations used by planner.optimize.llm_costs: numpy broadcasting,
scalars or arrays.

Compute: every GEMM from its shape and the memory-bound kernels from their bytes (planner.cost.layer_kernels,
planner.cost.gemm; formulas of planner.cost.megatron). Model states: planner.cost.llm_memory;
the optimizer update: planner.cost.memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.cost import megatron as mg
from planner.cost.compute import sustained_compute, sustained_memory_bandwidth
from planner.cost.gemm import memory_bound_time
from planner.cost.layer_kernels import (
    SCORE_KERNELS,
    attention_core_times,
    dense_times,
    elementwise_time,
    gradient_accumulation_time,
    logit_times,
)
from planner.cost.llm_memory import model_state_bytes
from planner.cost.memory import update_bytes_per_parameter
from planner.optimize.llm_setup import FloatArray, TrainingSetup
from planner.spec.hardware import Device
from planner.spec.profile import DTYPE_BYTES


def compute_times(
    setup: TrainingSetup, t: Any, p: Any, b: Any, recompute: str
) -> tuple[FloatArray, FloatArray]:
    """(forward, forward + backward) compute seconds of one micro-batch on the last stage's device: l/p
    layers (recomputation included) and the logit layer, each split t ways; every GEMM timed from its shape
    and the memory-bound kernels from their bytes (planner.cost.layer_kernels), one kernel after another.

    Per layer: the backward runs twice the forward's matrix multiplies and bytes (SC'21 Eq. 3's appendix),
    except fused attention's core, which runs FLASH_BACKWARD_MATMULS times its forward at the device's
    fused-attention rates (planner.cost.megatron, attention kinds); full recomputation adds one forward,
    selective (standard attention) the attention core's forward (Korthikanti et al. Sec. 5). The per-layer
    times are computed once per distinct (t, b)."""
    cfg = setup.model
    recompute = mg.effective_recompute(recompute, setup.attention)
    shards, micro = (np.asarray(x, dtype=np.float64) for x in (t, b))
    shards, micro = np.broadcast_arrays(shards, micro)
    pairs, inverse = np.unique(np.stack([shards.ravel(), micro.ravel()], axis=1), axis=0, return_inverse=True)
    forward_layer, step_layer, logits = (
        x[inverse.ravel()].reshape(shards.shape)
        for x in _layer_times(setup, pairs[:, 0], pairs[:, 1], recompute)
    )
    layers = cfg.num_layers / np.asarray(p, dtype=np.float64)
    logits_forward = logit_times(setup.device, setup.dtype, cfg, micro * setup.seq_len, shards)[0]
    return layers * forward_layer + logits_forward, layers * step_layer + logits


def _layer_times(
    setup: TrainingSetup, t: FloatArray, b: FloatArray, recompute: str
) -> tuple[FloatArray, ...]:
    """(one layer's forward, one layer's forward + backward + recomputation, the logit layer's forward +
    backward) seconds for each (t, b)."""
    cfg, device, dtype = setup.model, setup.device, setup.dtype
    tokens = b * setup.seq_len
    dense, dense_backward = dense_times(device, dtype, cfg, tokens, t)
    if setup.attention == "flash":
        forward_rate, backward_rate = fused_attention_rates(device, dtype)
        executed = (
            mg.attention_flops_per_token(cfg, setup.seq_len)
            * tokens
            / t
            * mg.flash_causal_fraction(setup.seq_len)
        )
        attention = executed / forward_rate
        attention_backward = mg.FLASH_BACKWARD_MATMULS * executed / backward_rate
    else:
        attention, attention_backward = attention_core_times(device, dtype, cfg, setup.seq_len, b, t)
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
    if recompute == "full":
        replay = forward_layer
    elif recompute == "selective":  # standard attention: the core's GEMMs and its score kernels
        replay = attention + memory_bound_time(device, core * scale, SCORE_KERNELS)
    else:
        replay = 0.0 * forward_layer
    logits_forward, logits_backward = logit_times(device, dtype, cfg, tokens, t)
    return forward_layer, forward_layer + backward_layer + replay, logits_forward + logits_backward


def fused_attention_rates(device: Device, dtype: str) -> tuple[float, float]:
    """FLOP/s a fused (flash) attention kernel sustains on the device, (forward, backward): peak[dtype] ·
    the device's flash_forward_efficiency / flash_backward_efficiency, its compute_efficiency where the
    device lists none."""
    sustained_compute(device, dtype)  # ValueError when the device lacks the dtype
    peak = device.peak_compute[dtype]
    forward = device.flash_forward_efficiency or device.compute_efficiency
    backward = device.flash_backward_efficiency or device.compute_efficiency
    return peak * forward, peak * backward


def optimizer_time(setup: TrainingSetup, parameters: Any, data: Any, zero: Any) -> FloatArray:
    """Memory-bound optimizer step over the device's parameters (ZeRO >= 1: its 1/d shard)."""
    psi = np.asarray(parameters, dtype=np.float64)
    shard = np.where(np.asarray(zero) >= 1, np.asarray(data, dtype=np.float64), 1.0)
    moved = update_bytes_per_parameter(setup.dtype, setup.optimizer, setup.gradient_precision) * psi / shard
    return moved / sustained_memory_bandwidth(setup.device)


def state_total(setup: TrainingSetup, parameters: Any, data: Any, zero: Any) -> tuple[FloatArray, ...]:
    weights, gradients, states = model_state_bytes(
        parameters, data, zero, setup.dtype, setup.optimizer, setup.gradient_precision
    )
    return weights, gradients, states, weights + gradients + states


def activation_scale(setup: TrainingSetup) -> float:
    """Korthikanti's byte counts assume 16-bit activations; fp32 training doubles them."""
    return setup.activation_bytes / 2.0
