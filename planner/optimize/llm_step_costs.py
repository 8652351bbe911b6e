"""Cost pieces of an LLM training configuration shared by the scalar evaluation (planner.optimize.
llm_evaluate) and the vectorised grid (planner.optimize.llm_grid): numpy broadcasting, scalars or arrays.

Compute: matrix-multiply FLOPs / sustained compute + memory-bound kernels' bytes / sustained memory bandwidth
(planner.cost.compute, formulas of planner.cost.megatron). Data-parallel traffic and its overlap by ZeRO
stage: Rajbhandari et al. 2020, Sec. 7.2. Model states: planner.cost.llm_memory; the optimizer update:
planner.cost.memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.cost import megatron as mg
from planner.cost.compute import sustained_compute, sustained_memory_bandwidth
from planner.cost.llm_memory import model_state_bytes
from planner.cost.memory import update_bytes_per_parameter
from planner.optimize.llm_setup import FloatArray, TrainingSetup


def compute_times(
    setup: TrainingSetup, t: Any, p: Any, b: Any, recompute: str
) -> tuple[FloatArray, FloatArray]:
    """(forward, forward + backward) compute seconds of one micro-batch on the last stage's device: l/p
    layers (recomputation included) and the logit layer, each split t ways: matrix multiplies at the
    sustained FLOP rate plus the memory-bound kernels at the sustained memory bandwidth (both
    planner.cost.compute), the two kinds of kernel running one after the other."""
    cfg = setup.model
    rate = sustained_compute(setup.device, setup.dtype)
    bandwidth = sustained_memory_bandwidth(setup.device)
    tokens = np.asarray(b, dtype=np.float64) * setup.seq_len
    shards = np.asarray(t, dtype=np.float64)
    layers = cfg.num_layers / np.asarray(p, dtype=np.float64)
    dense = mg.dense_flops_per_token(cfg)
    attention = mg.attention_flops_per_token(cfg, setup.seq_len)
    linear, core = mg.elementwise_bytes_per_token(cfg, setup.seq_len, shards, setup.sequence_parallel)
    linear, core = (x * activation_scale(setup) for x in (linear, core))
    matmul = (dense + attention) * tokens / shards / rate
    memory_bound = (linear + core) * tokens / bandwidth
    logits_forward = mg.logit_flops_per_token(cfg) * tokens / shards / rate
    flop_passes = mg.layer_forward_equivalents(recompute, attention / (dense + attention))
    byte_passes = mg.layer_forward_equivalents(recompute, core / (linear + core))
    forward = layers * (matmul + memory_bound) + logits_forward
    total = layers * (flop_passes * matmul + byte_passes * memory_bound) + 3.0 * logits_forward
    return forward, total


def data_parallel_traffic(zero: Any, microbatches: Any) -> FloatArray:
    """Data-parallel traffic per iteration in units of one gradient all-reduce (Rajbhandari et al. Sec. 7.2):
    ZeRO 0/1: 1; ZeRO-2: a reduce-scatter (1/2) per micro-batch and one all-gather (1/2); ZeRO-3: 1.5 per
    micro-batch (all-gather in forward and in backward, reduce-scatter of the gradients)."""
    z = np.asarray(zero)
    m = np.asarray(microbatches, dtype=np.float64)
    return np.where(z <= 1, 1.0, np.where(z == 2, (m + 1.0) / 2.0, 1.5 * m))


def overlap_window(zero: Any, microbatches: Any, forward: Any, total: Any) -> FloatArray:
    """Compute time the data-parallel traffic can hide behind: the last micro-batch's backward (ZeRO 0/1),
    every backward (ZeRO-2), every forward and backward (ZeRO-3)."""
    z = np.asarray(zero)
    m = np.asarray(microbatches, dtype=np.float64)
    backward = np.asarray(total, dtype=np.float64) - np.asarray(forward, dtype=np.float64)
    return np.where(z <= 1, backward, np.where(z == 2, m * backward, m * np.asarray(total, dtype=np.float64)))


def optimizer_time(setup: TrainingSetup, parameters: Any, data: Any, zero: Any) -> FloatArray:
    """Memory-bound optimizer step over the device's parameters (ZeRO >= 1: its 1/d shard)."""
    psi = np.asarray(parameters, dtype=np.float64)
    shard = np.where(np.asarray(zero) >= 1, np.asarray(data, dtype=np.float64), 1.0)
    moved = update_bytes_per_parameter(setup.dtype, setup.optimizer) * psi / shard
    return moved / sustained_memory_bandwidth(setup.device)


def state_total(setup: TrainingSetup, parameters: Any, data: Any, zero: Any) -> tuple[FloatArray, ...]:
    weights, gradients, states = model_state_bytes(parameters, data, zero, setup.dtype, setup.optimizer)
    return weights, gradients, states, weights + gradients + states


def activation_scale(setup: TrainingSetup) -> float:
    """Korthikanti's byte counts assume 16-bit activations; fp32 training doubles them."""
    return setup.activation_bytes / 2.0
