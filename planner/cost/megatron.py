"""Megatron-LM's closed forms for a transformer trained with tensor, pipeline and data parallelism.

Notation (Narayanan et al., "Efficient large-scale language model training on GPU clusters using
Megatron-LM", SC 2021, Sec. 3.1): B global batch (sequences), s sequence length, l layers, h hidden size,
a attention heads, V vocabulary, t tensor-, p pipeline-, d data-parallel degree, b micro-batch size,
m = B / (b·d) micro-batches per pipeline per iteration, v model chunks per device (interleaving).

FLOPs (SC'21 Sec. 5.1, Eq. 3, derived in its appendix): a layer's forward pass costs 24·B·s·h² + 4·B·s²·h
(QKV 6Bsh², scores QK^T 2Bs²h, attention over values 2Bs²h, output projection 2Bsh², FFN 16Bsh²); the
backward pass costs twice the forward; full activation recomputation runs the forward once more; the
logit layer costs 2·B·s·h·V forward and twice that backward. Hence, with full recomputation,

    F = 96·B·s·l·h²·(1 + s/(6h) + V/(16·l·h))                               (Eq. 3)

and without recomputation (3 forward-equivalents per layer instead of 4)

    F = 72·B·s·l·h²·(1 + s/(6h) + V/(12·l·h)).

Selective recomputation (Korthikanti et al., "Reducing activation recomputation in large transformer
models", MLSys 2023, Sec. 5) recomputes only the attention core (QK^T, softmax, dropout, attention over
values): the 72 form plus 4·B·s²·h·l. Here the per-token terms are generalised beyond GPT (ffn size f,
gated FFNs, grouped-query attention with q = heads·head_dim, kv = kv_heads·head_dim outputs): the
dense part is 2 FLOPs per weight of the layer's matrices, which is 24h² for GPT (f = 4h, q = kv = h).

Activation memory per layer and micro-batch (Korthikanti et al. Sec. 4.1, Eq. 1, 16-bit activations,
1-byte dropout masks): 34·s·b·h + 5·a·s²·b bytes, of which 5·a·s²·b is the attention core (softmax
output 2, dropout mask 1, dropout output 2 bytes per score). Tensor parallelism divides all but 10·s·b·h
(layer-norm inputs, the inputs of the first attention and FFN matrices, dropout masks) by t (Sec. 4.2.1:
s·b·h·(10 + 24/t + 5·a·s/(h·t))); with sequence parallelism everything is divided by t (Sec. 4.2.2).
Selective recomputation drops the attention core (34·s·b·h/t); full recomputation keeps only the layer's
input, 2·s·b·h (/t with sequence parallelism) (Sec. 5, Table 2). The transient memory of recomputing one
layer during the backward pass is not counted, as in the paper. Generalised terms: attention 3h + 4q + 4kv
(GPT: 11h), FFN 3h + 4f (gated: 3h + 6f; GPT: 19h), norms 4h.

Memory-bound kernels (the roofline's other side, Williams et al. 2009): between the matrix multiplies a
layer runs normalisation and elementwise kernels whose time is set by the bytes they move, not by FLOPs.
With Megatron-LM's fusions (SC'21 Sec. 4.2: scale-mask-softmax, bias-GeLU, bias-dropout-add) one layer's
forward pass moves, per token: two LayerNorms reading and writing 2h bytes each (8h), two bias-dropout-adds
reading two 2h inputs and writing 2h plus a 1-byte mask (14h), the bias-activation reading and writing
the FFN's inner activation (4f; gated: reading two and writing one, 6f), and per score the softmax (read
and write 2 bytes) and its dropout (read 2, write 2 and a 1-byte mask): 9·a·s. GPT: 38h + 9as per token.
The backward pass moves twice that and recomputation repeats the forward, like the FLOPs. Each byte is
assumed to cross memory once per kernel (no cache reuse).

Attention kinds. `standard` is the above (SC'21's Megatron-LM: the a·s² scores are materialised, kept for
the backward pass and moved through memory). `flash` is a fused kernel (Dao et al., "FlashAttention",
NeurIPS 2022, Sec. 3; Dao, "FlashAttention-2", ICLR 2024, Sec. 3): the scores never reach memory, so the
attention core keeps no a·s²·b activations and moves no 9·a·s bytes per token; it stores the softmax
log-sum-exp, one fp32 value per row and head (4·a·s·b bytes per layer, counted with the 16-bit
activations), and its backward recomputes the scores: 5 matrix multiplies against the forward's 2
(FlashAttention-2 Sec. 3.1.2), i.e. 2.5 times the forward's attention FLOPs instead of 2. Causal masking
lets it skip the blocks above the diagonal (FlashAttention-2 Sec. 3.1.1): (1 + B/s)/2 of the blocks run,
B = 128 its block size. Selective recomputation has nothing left to recompute with fused attention and is
the same as none. FLOP counts reported (training_flops, model_flops) keep Eq. 3's convention (the full
s² attention, no fused-kernel recomputation); the time model counts what the kernels run.

Units: FLOP, bytes, seconds; `tokens` = B·s (or b·s per micro-batch).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner.spec.llm import LLMConfig

Recompute = Literal["none", "selective", "full"]
RECOMPUTE: tuple[str, ...] = ("none", "selective", "full")
ATTENTION: tuple[str, ...] = ("flash", "standard")
FLASH_BLOCK = 128  # FlashAttention-2's tile of the sequence (Sec. 3.1.1; the block of its causal skipping)
FLASH_BACKWARD_MATMULS = 2.5  # 5 backward matmuls against 2 forward (FlashAttention-2 Sec. 3.1.2)
FloatArray = NDArray[np.float64]


def _check_recompute(recompute: str) -> None:
    if recompute not in RECOMPUTE:
        raise ValueError(f"recompute must be one of {', '.join(RECOMPUTE)}, got {recompute!r}")


def check_attention(attention: str) -> None:
    if attention not in ATTENTION:
        raise ValueError(f"attention must be one of {', '.join(ATTENTION)}, got {attention!r}")


def effective_recompute(recompute: str, attention: str) -> str:
    """The recomputation that happens: selective recomputation is none with fused attention (no attention
    core is kept to drop; FlashAttention recomputes it inside its backward)."""
    _check_recompute(recompute)
    check_attention(attention)
    return "none" if attention == "flash" and recompute == "selective" else recompute


def flash_causal_fraction(seq_len: ArrayLike) -> FloatArray:
    """Fraction of the s×s score blocks a causal fused-attention kernel computes: (1 + B/s)/2, at most 1
    (FlashAttention-2 Sec. 3.1.1, blocks of B = FLASH_BLOCK). Dimensionless."""
    s = np.asarray(seq_len, dtype=np.float64)
    return np.minimum(1.0, 0.5 * (1.0 + FLASH_BLOCK / s))


def _decoder_only(cfg: LLMConfig) -> None:
    if cfg.architecture != "decoder":
        raise ValueError(
            f"{cfg.name} is an encoder-decoder model; the Megatron formulas here cover decoder-only models"
        )


def projection_sizes(cfg: LLMConfig) -> tuple[int, int]:
    """(q, kv): output sizes of the query and of the key (= value) projections: heads·head_dim and
    kv_heads·head_dim (grouped-query attention, Ainslie et al. 2023)."""
    return cfg.num_heads * cfg.head_size, cfg.kv_heads * cfg.head_size


def active_ffn_size(cfg: LLMConfig) -> int:
    """Inner width of the feed-forward work one token does: ffn_size for a dense layer; for a mixture of
    experts its top-k routed and shared experts' inner sizes together (each token runs through them all;
    the router's h × experts scores, < 0.1 % of the FLOPs, are left out). The expert GEMMs are taken as
    one GEMM of that width over all tokens (the same FLOPs; expert-parallel shapes are not modelled)."""
    if not cfg.is_moe:
        return cfg.ffn_size
    return (cfg.routed_experts_per_token + cfg.shared_experts) * (cfg.expert_ffn_size or cfg.ffn_size)


def dense_flops_per_token(cfg: LLMConfig) -> float:
    """Forward FLOPs per token of one layer's weight matrices: 2 per weight (QKV, output projection, FFN).

    GPT (f = 4h, q = kv = h): 2·(4h² + 8h²) = 24h² (SC'21 Eq. 3's appendix). Biases and norms are ignored,
    as in the paper. Unit: FLOP per token.
    """
    _decoder_only(cfg)
    h, f = cfg.hidden_size, active_ffn_size(cfg)
    q, kv = projection_sizes(cfg)
    attention = h * q + 2 * h * kv + q * h
    ffn = (3 if cfg.gated_ffn else 2) * h * f
    return 2.0 * (attention + ffn)


def attention_flops_per_token(cfg: LLMConfig, seq_len: ArrayLike) -> FloatArray:
    """Forward FLOPs per token of one layer's attention core: QK^T and scores × V, 2·s·q each (4sh for GPT;
    the causal mask is not exploited, as in SC'21 Eq. 3). Unit: FLOP per token."""
    _decoder_only(cfg)
    q, _ = projection_sizes(cfg)
    return 4.0 * np.asarray(seq_len, dtype=np.float64) * q


