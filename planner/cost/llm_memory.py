"""Memory per device of an LLM trained with tensor (t), pipeline (p) and data (d) parallelism and ZeRO.

Parameters per device: the first pipeline stage holds l/p layers and the token embedding (plus a learned
position table); the last stage holds l/p layers, the final norm and the output head (for tied
embeddings a copy of the embedding, as Megatron-LM keeps one on the last stage: SC'21 Sec. 3.1's
"embedding is shared" note, Shoeybi et al. 2019 Sec. 3). Tensor parallelism splits every weight matrix and
the vocabulary-parallel embedding by t; norms and biases are counted as split too (they are < 0.1% of a
layer). With p = 1 one device holds everything.

Model states (Rajbhandari et al., "ZeRO", SC 2020, Sec. 5 and Fig. 1), with per-parameter bytes from
planner.cost.memory (mixed-precision Adam: 2 weights + 2 gradients + 12 optimizer state incl. the fp32
master copy), sharded over the d data-parallel replicas:

=======  ===================================  (Ψ parameters per model-parallel rank)
stage    bytes per device
=======  ===================================
0        (w + g + k)·Ψ                        plain data parallelism
1        (w + g)·Ψ + k·Ψ/d                    P_os: optimizer state partitioned
2        w·Ψ + (g + k)·Ψ/d                    P_os+g: gradients too
3        (w + g + k)·Ψ/d                      P_os+g+p: parameters too
=======  ===================================

Mixture of experts with expert parallelism over e ranks (planner.optimize.llm_setup for the layout): a
device holds its stage's routed experts / (t·e) (expert_stage_parameters / e); their states are sharded
by ZeRO over the d / e ranks that hold the same experts, the rest over d (Megatron-core's distributed
optimizer shards expert parameters over the expert-data-parallel group).

Not counted: ZeRO-3's gathered working copy of the layer being computed, communication buffers, the CUDA
context, allocator fragmentation. Units: parameters (counts), bytes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner.cost.memory import state_bytes_per_parameter
from planner.cost.moe import expert_parameters
from planner.cost.transformer import attention_parameters, ffn_parameters, parameter_breakdown
from planner.spec.llm import LLMConfig

ZERO_STAGES: tuple[int, ...] = (0, 1, 2, 3)
FloatArray = NDArray[np.float64]


def layer_parameters(cfg: LLMConfig) -> int:
    """Parameters of one decoder layer: attention, FFN and its two norms (planner.cost.transformer)."""
    norm = 2 * cfg.hidden_size if cfg.norm == "layernorm" else cfg.hidden_size
    return attention_parameters(cfg) + ffn_parameters(cfg) + 2 * norm


def stage_parameters(cfg: LLMConfig, pipeline: ArrayLike, tensor: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Parameters on one device of the (first, last) pipeline stage, unit: parameters.

    first: l/p layers + token embedding (+ learned positions); last: l/p layers + final norm + head (the
    embedding's copy when tied). p = 1: both are the whole model on one stage. All divided by t.
    Transformer-XL's per-layer relative-position projections go with their layers.
    """
    p = np.asarray(pipeline, dtype=np.float64)
    t = np.asarray(tensor, dtype=np.float64)
    parts = parameter_breakdown(cfg)
    per_layer_positions = parts["position"] if cfg.position_embedding == "transformer-xl" else 0
    layers = (cfg.num_layers * layer_parameters(cfg) + per_layer_positions) / p
    embedding = parts["embedding"] + (parts["position"] if cfg.position_embedding == "learned" else 0)
    head = parts["head"] if not cfg.tied_embeddings else parts["embedding"]
    final_norm = 2 * cfg.hidden_size if cfg.norm == "layernorm" else cfg.hidden_size
    single = layers + embedding + final_norm + parts["head"]  # p = 1: a tied head is the embedding itself
    first = np.where(p > 1, layers + embedding, single)
    last = np.where(p > 1, layers + final_norm + head, single)
    return first / t, last / t


def expert_stage_parameters(cfg: LLMConfig, pipeline: ArrayLike, tensor: ArrayLike) -> FloatArray:
    """Routed-expert parameters of one pipeline stage on one of t devices before expert parallelism
    divides them (the part of stage_parameters that e ranks share out; 0 for a dense model), unit:
    parameters."""
    p = np.asarray(pipeline, dtype=np.float64)
    t = np.asarray(tensor, dtype=np.float64)
    return expert_parameters(cfg) / p / t


def model_state_bytes(
    parameters: ArrayLike,
    data: ArrayLike,
    zero: ArrayLike,
    dtype: str,
    optimizer: str,
    gradient_dtype: str | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(weights, gradients, optimizer state incl. master weights) bytes per device under ZeRO stage `zero`
    (0-3) over `data` replicas (Rajbhandari et al. 2020, Sec. 5); gradients in `gradient_dtype` (default
    the training dtype). Unit: bytes."""
    per = state_bytes_per_parameter(dtype, optimizer, gradient_dtype)
    psi = np.asarray(parameters, dtype=np.float64)
    d = np.asarray(data, dtype=np.float64)
    z = np.asarray(zero)
    if np.any((z < 0) | (z > 3)):
        raise ValueError(f"ZeRO stage must be 0, 1, 2 or 3, got {zero!r}")
    k = per.master_weights + per.optimizer_state
    weights = psi * per.weights / np.where(z >= 3, d, 1.0)
    gradients = psi * per.gradients / np.where(z >= 2, d, 1.0)
    states = psi * k / np.where(z >= 1, d, 1.0)
    return weights, gradients, states
