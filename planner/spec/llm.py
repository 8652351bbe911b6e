"""Transformer language-model configurations (decoder-only and encoder-decoder), dense or
mixture-of-experts.

Hyper-parameters as the papers and model cards publish them; the parameter count is derived
(planner.cost.transformer.parameter_count) and validated against the published count.

Mixture-of-experts (Shazeer et al. 2017; Fedus et al. 2022, Switch Transformer; Jiang et al. 2024,
Mixtral): each layer's feed-forward block is `num_experts` expert FFNs and a router; every token runs
through the `experts_per_token` experts its router picks (top-k) plus the `shared_experts` that every
token uses (Dai et al. 2024, DeepSeekMoE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from planner.spec.schema import FieldValueError, spec_field


@dataclass(frozen=True)
class LLMConfig:
    """A transformer LM. `head_dim` defaults to hidden_size / num_heads (T5 differs: give it)."""

    spec: Literal["llm"] = spec_field("file type marker: llm")
    name: str = spec_field("catalog name, e.g. llama-2-7b")
    architecture: Literal["decoder", "encoder-decoder"] = spec_field("decoder-only or encoder-decoder")
    hidden_size: int = spec_field("model width d_model", minimum=1)
    num_layers: int = spec_field("decoder layers (all layers of a decoder-only model)", minimum=1)
    num_heads: int = spec_field("attention (query) heads", minimum=1)
    ffn_size: int = spec_field("inner size of the feed-forward block", minimum=1)
    vocab_size: int = spec_field("vocabulary size (rows of the embedding)", minimum=1)
    max_sequence_length: int = spec_field("context length the model was trained with", minimum=1)
    encoder_layers: int = spec_field("encoder layers (encoder-decoder models)", minimum=0, default=0)
    num_kv_heads: int | None = spec_field(
        "key/value heads (grouped-query attention); default num_heads", minimum=1, default=None
    )
    head_dim: int | None = spec_field(
        "size of one head; default hidden_size / num_heads", minimum=1, default=None
    )
    gated_ffn: bool = spec_field("gated FFN (SwiGLU/GeGLU: three matrices instead of two)", default=False)
    tied_embeddings: bool = spec_field("output projection shares the input embedding", default=True)
    position_embedding: Literal["learned", "rotary", "t5-relative", "transformer-xl", "alibi"] = spec_field(
        "learned absolute table, rotary, T5 relative-attention buckets, Transformer-XL relative projections, "
        "or ALiBi",
        default="learned",
    )
    relative_attention_buckets: int = spec_field(
        "relative-position buckets per stack (T5)", minimum=1, default=32
    )
    norm: Literal["layernorm", "rmsnorm"] = spec_field(
        "normalisation (layernorm has a bias)", default="layernorm"
    )
    bias: bool = spec_field("linear layers carry biases", default=True)
    qkv_bias: bool = spec_field(
        "the query, key and value projections carry biases even where `bias` is false (Qwen2)", default=False
    )
    num_experts: int = spec_field(
        "routed feed-forward experts per layer (mixture-of-experts); 1: a dense model", minimum=1, default=1
    )
    experts_per_token: int | None = spec_field(
        "routed experts each token runs through (top-k); required when num_experts > 1",
        minimum=1,
        default=None,
    )
    shared_experts: int = spec_field(
        "experts every token runs through besides its routed ones (DeepSeekMoE)", minimum=0, default=0
    )
    expert_ffn_size: int | None = spec_field(
        "inner size of one expert's feed-forward block; default ffn_size", minimum=1, default=None
    )
    capacity_factor: float | None = spec_field(
        "tokens an expert accepts per batch as a multiple of its even share (Switch Transformer); "
        "absent: dropless routing, no token is dropped",
        minimum=1.0,
        maximum=1024.0,
        default=None,
    )
    dtype: str = spec_field("dtype the weights are usually served in", default="bf16")
    description: str = spec_field("a human description", default="")
    source: str = spec_field("paper or model card of the hyper-parameters", default="")

    def __post_init__(self) -> None:
        if self.architecture == "encoder-decoder" and self.encoder_layers == 0:
            raise FieldValueError("encoder_layers", "an encoder-decoder model needs encoder_layers >= 1")
        if self.architecture == "decoder" and self.encoder_layers:
            raise FieldValueError("encoder_layers", "a decoder-only model has encoder_layers: 0")
        if self.head_dim is None and self.hidden_size % self.num_heads:
            raise FieldValueError(
                "num_heads",
                f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}; "
                "give head_dim",
            )
        if self.num_heads % self.kv_heads:
            raise FieldValueError(
                "num_kv_heads",
                f"num_heads {self.num_heads} must be a multiple of num_kv_heads {self.kv_heads}",
            )
        self._check_experts()

    def _check_experts(self) -> None:
        """Routing settings belong to a mixture-of-experts model and agree with its expert count."""
        if not self.is_moe:
            for field, value in (
                ("experts_per_token", self.experts_per_token),
                ("shared_experts", self.shared_experts or None),
                ("expert_ffn_size", self.expert_ffn_size),
                ("capacity_factor", self.capacity_factor),
            ):
                if value is not None:
                    raise FieldValueError(field, "a mixture-of-experts setting: give num_experts > 1")
            return
        if self.architecture != "decoder":
            raise FieldValueError("num_experts", "mixture-of-experts is modelled for decoder-only models")
        if self.experts_per_token is None:
            raise FieldValueError("experts_per_token", "required when num_experts > 1 (the router's top-k)")
        if self.experts_per_token > self.num_experts:
            raise FieldValueError(
                "experts_per_token",
                f"at most num_experts ({self.num_experts}), got {self.experts_per_token}",
            )

    @property
    def is_moe(self) -> bool:
        """A mixture-of-experts model: more than one routed expert per layer."""
        return self.num_experts > 1

    @property
    def expert_size(self) -> int:
        """Inner size of one expert's feed-forward block (ffn_size for a dense model)."""
        return self.expert_ffn_size if self.expert_ffn_size is not None else self.ffn_size

    @property
    def routed_experts_per_token(self) -> int:
        """Routed experts each token runs through (1 for a dense model: its one FFN)."""
        return self.experts_per_token if self.experts_per_token is not None else 1

    @property
    def kv_heads(self) -> int:
        return self.num_kv_heads if self.num_kv_heads is not None else self.num_heads

    @property
    def head_size(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.num_heads
