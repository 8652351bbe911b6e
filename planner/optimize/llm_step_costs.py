"""Cost pieces of LLM training configurations used by planner.optimize.llm_costs: numpy broadcasting,
scalars or arrays.

Compute: matrix-multiply FLOPs / sustained compute + memory-bound kernels' bytes / sustained memory
bandwidth (planner.cost.compute, formulas of planner.cost.megatron). Model states: planner.cost.llm_memory;
the optimizer update: planner.cost.memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.cost import megatron as mg
from planner.cost.compute import sustained_compute, sustained_memory_bandwidth
from planner.cost.llm_memory import model_state_bytes
from planner.cost.memory import update_bytes_per_parameter
from planner.optimize.llm_setup import FloatArray, TrainingSetup
from planner.spec.hardware import Device


def compute_times(
    setup: TrainingSetup, t: Any, p: Any, b: Any, recompute: str
) -> tuple[FloatArray, FloatArray]:
    """(forward, forward + backward) compute seconds of one micro-batch on the last stage's device: l/p
    layers (recomputation included) and the logit layer, each split t ways: matrix multiplies at the
    sustained FLOP rate plus the memory-bound kernels at the sustained memory bandwidth (both
    planner.cost.compute), the two kinds of kernel running one after the other.

    Per layer: the backward runs twice the forward's matrix multiplies and bytes (SC'21 Eq. 3's appendix),
    except fused attention's core, which runs FLASH_BACKWARD_MATMULS times its forward at the device's
    fused-attention backward efficiency (planner.cost.megatron, attention kinds); full recomputation adds
    one forward, selective (standard attention) the attention core's forward (Korthikanti et al. Sec. 5)."""
    cfg = setup.model
    recompute = mg.effective_recompute(recompute, setup.attention)
    rate = sustained_compute(setup.device, setup.dtype)
    bandwidth = sustained_memory_bandwidth(setup.device)
    tokens = np.asarray(b, dtype=np.float64) * setup.seq_len
    shards = np.asarray(t, dtype=np.float64)
    layers = cfg.num_layers / np.asarray(p, dtype=np.float64)
    per_device = tokens / shards
    dense = mg.dense_flops_per_token(cfg) * per_device / rate
    attention_flops = mg.attention_flops_per_token(cfg, setup.seq_len) * per_device
    if setup.attention == "flash":
        forward_rate, backward_rate = fused_attention_rates(setup.device, setup.dtype)
        executed = attention_flops * mg.flash_causal_fraction(setup.seq_len)
        attention = executed / forward_rate
        attention_backward = mg.FLASH_BACKWARD_MATMULS * executed / backward_rate
    else:
        attention = attention_flops / rate
        attention_backward = 2.0 * attention
    linear, core = mg.elementwise_bytes_per_token(
        cfg, setup.seq_len, shards, setup.sequence_parallel, setup.attention
    )
    linear, core = (x * activation_scale(setup) * tokens / bandwidth for x in (linear, core))
    forward_layer = dense + attention + linear + core
    backward_layer = 2.0 * (dense + linear + core) + attention_backward
    replays: dict[str, FloatArray] = {"none": 0.0 * forward_layer, "selective": attention + core}
    replay = forward_layer if recompute == "full" else replays[recompute]
    logits_forward = mg.logit_flops_per_token(cfg) * per_device / rate
    forward = layers * forward_layer + logits_forward
    total = layers * (forward_layer + backward_layer + replay) + 3.0 * logits_forward
    return forward, total


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
