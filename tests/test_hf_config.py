"""Hugging Face config.json -> LLMConfig: the families match the catalog's counts; bad keys are located."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.api.inputs import load_llm
from planner.cost.transformer import parameter_count
from planner.errors import SpecError
from planner.spec.catalog import find
from planner.spec.hf_config import load_hf_config

LLAMA_2_7B = {  # meta-llama/Llama-2-7b-hf config.json (the keys the loader reads, and some it ignores)
    "_name_or_path": "meta-llama/Llama-2-7b-hf",
    "architectures": ["LlamaForCausalLM"],
    "hidden_act": "silu",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "max_position_embeddings": 4096,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "vocab_size": 32000,
}
LLAMA_2_70B = {**LLAMA_2_7B, "hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64}
LLAMA_2_70B |= {
    "num_hidden_layers": 80,
    "num_key_value_heads": 8,
    "_name_or_path": "meta-llama/Llama-2-70b-hf",
}
GPT2 = {  # openai-community/gpt2 config.json
    "activation_function": "gelu_new",
    "model_type": "gpt2",
    "n_ctx": 1024,
    "n_embd": 768,
    "n_head": 12,
    "n_inner": None,
    "n_layer": 12,
    "n_positions": 1024,
    "vocab_size": 50257,
}
T5_V1_1_SMALL = {  # google/t5-v1_1-small config.json
    "d_ff": 1024,
    "d_kv": 64,
    "d_model": 512,
    "feed_forward_proj": "gated-gelu",
    "model_type": "t5",
    "num_decoder_layers": 8,
    "num_heads": 6,
    "num_layers": 8,
    "relative_attention_num_buckets": 32,
    "tie_word_embeddings": False,
    "vocab_size": 32128,
}


def _write(tmp_path: Path, data: dict[str, Any], name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("data", "catalog", "count"),
    [
        (LLAMA_2_7B, "llama-2-7b", 6_738_415_616),
        (LLAMA_2_70B, "llama-2-70b", 68_976_648_192),
        (GPT2, "gpt2", 124_439_808),
        (T5_V1_1_SMALL, "t5-small", 76_961_152),
    ],
)
def test_families_match_the_catalog(tmp_path: Path, data: dict[str, Any], catalog: str, count: int) -> None:
    cfg = load_hf_config(_write(tmp_path, data))
    assert parameter_count(cfg) == count
    reference = find("models", catalog, ("llm",))
    for field in (
        "hidden_size",
        "num_layers",
        "num_heads",
        "kv_heads",
        "ffn_size",
        "vocab_size",
        "gated_ffn",
    ):
        assert getattr(cfg, field) == getattr(reference, field), field
    assert (cfg.tied_embeddings, cfg.norm, cfg.bias) == (
        reference.tied_embeddings,
        reference.norm,
        reference.bias,
    )


def test_name_comes_from_the_checkpoint_or_the_folder(tmp_path: Path) -> None:
    assert load_hf_config(_write(tmp_path, LLAMA_2_7B)).name == "Llama-2-7b-hf"
    folder = tmp_path / "my-gpt"
    folder.mkdir()
    _write(folder, GPT2)
    assert load_llm(str(folder / "config.json")).name == "my-gpt"
    assert load_llm(str(folder)).name == "my-gpt"
    assert load_llm("gpt2").name == "gpt2"  # a catalog name still works


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        ({"num_hidden_layers": None}, "num_hidden_layers", "missing required key"),
        ({"hidden_size": -4}, "hidden_size", "whole number >= 1"),
        ({"hidden_size": "4096"}, "hidden_size", "whole number >= 1"),
        ({"tie_word_embeddings": "no"}, "tie_word_embeddings", "true or false"),
        ({"model_type": "mamba"}, "model_type", "one of llama"),
        ({"num_key_value_heads": 5}, "num_key_value_heads", "multiple of num_kv_heads"),
        ({"attention_bias": True, "mlp_bias": False}, "mlp_bias", "one bias flag"),
        ({"torch_dtype": "int4"}, "torch_dtype", "float32"),
    ],
)
def test_bad_keys_are_located(tmp_path: Path, change: dict[str, Any], key: str, expected: str) -> None:
    data = {k: v for k, v in {**LLAMA_2_7B, **change}.items() if v is not None or k not in change}
    path = _write(tmp_path, data)
    with pytest.raises(SpecError) as caught:
        load_hf_config(path)
    message = str(caught.value)
    assert f"field '{key}'" in message and expected in message
    if key in data:
        line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if f'"{key}"' in text)
        assert f"config.json:{line}:" in message


def test_not_json_and_missing_files(tmp_path: Path) -> None:
    broken = tmp_path / "config.json"
    broken.write_text('{"model_type": "llama",\n\t"hidden_size": }', encoding="utf-8")
    with pytest.raises(SpecError, match=r"config\.json"):
        load_hf_config(broken)
    with pytest.raises(SpecError, match="file not found"):
        load_hf_config(tmp_path / "absent.json")
    with pytest.raises(SpecError, match="missing required key 'model_type'"):
        load_hf_config(_write(tmp_path, {"hidden_size": 8}))
    tabs = tmp_path / "tabs.json"
    tabs.write_text(json.dumps(GPT2, indent="\t"), encoding="utf-8")
    assert parameter_count(load_hf_config(tabs)) == 124_439_808