def logit_flops_per_token(cfg: LLMConfig) -> float:
    """Forward FLOPs per token of the output projection to the vocabulary: 2·h·V (SC'21 Eq. 3)."""
    return 2.0 * cfg.hidden_size * cfg.vocab_size


def training_flops(cfg: LLMConfig, tokens: ArrayLike, seq_len: ArrayLike, recompute: str) -> FloatArray:
    """FLOPs of one training step over `tokens` tokens of sequences of `seq_len` (SC'21 Eq. 3 generalised).

    full: 4·l·(dense + attention)·tokens + 3·logits·tokens, which for GPT is Eq. 3,
    96·B·s·l·h²·(1 + s/(6h) + V/(16lh)); none: 3·l·(...) + 3·logits (72·B·s·l·h²·(1 + s/(6h) +
    V/(12lh))); selective: none + l·attention·tokens. Unit: FLOP.
    """
    _check_recompute(recompute)
    n = np.asarray(tokens, dtype=np.float64)
    dense = dense_flops_per_token(cfg)
    attention = attention_flops_per_token(cfg, seq_len)
    layer = {"none": 3.0 * (dense + attention), "full": 4.0 * (dense + attention)}.get(
        recompute, 3.0 * dense + 4.0 * attention
    )
    return n * (cfg.num_layers * layer + 3.0 * logit_flops_per_token(cfg))


