"""fp8 training as NVIDIA Transformer Engine (TE) runs it under Megatron-LM / NeMo (`--fp8-format hybrid`):
what changes against bf16 mixed precision, per decoder layer on one device.

Source: Transformer Engine user guide, "Using FP8 with Transformer Engine" (docs.nvidia.com/deeplearning/
transformer-engine/user-guide/examples/fp8_primer.html: the fp8 GEMMs of te.Linear / LayerNormLinear /
LayerNormMLP in the forward and both backward GEMMs, E4M3 forward and E5M2 gradients in the HYBRID
format, "higher precision" master weights kept by the framework's mixed precision) and "Performance
Optimizations" (advanced_optimizations.html: "FP8 weight caching", the is_first_microbatch argument: the
fp8 weights are cast on the first micro-batch of an iteration and reused by the others).

What the planner assumes (each a statement of TE's behaviour; confidence: recalled where marked):

* GEMMs: every layer's weight GEMMs (QKV, output projection, FFN in / out, a mixture of experts' expert
  GEMMs through TE's GroupedLinear), forward, input gradient and weight gradient, run at the device's fp8
  peak (planner.cost.gemm with dtype fp8). The attention core (TE's DotProductAttention runs flash
  attention in bf16 unless fp8 attention is asked for, which is not the default), the router, the output
  layer (Megatron's ColumnParallelLinear, not a TE module; confidence: recalled) and every memory-bound
  kernel stay in the training dtype.
* Casts: each fp8 GEMM's activation operand is cast once by a memory-bound pass: the forward's input X
  (T x K) and the backward's output gradient dY (T x N), each read in 16 bits and written as fp8 plus its
  fp8 transpose (TE's cast_transpose kernel: Hopper's fp8 GEMM takes only the TN layout, so the weight-
  and input-gradient GEMMs need the transposed copies), 4 bytes per element, one kernel each. The amax of
  each tensor is taken inside that kernel (delayed scaling reads the amax history, a few floats per
  tensor): no separate pass.
* Weights: per iteration (not per micro-batch, the weight cache above) each GEMM weight is read in 16 bits
  and written as fp8 plus its transpose, 4 bytes per weight, one kernel per matrix.
* Memory: master weights, gradients and optimizer states are those of bf16 mixed precision (TE leaves them
  to the framework), plus the fp8 weight cache, 1 byte per GEMM weight (the transposed copy is not kept
  between micro-batches; confidence: recalled). Saved activations: each fp8 GEMM saves its fp8 input for
  the weight-gradient GEMM (confidence: recalled, TE's Linear saves the cast input when fp8 is on), so of
  Korthikanti et al.'s per-token bytes (planner.cost.megatron.activation_bytes_per_token) the QKV and FFN
  inputs (2h, 16-bit, kept whole without sequence parallelism) and the output-projection and FFN-out
  inputs (q and the active FFN width f, split by t) take 1 byte per element instead of 2. Under full
  recomputation only the layer's input is kept, unchanged.

Units: bytes, seconds, parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.cost.gemm import memory_bound_time
from planner.cost.megatron import active_ffn_size, projection_sizes
from planner.cost.moe import expert_parameters
from planner.cost.transformer import attention_parameters, ffn_parameters
from planner.spec.hardware import Device
from planner.spec.llm import LLMConfig

GEMM_PRECISIONS = ("fp8",)
CAST_BYTES = 4.0  # per element: read 16 bits, write fp8 and its fp8 transpose (module docstring)
GEMMS_PER_LAYER = 4  # QKV, output projection, FFN in, FFN out: one cast kernel each per pass
FP8_CACHE_BYTES = 1.0  # the cached fp8 copy of a GEMM weight


def check_fp8_device(device: Device) -> None:
    """Raise ValueError naming the device when it lists no fp8 peak."""
    if "fp8" not in device.peak_compute:
        raise ValueError(
            f"{device.name} lists no fp8 peak (it lists {', '.join(device.peak_compute)}); fp8 training "
            "needs fp8 tensor cores (Hopper, Ada, Blackwell, CDNA3)"
        )


def cast_times(cfg: LLMConfig, device: Device, tokens: Any, tensor: Any) -> tuple[Any, Any]:
    """(forward, backward) seconds of one layer's fp8 casts on one of t devices, T = `tokens` rows: the
    GEMM inputs X (T x K) forward, the output gradients dY (T x N) backward (module docstring). A mixture
    of experts' FFN is taken at its active width (the top-k and shared experts' rows)."""
    h, f = cfg.hidden_size, active_ffn_size(cfg)
    q, kv = projection_sizes(cfg)
    t = np.asarray(tensor, dtype=np.float64)
    rows = np.asarray(tokens, dtype=np.float64)
    inner = (2 if cfg.gated_ffn else 1) * f
    inputs = h + q / t + h + f / t  # K of QKV, output projection, FFN in, FFN out
    outputs = (q + 2 * kv) / t + h + inner / t + h  # N of each
    forward = memory_bound_time(device, CAST_BYTES * rows * inputs, GEMMS_PER_LAYER)
    backward = memory_bound_time(device, CAST_BYTES * rows * outputs, GEMMS_PER_LAYER)
    return forward, backward


def gemm_weight_parameters(cfg: LLMConfig, pipeline: Any, tensor: Any, expert: Any = 1) -> Any:
    """GEMM weights (attention and FFN matrices, biases included) of one pipeline stage on one of t
    devices, the routed experts also split e ways. Unit: parameters."""
    p, t = (np.asarray(x, dtype=np.float64) for x in (pipeline, tensor))
    routed = float(expert_parameters(cfg))
    every = float(cfg.num_layers * (attention_parameters(cfg) + ffn_parameters(cfg)))
    return ((every - routed) + routed / np.asarray(expert, dtype=np.float64)) / p / t


def weight_cache_bytes(cfg: LLMConfig, pipeline: Any, tensor: Any, expert: Any = 1) -> Any:
    """Bytes of TE's cached fp8 weights on one device (module docstring)."""
    return FP8_CACHE_BYTES * gemm_weight_parameters(cfg, pipeline, tensor, expert)


def weight_cast_time(cfg: LLMConfig, device: Device, pipeline: Any, tensor: Any, expert: Any = 1) -> Any:
    """Seconds per iteration to cast one device's GEMM weights to fp8 (and their transposes)."""
    weights = gemm_weight_parameters(cfg, pipeline, tensor, expert)
    kernels = GEMMS_PER_LAYER * cfg.num_layers / np.asarray(pipeline, dtype=np.float64)
    return memory_bound_time(device, CAST_BYTES * weights, kernels)


def saved_activation_saving(cfg: LLMConfig) -> tuple[float, float]:
    """Bytes per token and layer that fp8 GEMM inputs save against 16-bit ones: (kept whole without
    sequence parallelism, split by t), the parts of activation_bytes_per_token they come from."""
    q, _ = projection_sizes(cfg)
    return 2.0 * cfg.hidden_size, float(q + active_ffn_size(cfg))
