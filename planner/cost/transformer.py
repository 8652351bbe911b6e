"""Exact parameter counts of transformer language models (decoder-only and encoder-decoder).

All counts are numbers of scalar weights (unit: parameters, dimensionless integers), counted the way
`sum(p.numel() for p in model.parameters())` counts a Hugging Face checkpoint: a tied output projection
shares the input embedding and is counted once.

Sources of the layer structure:

* GPT-2 / GPT-3 (Radford et al. 2019; Brown et al. 2020, Table 2.1; HF `GPT2LMHeadModel`): learned
  absolute position table, pre-LayerNorm (weight + bias), biased Q/K/V/O and FFN, final LayerNorm,
  output head tied to the token embedding.
* LLaMA-2 (Touvron et al. 2023; HF `LlamaForCausalLM`): rotary positions (no weights), RMSNorm (weight
  only), no biases, SwiGLU FFN (three matrices), grouped-query attention for 70B (K/V have
  num_kv_heads x head_dim outputs), untied output head.
* T5 v1.1 (Raffel et al. 2020; HF `T5ForConditionalGeneration`, google/t5-v1_1-*): one token embedding
  shared by encoder and decoder, relative attention bias of buckets x heads in the first self-attention
  layer of each stack only, T5LayerNorm (weight only, i.e. RMSNorm), no biases, gated-GELU FFN, a
  cross-attention block (with its own norm) in each decoder layer, a final norm per stack, untied head.
* Gopher / Chinchilla (Rae et al. 2021; Hoffmann et al. 2022, Table 4): Transformer-XL relative
  positions (Dai et al. 2019, Sec. 3.3): each layer projects the sinusoidal relative encodings with its
  own W_R (d_model x heads*head_dim) and carries the u, v content/position biases (heads*head_dim each;
  HF `TransfoXLModel` with untie_r=True). RMSNorm, tied embeddings. This extra d_model^2 per layer is what
  makes Gopher's published family sizes (44M, 117M, 417M, ..., 280B) come out as 13*L*d^2 + V*d rather
  than 12*L*d^2 + V*d.
* Qwen2 / Qwen2.5 (Yang et al. 2024; HF `Qwen2ForCausalLM`): the LLaMA layout, with biases on the Q, K
  and V projections only (`qkv_bias`).
* Mixture-of-experts (Jiang et al. 2024, Mixtral, Sec. 2.1; HF `MixtralSparseMoeBlock`): each layer's FFN
  is `num_experts` SwiGLU experts plus a router, a bias-free linear layer d x num_experts; shared experts
  (Dai et al. 2024, DeepSeekMoE) are experts of the same size that every token uses. Total parameters
  count every expert; the parameters one token uses (active) count its top-k routed experts only
  (planner.cost.moe).
"""

from __future__ import annotations

from planner.spec.llm import LLMConfig

BREAKDOWN_KEYS = ("embedding", "position", "attention", "ffn", "norms", "head")


def _norm_size(cfg: LLMConfig) -> int:
    """Parameters of one normalisation layer: LayerNorm has weight and bias, RMSNorm a weight only."""
    return 2 * cfg.hidden_size if cfg.norm == "layernorm" else cfg.hidden_size


def attention_parameters(cfg: LLMConfig) -> int:
    """Parameters of one attention block (self- or cross-attention): Q, K, V, O projections.

    Q and O span num_heads x head_dim; K and V span num_kv_heads x head_dim (grouped-query attention,
    Ainslie et al. 2023). Biases on all four projections when `cfg.bias`. Unit: parameters.
    """
    d = cfg.hidden_size
    q_dim = cfg.num_heads * cfg.head_size
    kv_dim = cfg.kv_heads * cfg.head_size
    weights = d * q_dim + 2 * d * kv_dim + q_dim * d
    projection_biases = q_dim + 2 * kv_dim if cfg.bias or cfg.qkv_bias else 0
    return weights + projection_biases + (d if cfg.bias else 0)


def _feed_forward(cfg: LLMConfig, inner: int) -> int:
    """One feed-forward network of inner size `inner`: up (and gate, when gated) d x inner, down inner x d,
    biases. Gated FFNs (SwiGLU, GeGLU; Shazeer 2020) have two input matrices. Unit: parameters."""
    d = cfg.hidden_size
    inputs = 2 if cfg.gated_ffn else 1
    weights = inputs * d * inner + inner * d
    biases = inputs * inner + d if cfg.bias else 0
    return weights + biases


