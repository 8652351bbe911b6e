"""Tests for the LLM catalog (models/llm/*.yaml), LLMConfig loading and planner.cost.transformer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from planner.cost.transformer import (
    BREAKDOWN_KEYS,
    non_embedding_parameters,
    parameter_breakdown,
    parameter_count,
)
from planner.errors import SpecError
from planner.spec.catalog import catalog_dir, load_file
from planner.spec.llm import LLMConfig

LLM_DIR = catalog_dir("models") / "llm"

# Totals of the Hugging Face checkpoints (sum of numel over model.parameters(); tied heads counted once).
EXACT = {
    "gpt2": 124_439_808,
    "gpt2-medium": 354_823_168,
    "gpt2-large": 774_030_080,
    "gpt2-xl": 1_557_611_200,
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    "t5-small": 76_961_152,  # google/t5-v1_1-small
    "t5-base": 247_577_856,
    "t5-large": 783_150_080,
    "t5-xxl": 11_135_332_352,
    "llama-3-8b": 8_030_261_248,
    "llama-3-70b": 70_553_706_496,
    "llama-3.1-405b": 405_853_388_800,
    "mistral-7b": 7_241_732_096,
    "mixtral-8x7b": 46_702_792_704,
    "qwen2.5-7b": 7_615_616_512,  # Q/K/V biases (qkv_bias)
    "qwen2.5-72b": 72_706_203_648,
}
# Counts the papers publish rounded: (count, relative tolerance).
ROUNDED = {
    "gpt3-175b": (175.0e9, 0.01),  # Brown et al. 2020, Table 2.1
    "chinchilla-70b": (70e9, 0.02),  # Hoffmann et al. 2022, Table 4
}
ALL_MODELS = sorted([*EXACT, *ROUNDED])


def model(name: str) -> LLMConfig:
    return load_file(LLM_DIR / f"{name}.yaml", allowed=("llm",))


# --- the catalog ---------------------------------------------------------------------------------


def test_catalog_holds_every_model() -> None:
    assert sorted(p.stem for p in LLM_DIR.glob("*.yaml")) == ALL_MODELS


@pytest.mark.parametrize("name", ALL_MODELS)
def test_catalog_file_loads_with_name_equal_to_stem(name: str) -> None:
    cfg = model(name)
    assert isinstance(cfg, LLMConfig)
    assert cfg.spec == "llm"
    assert cfg.name == name
    assert cfg.source


# --- parameter counts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "published"), sorted(EXACT.items()))
def test_parameter_count_matches_checkpoint_exactly(name: str, published: int) -> None:
    assert parameter_count(model(name)) == published


@pytest.mark.parametrize(("name", "published", "tolerance"), [(n, *v) for n, v in sorted(ROUNDED.items())])
def test_parameter_count_matches_rounded_paper_count(name: str, published: float, tolerance: float) -> None:
    assert parameter_count(model(name)) == pytest.approx(published, rel=tolerance)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_breakdown_sums_to_total(name: str) -> None:
    cfg = model(name)
    parts = parameter_breakdown(cfg)
    assert tuple(parts) == BREAKDOWN_KEYS
    assert all(isinstance(v, int) and v >= 0 for v in parts.values())
    assert sum(parts.values()) == parameter_count(cfg)
    assert parts["embedding"] == cfg.vocab_size * cfg.hidden_size


def test_gpt2_breakdown_by_hand() -> None:
    d, layers, vocab = 768, 12, 50257
    parts = parameter_breakdown(model("gpt2"))
    assert parts == {
        "embedding": vocab * d,
        "position": 1024 * d,
        "attention": layers * (4 * d * d + 4 * d),
        "ffn": layers * (8 * d * d + 5 * d),
        "norms": (2 * layers + 1) * 2 * d,
        "head": 0,
    }
    assert non_embedding_parameters(model("gpt2")) == parameter_count(model("gpt2")) - vocab * d - 1024 * d


def test_gqa_reduces_attention_parameters() -> None:
    gqa = model("llama-2-70b")
    mha = dataclasses.replace(gqa, num_kv_heads=None)
    saved = parameter_breakdown(mha)["attention"] - parameter_breakdown(gqa)["attention"]
    # K and V shrink from 64 to 8 heads of 128 in each of the 80 layers.
    assert saved == 80 * 2 * 8192 * (64 - 8) * 128
    assert parameter_count(mha) - parameter_count(gqa) == saved


@pytest.mark.parametrize("name", ["gpt2", "llama-2-7b", "t5-base", "chinchilla-70b"])
def test_tied_vs_untied_differs_by_vocab_times_hidden(name: str) -> None:
    cfg = model(name)
    tied = dataclasses.replace(cfg, tied_embeddings=True)
    untied = dataclasses.replace(cfg, tied_embeddings=False)
    assert parameter_count(untied) - parameter_count(tied) == cfg.vocab_size * cfg.hidden_size
    assert parameter_breakdown(untied)["head"] == cfg.vocab_size * cfg.hidden_size
    assert non_embedding_parameters(untied) == non_embedding_parameters(tied)


def test_t5_relative_bias_only_in_first_layer_of_each_stack() -> None:
    cfg = model("t5-small")
    assert parameter_breakdown(cfg)["position"] == 2 * 32 * 6


def test_chinchilla_counts_transformer_xl_position_projections() -> None:
    cfg = model("chinchilla-70b")
    inner = cfg.num_heads * cfg.head_size
    assert parameter_breakdown(cfg)["position"] == 80 * (8192 * inner + 2 * inner)
    rotary = dataclasses.replace(cfg, position_embedding="rotary")
    assert parameter_count(rotary) < 0.93 * 70e9  # without them the count misses "70B" by ~7.6%


def test_bias_and_layernorm_add_parameters() -> None:
    cfg = model("llama-2-7b")
    biased = dataclasses.replace(cfg, bias=True)
    d, f, layers = 4096, 11008, 32
    assert parameter_count(biased) - parameter_count(cfg) == layers * (4 * d + 2 * f + d)
    layernorm = dataclasses.replace(cfg, norm="layernorm")
    assert parameter_count(layernorm) - parameter_count(cfg) == (2 * layers + 1) * d


# --- malformed LLM files -------------------------------------------------------------------------

VALID = """\
spec: llm
name: tiny
architecture: decoder
hidden_size: 768
num_layers: 12
num_heads: 12
ffn_size: 3072
vocab_size: 50257
max_sequence_length: 1024
"""
ROOT_LINE = 1  # a missing field has no line of its own: the error points at the mapping


def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(f"{key}:"):
            return number
    raise AssertionError(key)


ENC_DEC = _with(VALID, "architecture: decoder", "architecture: encoder-decoder\nencoder_layers: 0")
MALFORMED = {
    "unknown-key": (_with(VALID, "hidden_size:", "hiden_size:"), "hiden_size", "hiden_size"),
    "negative": (_with(VALID, "hidden_size: 768", "hidden_size: -1"), "hidden_size", "hidden_size"),
    "string-for-int": (_with(VALID, "num_heads: 12", 'num_heads: "many"'), "num_heads", "num_heads"),
    "not-divisible": (_with(VALID, "hidden_size: 768", "hidden_size: 770"), "num_heads", "hidden_size"),
    "enc-dec-no-encoder": (ENC_DEC, "encoder_layers", "encoder_layers"),
    "missing": (_with(VALID, "vocab_size: 50257\n", ""), None, "vocab_size"),
    "float-for-int": (_with(VALID, "ffn_size: 3072", "ffn_size: 3072.0"), "ffn_size", "ffn_size"),
    "float-fraction": (_with(VALID, "num_layers: 12", "num_layers: 12.5"), "num_layers", "num_layers"),
    "kv-not-dividing": (VALID + "num_kv_heads: 5\n", "num_kv_heads", "num_kv_heads"),
}


def test_valid_base_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(VALID)
    cfg = load_file(path)
    assert isinstance(cfg, LLMConfig)
    assert cfg.head_size == 64 and cfg.kv_heads == 12


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_is_a_located_spec_error(tmp_path: Path, case: str) -> None:
    text, line_key, field = MALFORMED[case]
    path = tmp_path / f"bad-{case}.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_file(path)
    message = str(info.value)
    line = _line_of(text, line_key) if line_key else ROOT_LINE
    assert path.name in message
    assert f":{line}:" in message
    assert field in message
    assert info.value.exit_code == 2


def test_unknown_key_suggests_the_right_name(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(MALFORMED["unknown-key"][0])
    with pytest.raises(SpecError, match="did you mean 'hidden_size'"):
        load_file(path)