def model_flops(cfg: LLMConfig, tokens: ArrayLike, seq_len: ArrayLike) -> FloatArray:
    """FLOPs the model needs per step without any recomputation (the 72 form): the numerator of model
    FLOPs utilisation (Korthikanti et al. Sec. 6; Chowdhery et al. 2022, PaLM, App. B). Unit: FLOP."""
    return training_flops(cfg, tokens, seq_len, "none")


def elementwise_bytes_per_token(
    cfg: LLMConfig,
    seq_len: ArrayLike,
    tensor: ArrayLike,
    sequence_parallel: bool = True,
    attention: str = "standard",
) -> tuple[FloatArray, FloatArray]:
    """(linear, attention core) bytes one device's memory-bound kernels move per token in one layer's
    forward pass (16-bit activations; see the module docstring): linear = norms and bias-dropout-adds
    (22h, divided by t only with sequence parallelism) + the bias-activation (4f or 6f, divided by t);
    core = 9·a·s / t with standard attention, 0 with flash (the fused kernel keeps the scores on chip).
    GPT, t = 1: 38h + 9as. Unit: bytes per token."""
    _decoder_only(cfg)
    check_attention(attention)
    h, f = cfg.hidden_size, active_ffn_size(cfg)
    t = np.asarray(tensor, dtype=np.float64)
    shard = t if sequence_parallel else 1.0
    linear = 22.0 * h / shard + (6.0 if cfg.gated_ffn else 4.0) * f / t
    per_score = 9.0 if attention == "standard" else 0.0
    core = per_score * cfg.num_heads * np.asarray(seq_len, dtype=np.float64) / t
    return linear + 0.0 * core, core + 0.0 * linear


def tp_collectives_per_layer(recompute: str) -> int:
    """Tensor-parallel all-reduces of b·s·h activations per layer and micro-batch: 2 in the forward (after
    attention and after the FFN), 2 in the backward (SC'21 Sec. 2.3, Fig. 5: operators f and g), 2 more
    when full recomputation re-runs the forward. With sequence parallelism each becomes a reduce-scatter
    plus an all-gather of the same total bytes (Korthikanti et al. Sec. 4.2.2)."""
    _check_recompute(recompute)
    return 6 if recompute == "full" else 4


def activation_bytes_per_token(cfg: LLMConfig) -> tuple[float, float, float]:
    """Per layer and token (16-bit activations, 1-byte masks): (kept whole under tensor parallelism without
    sequence parallelism, divided by t, attention core per unit of s·heads). GPT: (10h, 24h, 5) giving
    34sbh + 5as²b for t = 1 (Korthikanti et al. Sec. 4.1 and 4.2.1). Unit: bytes."""
    _decoder_only(cfg)
    h, f = cfg.hidden_size, active_ffn_size(cfg)
    q, kv = projection_sizes(cfg)
    total = (3 * h + 4 * q + 4 * kv) + (3 * h + (6 if cfg.gated_ffn else 4) * f) + 4 * h
    replicated = 4 * h + 2 * h + 2 * h + 2 * h  # norm inputs, QKV and FFN inputs, two dropout masks
    return float(replicated), float(total - replicated), 5.0