def expert_ffn_parameters(cfg: LLMConfig) -> int:
    """Parameters of one expert (routed or shared) of a mixture-of-experts layer; of the one FFN of a
    dense layer. Unit: parameters."""
    return _feed_forward(cfg, cfg.expert_size)


def router_parameters(cfg: LLMConfig) -> int:
    """Parameters of one layer's router: a bias-free linear layer d x num_experts (Mixtral's `gate`);
    0 for a dense model. Unit: parameters."""
    return cfg.hidden_size * cfg.num_experts if cfg.is_moe else 0


def ffn_parameters(cfg: LLMConfig) -> int:
    """Parameters of one layer's feed-forward block as stored: the dense FFN, or the router, every routed
    expert and the shared experts of a mixture-of-experts layer. Unit: parameters."""
    if not cfg.is_moe:
        return _feed_forward(cfg, cfg.ffn_size)
    return router_parameters(cfg) + (cfg.num_experts + cfg.shared_experts) * expert_ffn_parameters(cfg)


def _stacks(cfg: LLMConfig) -> list[tuple[int, bool]]:
    """(layers, has_cross_attention) for each stack: decoder only, or encoder then decoder."""
    if cfg.architecture == "encoder-decoder":
        return [(cfg.encoder_layers, False), (cfg.num_layers, True)]
    return [(cfg.num_layers, False)]


def parameter_breakdown(cfg: LLMConfig) -> dict[str, int]:
    """Parameters by component; the values sum to `parameter_count(cfg)`. Unit: parameters.

    Keys (always all present, in this order):
      embedding  token embedding, vocab x d (one table shared by encoder and decoder)
      position   learned absolute table (max_sequence_length x d per stack), T5 relative-attention bias
                 (buckets x heads, first layer of each stack), or Transformer-XL W_R, u, v per layer
      attention  self-attention in every layer plus cross-attention in every encoder-decoder decoder layer
      ffn        feed-forward blocks
      norms      per-layer norms (2 per layer, 3 in a decoder layer with cross-attention) and a final
                 norm per stack
      head       output projection vocab x d when not tied (no bias), else 0
    """
    d = cfg.hidden_size
    norm = _norm_size(cfg)
    attention = ffn = norms = position = 0
    inner = cfg.num_heads * cfg.head_size
    for layers, cross in _stacks(cfg):
        attention += layers * attention_parameters(cfg) * (2 if cross else 1)
        ffn += layers * ffn_parameters(cfg)
        norms += layers * (3 if cross else 2) * norm + norm
        if cfg.position_embedding == "learned":
            position += cfg.max_sequence_length * d
        elif cfg.position_embedding == "t5-relative":
            position += cfg.relative_attention_buckets * cfg.num_heads
        elif cfg.position_embedding == "transformer-xl":
            position += layers * (d * inner + 2 * inner)
    return {
        "embedding": cfg.vocab_size * d,
        "position": position,
        "attention": attention,
        "ffn": ffn,
        "norms": norms,
        "head": 0 if cfg.tied_embeddings else cfg.vocab_size * d,
    }


def parameter_count(cfg: LLMConfig) -> int:
    """Total parameters of the model (tied output head counted once). Unit: parameters.

    Matches Hugging Face checkpoint totals exactly for GPT-2, LLaMA-2/3, Mistral, Mixtral, Qwen2.5 and
    T5 v1.1; see the module docstring for the sources of each architecture's layout. A mixture-of-experts
    model counts every expert (planner.cost.moe.active_parameters counts those one token uses).
    """
    return sum(parameter_breakdown(cfg).values())


def non_embedding_parameters(cfg: LLMConfig) -> int:
    """Parameters outside the token embedding, learned position table and untied output head.

    Kaplan et al. 2020 (Sec. 2.1) exclude vocabulary and position embeddings from N; the untied head is
    an embedding-sized matrix and is excluded too. Relative-position weights inside layers are kept.
    Unit: parameters.
    """
    parts = parameter_breakdown(cfg)
    learned = parts["position"] if cfg.position_embedding == "learned" else 0
    return parameter_count(cfg) - parts["embedding"] - parts["head"] - learned
