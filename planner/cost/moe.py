"""Mixture-of-experts counts: the parameters a model stores versus those one token uses, the FLOPs per
token, and the tokens one expert takes per batch.

A mixture-of-experts layer (Shazeer et al. 2017; Fedus et al. 2022, "Switch Transformers", Sec. 2;
Jiang et al. 2024, "Mixtral of Experts", Sec. 2.1) replaces the FFN with `num_experts` expert FFNs and a
router; each token runs through the top `experts_per_token` experts its router picks and through the
`shared_experts` (Dai et al. 2024, DeepSeekMoE). A dense model is the case of one expert, top-1: every
function here then gives the dense figure.

What the evaluators take from here (parameters, FLOPs: dimensionless counts and FLOP per token):
`expert_parameters` is what expert parallelism shards (each of e ranks holds num_experts / e experts per
layer), `active_parameters` what one token's forward pass multiplies by (Mixtral 8x7B: 46.7B stored,
12.9B active), `expert_capacity` the tokens one expert processes per batch, whose all-to-all dispatch and
combine an expert-parallel step exchanges.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner.cost.transformer import (
    expert_ffn_parameters,
    ffn_parameters,
    parameter_breakdown,
    parameter_count,
    router_parameters,
)
from planner.spec.llm import LLMConfig


def expert_parameters(cfg: LLMConfig) -> int:
    """Parameters of the routed experts of every layer (0 for a dense model): the part expert parallelism
    divides among its ranks; router and shared experts are replicated. Unit: parameters."""
    if not cfg.is_moe:
        return 0
    return cfg.num_layers * cfg.num_experts * expert_ffn_parameters(cfg)


def active_ffn_parameters(cfg: LLMConfig) -> int:
    """Parameters of one layer's feed-forward block that one token uses: the router, its top-k routed
    experts and the shared experts; the whole FFN of a dense layer. Unit: parameters."""
    if not cfg.is_moe:
        return ffn_parameters(cfg)
    experts = cfg.routed_experts_per_token + cfg.shared_experts
    return router_parameters(cfg) + experts * expert_ffn_parameters(cfg)


def active_parameters(cfg: LLMConfig) -> int:
    """Parameters one token's forward pass uses: the total less the routed experts it skips in every
    layer (Jiang et al. 2024, Sec. 1: Mixtral "has 47B parameters, but only uses 13B active parameters
    during inference"). Equal to parameter_count for a dense model. Unit: parameters."""
    skipped = cfg.num_layers * (ffn_parameters(cfg) - active_ffn_parameters(cfg))
    return parameter_count(cfg) - skipped


def active_forward_flops_per_token(cfg: LLMConfig, context: int = 0) -> float:
    """Forward FLOPs per token: 2 per active weight outside the embedding tables, the output projection
    included even when tied, plus the attention scores over `context` tokens, 2·n_layer·n_ctx·d_attn
    (Kaplan et al. 2020, Table 1: C_forward ≈ 2N + 2·n_layer·n_ctx·d_attn, with N the active
    parameters). The router's scores count as weights. Unit: FLOP per token."""
    parts = parameter_breakdown(cfg)
    tables = parts["embedding"] + (parts["position"] if cfg.position_embedding == "learned" else 0)
    weights = active_parameters(cfg) - tables - parts["head"] + cfg.vocab_size * cfg.hidden_size
    attention = 2.0 * cfg.num_layers * context * cfg.num_heads * cfg.head_size
    return 2.0 * weights + attention


def expert_capacity(cfg: LLMConfig, tokens: int) -> int:
    """Tokens one routed expert processes per batch of `tokens` tokens in one layer.

    With a capacity factor c: ceil(c · k · tokens / num_experts) (Fedus et al. 2022, Sec. 2.2, "expert
    capacity = tokens per batch / number of experts × capacity factor", times k for top-k routing as in
    GShard, Lepikhin et al. 2021, Sec. 2.2); the tokens beyond it are dropped. Without one (dropless
    routing, as Mixtral runs) the even share ceil(k · tokens / num_experts): the load of a balanced router.
    A dense model's one FFN takes every token. Unit: tokens.
    """
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, got {tokens}")
    return int(expert_rows(cfg, tokens))


def expert_rows(cfg: LLMConfig, tokens: ArrayLike) -> NDArray[np.float64]:
    """expert_capacity on arrays of token counts: the rows of one routed expert's GEMMs. Unit: tokens."""
    n = np.asarray(tokens, dtype=np.float64)
    if not cfg.is_moe:
        return n
    factor = cfg.capacity_factor if cfg.capacity_factor is not None else 1.0
    return np.ceil(factor * cfg.routed_experts_per_token * n / cfg.num_experts)


def dispatch_rows(cfg: LLMConfig, tokens: float, expert: int) -> float:
    """Rows one rank of an expert-parallel group of `expert` ranks sends in a dispatch all-to-all (and
    receives back in the combine) when every rank holds `tokens` tokens: its share of all the experts'
    rows, num_experts · expert_rows(e · tokens) / e (k rows per token when balanced). Unit: tokens."""
    return cfg.num_experts * float(expert_rows(cfg, expert * tokens)) / expert


def distinct_experts(cfg: LLMConfig, tokens: ArrayLike) -> NDArray[np.float64]:
    """Expected number of distinct routed experts of one layer that `tokens` tokens hit, each token picking
    k of the E experts: E · (1 − (1 − k/E)^tokens). Assumes uniform routing, every expert equally likely
    and the tokens independent (the balanced router that load-balancing losses aim for; Fedus et al. 2022,
    Sec. 2.2); a token's k picks are distinct, so P(a token misses a given expert) = 1 − k/E exactly. A
    real router is skewed, hitting fewer experts. A dense model's one FFN is always hit. Unit: experts."""
    n = np.asarray(tokens, dtype=np.float64)
    if not cfg.is_moe:
        return np.ones_like(n)
    experts, k = cfg.num_experts, cfg.routed_experts_per_token
    return experts * (1.0 - (1.0 - k / experts) ** n)
