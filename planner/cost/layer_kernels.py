"""Time of one decoder layer's kernels on one device, from the shapes of its matrix multiplies.

A layer of a decoder-only transformer trained with t-way tensor parallelism runs, per micro-batch of
b sequences of s tokens (T = b·s rows; Megatron-LM's column/row split, Shoeybi et al. 2019 Sec. 3):

  forward GEMM (M, N, K)           query/key/value projection (T, (q + 2kv)/t, h), output projection
                                   (T, h, q/t), FFN in (T, f/t, h; gated: 2f/t), FFN out (T, h, f/t)
  backward of each                 input gradient (M, K, N) and weight gradient (K, N, M): twice the
                                   forward's FLOPs (SC'21 Eq. 3's appendix)
  standard attention core          per head (batch b·a/t): scores QKᵀ (s, s, d) and scores × V (s, d, s);
                                   backward: dP = dO·Vᵀ (s, s, d), dV, dQ, dK (s, d, s) each
  logit layer                      (T, V/t, h) forward; (T, h, V/t) and (h, V/t, T) backward
  mixture of experts (FFN)         router (T, experts, h), replicated; each of the experts/e routed experts a
                                   device holds, one grouped kernel: in (C, f_in/t, h), out (C, h, f/t), C
                                   its rows, expert_rows(e·T) (planner.cost.moe: the e ranks of an
                                   expert-parallel group send it their tokens, each row k times); shared
                                   experts as a dense FFN of their summed width

q = heads·d and kv = kv_heads·d (d the head size). Each GEMM is timed by planner.cost.gemm.gemm_time (tile
and wave quantisation, the A+B+C roofline, the per-kernel overhead). Memory-bound kernels run at the
device's sustained memory bandwidth plus the per-kernel overhead (planner.cost.gemm.memory_bound_time):
with Megatron-LM's fusions (SC'21 Sec. 4.2) a layer's forward launches two LayerNorms, two
bias-dropout-adds and one bias-activation, plus (standard attention) the fused scale-mask-softmax and the
attention dropout: 5 + 2 kernels; the backward as many again.

Gradient accumulation: without fusion each weight gradient is written by its GEMM and then added into
the main gradient buffer by a separate kernel per parameter tensor, every micro-batch (Megatron-LM's
local DDP hook, megatron/model/distributed.py `_make_param_hook`: "param.main_grad.add_(param.grad.data)"):
it reads the gradient (training dtype) and reads and writes the main gradient (its precision). With
fusion (Megatron-LM's gradient_accumulation_fusion, the default since 2022) the weight-gradient GEMM
accumulates into the buffer itself and no kernel is added. Units: seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.cost import megatron as mg
from planner.cost.compute import sustained_compute
from planner.cost.gemm import gemm_time, memory_bound_time
from planner.cost.megatron import active_ffn_size, projection_sizes
from planner.cost.moe import expert_rows
from planner.cost.transformer import attention_parameters, ffn_parameters
from planner.spec.hardware import Device
from planner.spec.llm import LLMConfig

FloatArray = Any  # numpy float arrays broadcast from the arguments
LINEAR_KERNELS = 5  # two norms, two bias-dropout-adds, one bias-activation (SC'21 Sec. 4.2 fusions)
SCORE_KERNELS = 2  # scale-mask-softmax and attention dropout (standard attention only)


def _forward_and_backward(
    device: Device, dtype: str, m: Any, n: Any, k: Any, batch: Any = 1
) -> tuple[Any, Any]:
    """(forward, backward) seconds of `batch` weight GEMMs (m, n, k): backward = input + weight gradient."""
    forward = gemm_time(device, dtype, m, n, k, batch)
    backward = gemm_time(device, dtype, m, k, n, batch) + gemm_time(device, dtype, k, n, m, batch)
    return forward, backward


def dense_times(
    device: Device,
    dtype: str,
    cfg: LLMConfig,
    tokens: Any,
    tensor: Any,
    expert: Any = 1,
    router_dtype: str | None = None,
    expert_tokens: Any = None,
    expert_split: Any = None,
) -> tuple[Any, Any]:
    """(forward, backward) seconds of one layer's weight GEMMs in `dtype` on one of t devices, T = `tokens`
    rows; a mixture of experts' FFN on one of e expert-parallel ranks, its router in `router_dtype`
    (default `dtype`; fp8 training keeps it in the training dtype) (module docstring). The experts share
    `expert_tokens` rows (default e·T) and each splits over `expert_split` devices (default t; 1 when
    serving's expert parallelism keeps experts whole, planner.optimize.serving_costs)."""
    h, f = cfg.hidden_size, active_ffn_size(cfg)
    q, kv = projection_sizes(cfg)
    t = np.asarray(tensor, dtype=np.float64)
    inner = (2 if cfg.gated_ffn else 1) * f
    shapes = [((q + 2 * kv) / t, h), (h, q / t)]
    if not cfg.is_moe:
        shapes += [(inner / t, h), (h, f / t)]
    forward = backward = 0.0
    for n, k in shapes:
        fwd, bwd = _forward_and_backward(device, dtype, tokens, n, k)
        forward, backward = forward + fwd, backward + bwd
    if cfg.is_moe:
        e = np.asarray(expert, dtype=np.float64)
        pooled = e * np.asarray(tokens, dtype=np.float64) if expert_tokens is None else expert_tokens
        split = t if expert_split is None else np.asarray(expert_split, dtype=np.float64)
        fwd, bwd = _expert_times(device, (dtype, router_dtype or dtype), cfg, (tokens, pooled), (t, split), e)
        forward, backward = forward + fwd, backward + bwd
    return forward, backward


def _expert_times(
    device: Device,
    dtypes: tuple[str, str],
    cfg: LLMConfig,
    rows_in: tuple[Any, Any],
    splits: tuple[Any, Any],
    e: Any,
) -> tuple[Any, Any]:
    """(forward, backward) seconds of a mixture-of-experts FFN's GEMMs on one device (module docstring):
    `dtypes` = (the experts', the router's), `rows_in` = (this device's tokens, the tokens the expert-
    parallel group's experts share), `splits` = (t for the shared experts, the routed experts' split)."""
    h, f = cfg.hidden_size, cfg.expert_size
    inner = (2 if cfg.gated_ffn else 1) * f
    (dtype, router_dtype), (tokens, pooled), (t, split) = dtypes, rows_in, splits
    forward, backward = _forward_and_backward(device, router_dtype, tokens, cfg.num_experts, h)
    rows, local = expert_rows(cfg, pooled), cfg.num_experts / e
    groups = [(rows, local, 1.0, split), (tokens, 1.0, float(cfg.shared_experts), t)]
    for m, batch, width, ways in groups:
        if width == 0:
            continue
        for n, k in ((width * inner / ways, h), (h, width * f / ways)):
            fwd, bwd = _forward_and_backward(device, dtype, m, n, k, batch)
            forward, backward = forward + fwd, backward + bwd
    return forward, backward


def attention_core_times(
    device: Device, dtype: str, cfg: LLMConfig, seq_len: int, microbatch: Any, tensor: Any
) -> tuple[Any, Any]:
    """(forward, backward) seconds of the standard (unfused) attention core's GEMMs on one of t devices."""
    heads = np.asarray(microbatch, dtype=np.float64) * cfg.num_heads / np.asarray(tensor, dtype=np.float64)
    d = cfg.head_size
    scores = gemm_time(device, dtype, seq_len, seq_len, d, heads)
    mix = gemm_time(device, dtype, seq_len, d, seq_len, heads)
    return scores + mix, scores + 3.0 * mix


def fused_attention_rates(device: Device, dtype: str) -> tuple[float, float]:
    """FLOP/s a fused (flash) attention kernel sustains on the device, (forward, backward): peak[dtype] ·
    the device's flash_forward_efficiency / flash_backward_efficiency, its matmul efficiency in `dtype`
    (Device.matmul_efficiency) where the device lists none."""
    sustained_compute(device, dtype)  # ValueError when the device lacks the dtype
    peak = device.peak_compute[dtype]
    forward = device.flash_forward_efficiency or device.matmul_efficiency(dtype)
    backward = device.flash_backward_efficiency or device.matmul_efficiency(dtype)
    return peak * forward, peak * backward


def attention_times(
    device: Device, dtype: str, cfg: LLMConfig, seq_len: float, microbatch: Any, tensor: Any, attention: str
) -> tuple[Any, Any]:
    """(forward, backward) seconds of one layer's attention core on one of t devices for `microbatch`
    sequences of `seq_len` tokens: standard, its GEMMs (attention_core_times); flash, the causal share of
    its FLOPs at the fused kernel's rates, the backward FLASH_BACKWARD_MATMULS times the forward's
    (planner.cost.megatron, attention kinds)."""
    if attention == "standard":
        return attention_core_times(device, dtype, cfg, round(seq_len), microbatch, tensor)
    forward_rate, backward_rate = fused_attention_rates(device, dtype)
    tokens = np.asarray(microbatch, dtype=np.float64) * seq_len
    share = mg.flash_causal_fraction(seq_len)
    executed = (
        mg.attention_flops_per_token(cfg, seq_len) * tokens / np.asarray(tensor, dtype=np.float64) * share
    )
    return executed / forward_rate, mg.FLASH_BACKWARD_MATMULS * executed / backward_rate


def logit_times(device: Device, dtype: str, cfg: LLMConfig, tokens: Any, tensor: Any) -> tuple[Any, Any]:
    """(forward, backward) seconds of the output projection to the vocabulary on one of t devices."""
    vocab = cfg.vocab_size / np.asarray(tensor, dtype=np.float64)
    return _forward_and_backward(device, dtype, tokens, vocab, cfg.hidden_size)


# Bytes per logit of the fp32 loss: forward, cast to fp32 (2 + 4), max (4), minus the max (4 + 4), exp
# (4 + 4), sum (4); backward, softmax = exp / sum (4 + 4), times the loss gradient (4 + 4), cast back (4 + 2).
LOSS_FORWARD_BYTES = 30.0
LOSS_BACKWARD_BYTES = 22.0
LOSS_KERNELS = (6, 3)  # (forward, backward): the passes above, one kernel each


def loss_times(device: Device, cfg: LLMConfig, tokens: Any, tensor: Any) -> tuple[Any, Any]:
    """(forward, backward) seconds of the language-model loss on one of t devices: softmax cross-entropy
    over its V/t logits per token, upcast to fp32 and run pass by pass (Megatron-LM's
    vocab_parallel_cross_entropy(logits.float(), labels), the default unless the loss fusion is enabled;
    Hugging Face causal LMs upcast the logits likewise); the bytes per logit are LOSS_FORWARD_BYTES and
    LOSS_BACKWARD_BYTES, memory-bound (planner.cost.gemm.memory_bound_time)."""
    logits = np.asarray(tokens, dtype=np.float64) * cfg.vocab_size / np.asarray(tensor, dtype=np.float64)
    forward = memory_bound_time(device, LOSS_FORWARD_BYTES * logits, LOSS_KERNELS[0])
    backward = memory_bound_time(device, LOSS_BACKWARD_BYTES * logits, LOSS_KERNELS[1])
    return forward, backward


def elementwise_time(device: Device, bytes_moved: Any, attention: str) -> Any:
    """Seconds of one layer's forward memory-bound kernels moving `bytes_moved` bytes (module docstring)."""
    kernels = LINEAR_KERNELS + (SCORE_KERNELS if attention == "standard" else 0)
    return memory_bound_time(device, bytes_moved, kernels)


def gradient_accumulation_time(
    device: Device, cfg: LLMConfig, dtype_bytes: int, gradient_bytes: int, tensor: Any
) -> Any:
    """Seconds of one layer's unfused gradient accumulation per micro-batch on one of t devices (module
    docstring): its parameters / t · (dtype + 2 · gradient) bytes, one kernel per parameter tensor."""
    matrices = 4 + (1 if cfg.gated_ffn else 0)
    tensors = 2 * matrices if cfg.bias else matrices
    tensors += 2 * (2 if cfg.norm == "layernorm" else 1)
    norms = 2 * cfg.hidden_size * (2 if cfg.norm == "layernorm" else 1)
    parameters = (attention_parameters(cfg) + ffn_parameters(cfg) + norms) / np.asarray(
        tensor, dtype=np.float64
    )
    return memory_bound_time(device, parameters * (dtype_bytes + 2 * gradient_bytes), tensors)