def layer_activation_bytes(
    cfg: LLMConfig,
    seq_len: ArrayLike,
    microbatch: ArrayLike,
    tensor: ArrayLike,
    recompute: str,
    sequence_parallel: bool = True,
    attention: str = "standard",
) -> FloatArray:
    """Activation bytes one layer keeps for its backward pass, per micro-batch, on one device.

    none: s·b·(R + S/t) + 5·a·s²·b/t (R the replicated, S the split part; R/t too with sequence
    parallelism); selective: without the attention core; full: the layer input only, 2·s·b·h (/t with
    sequence parallelism). Korthikanti et al. 2022, Sec. 4-5. Flash attention: the attention core is the
    log-sum-exp, 4·a·s·b/t, linear in s (module docstring). Unit: bytes.
    """
    recompute = effective_recompute(recompute, attention)
    s = np.asarray(seq_len, dtype=np.float64)
    b = np.asarray(microbatch, dtype=np.float64)
    t = np.asarray(tensor, dtype=np.float64)
    replicated, split, core = activation_bytes_per_token(cfg)
    shard = t if sequence_parallel else 1.0
    if recompute == "full":
        return 2.0 * s * b * cfg.hidden_size / shard
    linear = s * b * (replicated / shard + split / t)
    if recompute == "selective":
        return linear
    if attention == "flash":
        return linear + 4.0 * cfg.num_heads * s * b / t
    return linear + core * cfg.num_heads * s * s * b / t


def output_activation_bytes(
    cfg: LLMConfig, seq_len: ArrayLike, microbatch: ArrayLike, tensor: ArrayLike
) -> FloatArray:
    """Activations of the last stage's head per micro-batch: final norm input and output-projection input
    (2·s·b·h each, /t with sequence parallelism) and the fp32 logits for the cross entropy, 4·s·b·V/t
    (Korthikanti et al. Sec. 4.3). Unit: bytes."""
    s = np.asarray(seq_len, dtype=np.float64)
    b = np.asarray(microbatch, dtype=np.float64)
    t = np.asarray(tensor, dtype=np.float64)
    return s * b * (4.0 * cfg.hidden_size + 4.0 * cfg.vocab_size) / t


def in_flight_layer_microbatches(
    layers: ArrayLike, pipeline: ArrayLike, microbatches: ArrayLike, interleave: ArrayLike, last: bool
) -> FloatArray:
    """Layer-micro-batches of activations the first (or, `last`, the last) pipeline stage holds at its peak.

    1F1B (v = 1): min(p - k, m) micro-batches in flight over l/p layers, stage k = 0 or p - 1 (SC'21
    Sec. 2.2.1: at most p). Interleaved (v > 1): Megatron-LM's warm-up of (p - k - 1)·2 + (v - 1)·p chunk
    forwards plus the first steady one, at most v·m, each of l/(p·v) layers; for the first stage that is
    l·(1 + (p-1)/(p·v)) (Korthikanti et al. 2022, Sec. 4.2.3). Unit: layer·micro-batches.
    """
    n_layers = np.asarray(layers, dtype=np.float64)
    p = np.asarray(pipeline, dtype=np.float64)
    m = np.asarray(microbatches, dtype=np.float64)
    v = np.asarray(interleave, dtype=np.float64)
    after = 0.0 if last else p - 1.0  # stages after this one
    plain = np.minimum(after + 1.0, m) * n_layers / p
    chunks = np.minimum(after * 2.0 + (v - 1.0) * p + 1.0, v * m)
    return np.where(v > 1, chunks * n_layers / (p * v), plain)


def pipeline_time(
    microbatches: ArrayLike, pipeline: ArrayLike, interleave: ArrayLike, step: ArrayLike
) -> FloatArray:
    """Time of the pipelined part of an iteration: (m + (p-1)/v)·step, where `step` is one device's
    forward + backward time of one micro-batch (all its chunks). SC'21 Sec. 2.2 and Eq. 1
    ((B'/b + p - 1)·(t_f + t_b) for v = 1); the bubble is the (p-1)/v part. Unit: seconds."""
    m = np.asarray(microbatches, dtype=np.float64)
    p = np.asarray(pipeline, dtype=np.float64)
    v = np.asarray(interleave, dtype=np.float64)
    return (m + (p - 1.0) / v) * np.asarray(step, dtype=np.float64)
