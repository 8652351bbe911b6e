"""Load a Hugging Face `config.json` as an LLMConfig (decoder-only LLaMA/GPT-2 families, T5).

Keys read, by `model_type` (HF transformers' configuration classes; GPT-2's `attribute_map` lets the
generic names stand for its own):

=================  =========================  ===================  ===========================
LLMConfig          llama / mistral / mixtral  gpt2                 t5
                   / qwen2
=================  =========================  ===================  ===========================
hidden_size        hidden_size                n_embd | hidden_size d_model
num_layers         num_hidden_layers          n_layer | num_h...   num_decoder_layers (default
                                                                    num_layers)
encoder_layers     -                          -                    num_layers
num_heads          num_attention_heads        n_head | num_a...    num_heads
num_kv_heads       num_key_value_heads        -                    -
head_dim           head_dim (optional)        -                    d_kv
ffn_size           intermediate_size          n_inner (null: 4h)   d_ff
vocab_size         vocab_size                 vocab_size           vocab_size
max_seq_length     max_position_embeddings    n_positions | max..  n_positions (default 512)
tied_embeddings    tie_word_embeddings        tie_word_embeddings  tie_word_embeddings
                   (default false)            (default true)       (default true)
=================  =========================  ===================  ===========================

Mixture-of-experts keys (llama family; HF MixtralConfig, Qwen2MoeConfig, DeepseekV2Config names):
`num_local_experts` or `num_experts` -> num_experts, `num_experts_per_tok` -> experts_per_token,
`n_shared_experts` -> shared_experts, `moe_intermediate_size` -> expert_ffn_size; absent: a dense model.

Conventions per family (the layer structure planner.cost.transformer counts): LLaMA / Mistral /
Mixtral: SwiGLU (gated), RMSNorm, rotary, no biases unless `attention_bias` / `mlp_bias` (both must agree:
LLMConfig has one `bias` flag); Qwen2: the same, with biases on the Q, K, V projections (HF
Qwen2Attention hard-codes them; `qkv_bias`); GPT-2: GELU FFN, LayerNorm, learned positions, biases;
T5: RMSNorm-style T5LayerNorm, relative-attention buckets (`relative_attention_num_buckets`, default
32), no biases, gated FFN when `feed_forward_proj` starts with "gated-". Every missing or invalid key is
a SpecError naming the file, its line and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.errors import SpecError
from planner.spec.llm import LLMConfig
from planner.spec.schema import FieldValueError
from planner.spec.yamlio import Document, load_yaml

LLAMA_TYPES = ("llama", "mistral", "mixtral", "qwen2")
MODEL_TYPES = (*LLAMA_TYPES, "gpt2", "t5")
T5_DEFAULT_POSITIONS = 512  # T5 has no position table; HF's T5Config default n_positions


class _Reader:
    """Typed, located access to the keys of one config.json."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.data: Mapping[str, Any] = doc.data

    def _present(self, keys: tuple[str, ...]) -> str | None:
        return next((key for key in keys if key in self.data and self.data[key] is not None), None)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def integer(self, *keys: str, default: int | None = None, minimum: int = 1) -> int:
        """The first of `keys` present (aliases), a whole number >= minimum; else `default`."""
        key = self._present(keys)
        if key is None:
            if default is not None:
                return default
            names = " or ".join(f"'{k}'" for k in keys)
            raise self.doc.error((keys[0],), f"missing required key {names}: a whole number", show_got=False)
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.doc.error((key,), f"expected a whole number >= {minimum}", value)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if key not in self.data or self.data[key] is None:
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            raise self.doc.error((key,), "expected true or false", value)
        return value

    def text(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self.doc.error((key,), "expected a string", value)
        return value


def load_hf_config(path: Path, source: str | None = None) -> LLMConfig:
    """An LLMConfig from a Hugging Face config.json (see the module docstring for the key mapping)."""
    return hf_config_from_document(read_json(path, source or str(path)), default_name=default_name(path))


def read_json(path: Path, source: str) -> Document:
    """A JSON file as a Document; through YAML where it can, which keeps the line of every key."""
    try:
        return load_yaml(path, source)  # JSON is (nearly) YAML
    except SpecError as yaml_error:
        return _load_json(path, source, yaml_error)


def _load_json(path: Path, source: str, yaml_error: SpecError) -> Document:
    """Plain JSON parsing for what YAML rejects (tab indentation); no line numbers then."""
    import json

    from planner.spec.yamlio import read_text

    try:
        return Document(source, json.loads(read_text(path, source)))
    except json.JSONDecodeError as exc:
        raise SpecError(source, "", f"expected JSON ({exc.msg})", line=exc.lineno, show_got=False) from None
    except (SpecError, RecursionError):  # unreadable, or nested past Python's limit: YAML's reason stands
        raise yaml_error from None


def default_name(path: Path) -> str:
    """`llama-2-7b/config.json` -> `llama-2-7b`; `my-model.json` -> `my-model`."""
    return path.parent.name if path.name == "config.json" and path.parent.name else path.stem


def hf_config_from_document(doc: Document, default_name: str = "hf-model") -> LLMConfig:
    """Map a parsed config.json to an LLMConfig; SpecError (located) for a missing or invalid key."""
    if not isinstance(doc.data, Mapping):
        raise doc.error((), "expected a JSON object (a Hugging Face config.json)", type(doc.data).__name__)
    read = _Reader(doc)
    if "model_type" not in doc.data:
        raise doc.error(
            ("model_type",),
            f"missing required key 'model_type': one of {', '.join(MODEL_TYPES)}",
            show_got=False,
        )
    model_type = doc.data["model_type"]
    if model_type not in MODEL_TYPES:
        raise doc.error(("model_type",), f"expected one of {', '.join(MODEL_TYPES)}", model_type)
    name = read.text("_name_or_path", "") or default_name
    name = name.rstrip("/").rsplit("/", 1)[-1] or default_name
    if model_type in LLAMA_TYPES:
        fields = _llama(read, model_type)
    elif model_type == "gpt2":
        fields = _gpt2(read)
    else:
        fields = _t5(read)
    try:
        return LLMConfig(
            spec="llm",
            name=name,
            description=f"from a Hugging Face config.json (model_type {model_type})",
            source=doc.source,
            **fields,
        )
    except FieldValueError as exc:
        field = exc.field if isinstance(exc.field, str) else str(exc.field[0])
        key = _HF_KEYS.get(model_type, {}).get(field, field)
        raise doc.error((key,), str(exc), show_got=False) from None


# LLMConfig field -> the config.json key to blame for a cross-field error, per family
_HF_KEYS: dict[str, dict[str, str]] = {
    **{
        kind: {
            "num_heads": "num_attention_heads",
            "num_kv_heads": "num_key_value_heads",
            "num_experts": "num_local_experts",
            "experts_per_token": "num_experts_per_tok",
        }
        for kind in LLAMA_TYPES
    },
    "gpt2": {"num_heads": "n_head"},
    "t5": {"num_heads": "num_heads"},
}


def _llama(read: _Reader, model_type: str) -> dict[str, Any]:
    heads = read.integer("num_attention_heads")
    attention_bias = read.boolean("attention_bias", False)
    mlp_bias = read.boolean("mlp_bias", attention_bias)
    if attention_bias != mlp_bias:
        raise read.doc.error(
            ("mlp_bias",),
            "the same value as 'attention_bias' (planner models one bias flag for all linear layers)",
            mlp_bias,
        )
    head_dim = read.integer("head_dim") if read.has("head_dim") else None
    return {
        "architecture": "decoder",
        "hidden_size": read.integer("hidden_size"),
        "num_layers": read.integer("num_hidden_layers"),
        "num_heads": heads,
        "num_kv_heads": read.integer("num_key_value_heads", default=heads),
        "head_dim": head_dim,
        "ffn_size": read.integer("intermediate_size"),
        "vocab_size": read.integer("vocab_size"),
        "max_sequence_length": read.integer("max_position_embeddings"),
        "gated_ffn": True,
        "tied_embeddings": read.boolean("tie_word_embeddings", False),
        "position_embedding": "rotary",
        "norm": "rmsnorm",
        "bias": attention_bias,
        "qkv_bias": model_type == "qwen2",
        "dtype": _dtype(read, "bf16"),
        **_experts(read),
    }


def _experts(read: _Reader) -> dict[str, Any]:
    """The mixture-of-experts fields, when the config names more than one routed expert."""
    experts = read.integer("num_local_experts", "num_experts", default=1)
    if experts == 1:
        return {}
    return {
        "num_experts": experts,
        "experts_per_token": read.integer("num_experts_per_tok"),
        "shared_experts": read.integer("n_shared_experts", default=0, minimum=0),
        "expert_ffn_size": read.integer("moe_intermediate_size")
        if read.has("moe_intermediate_size")
        else None,
    }


def _gpt2(read: _Reader) -> dict[str, Any]:
    hidden = read.integer("n_embd", "hidden_size")
    return {
        "architecture": "decoder",
        "hidden_size": hidden,
        "num_layers": read.integer("n_layer", "num_hidden_layers"),
        "num_heads": read.integer("n_head", "num_attention_heads"),
        "ffn_size": read.integer("n_inner", "intermediate_size", default=4 * hidden),
        "vocab_size": read.integer("vocab_size"),
        "max_sequence_length": read.integer("n_positions", "max_position_embeddings"),
        "gated_ffn": False,
        "tied_embeddings": read.boolean("tie_word_embeddings", True),
        "position_embedding": "learned",
        "norm": "layernorm",
        "bias": True,
        "dtype": _dtype(read, "fp32"),
    }


def _t5(read: _Reader) -> dict[str, Any]:
    encoder = read.integer("num_layers")
    projection = read.text("feed_forward_proj", "relu")
    return {
        "architecture": "encoder-decoder",
        "hidden_size": read.integer("d_model"),
        "num_layers": read.integer("num_decoder_layers", default=encoder),
        "encoder_layers": encoder,
        "num_heads": read.integer("num_heads"),
        "head_dim": read.integer("d_kv"),
        "ffn_size": read.integer("d_ff"),
        "vocab_size": read.integer("vocab_size"),
        "max_sequence_length": read.integer("n_positions", default=T5_DEFAULT_POSITIONS),
        "gated_ffn": projection.startswith("gated-"),
        "tied_embeddings": read.boolean("tie_word_embeddings", True),
        "position_embedding": "t5-relative",
        "relative_attention_buckets": read.integer("relative_attention_num_buckets", default=32),
        "norm": "rmsnorm",
        "bias": False,
        "dtype": _dtype(read, "fp32"),
    }


_TORCH_DTYPES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def _dtype(read: _Reader, default: str) -> str:
    """`torch_dtype` (float32 / float16 / bfloat16) as planner's dtype name; absent -> `default`."""
    value = read.data.get("torch_dtype")
    if value is None:
        return default
    if value not in _TORCH_DTYPES:
        raise read.doc.error(("torch_dtype",), f"one of {', '.join(_TORCH_DTYPES)}", value)
    return _TORCH_DTYPES[value]
