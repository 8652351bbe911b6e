"""Mixture-of-experts in the LLM spec and the counts (planner.spec.llm, planner.cost.moe, HF config.json)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from planner.cost.moe import (
    active_forward_flops_per_token,
    active_parameters,
    expert_capacity,
    expert_parameters,
)
from planner.cost.transformer import parameter_count
from planner.errors import SpecError
from planner.spec.catalog import find, load_file
from planner.spec.llm import LLMConfig
from planner.spec.schema import FieldValueError


def mixtral() -> LLMConfig:
    return find("models", "mixtral-8x7b")


def test_mixtral_total_and_active_match_the_published_figures() -> None:
    cfg = mixtral()
    assert parameter_count(cfg) == 46_702_792_704  # HF checkpoint
    assert round(parameter_count(cfg) / 1e9, 1) == 46.7  # Mistral AI: "46.7B total parameters"
    assert round(active_parameters(cfg) / 1e9, 1) == 12.9  # "only uses 12.9B parameters per token"


def test_active_parameters_skip_exactly_the_unrouted_experts() -> None:
    cfg = mixtral()
    expert = 3 * 4096 * 14336  # one SwiGLU expert
    assert expert_parameters(cfg) == 32 * 8 * expert
    assert parameter_count(cfg) - active_parameters(cfg) == 32 * (8 - 2) * expert


def test_a_dense_model_is_one_expert() -> None:
    cfg = find("models", "llama-3-8b")
    assert active_parameters(cfg) == parameter_count(cfg)
    assert expert_parameters(cfg) == 0
    assert expert_capacity(cfg, 1000) == 1000


def test_shared_experts_are_active_for_every_token() -> None:
    base = mixtral()
    shared = dataclasses.replace(base, shared_experts=1)
    expert = 3 * 4096 * 14336
    assert parameter_count(shared) - parameter_count(base) == 32 * expert
    assert active_parameters(shared) - active_parameters(base) == 32 * expert


def test_forward_flops_per_token_count_the_active_weights_only() -> None:
    cfg = mixtral()
    head = 32000 * 4096
    # 2 FLOPs per active weight outside the input embedding (the head is a weight used per token)
    assert active_forward_flops_per_token(cfg) == 2.0 * (active_parameters(cfg) - head)
    dense = dataclasses.replace(cfg, num_experts=1, experts_per_token=None)
    # top-2 of 8 costs one extra expert per layer (and the router) over the one-FFN model
    extra = active_forward_flops_per_token(cfg) - active_forward_flops_per_token(dense)
    assert extra == 2.0 * 32 * (3 * 4096 * 14336 + 4096 * 8)
    assert active_forward_flops_per_token(cfg, context=1000) > active_forward_flops_per_token(cfg)


def test_expert_capacity() -> None:
    cfg = mixtral()
    assert expert_capacity(cfg, 4096) == 1024  # dropless: the even share, 2 x 4096 / 8
    capped = dataclasses.replace(cfg, capacity_factor=1.25)
    assert expert_capacity(capped, 4096) == 1280  # Switch Transformer: c x k x tokens / experts
    assert expert_capacity(capped, 1) == 1  # rounded up
    with pytest.raises(ValueError, match="tokens"):
        expert_capacity(cfg, -1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"experts_per_token": None}, "experts_per_token"),
        ({"experts_per_token": 9}, "experts_per_token"),
        ({"num_experts": 1}, "experts_per_token"),  # a routing setting on a dense model
    ],
)
def test_routing_settings_are_checked(changes: dict[str, object], field: str) -> None:
    with pytest.raises(FieldValueError) as exc:
        dataclasses.replace(mixtral(), **changes)
    assert exc.value.field == field


def test_moe_yaml_error_names_the_field(tmp_path) -> None:
    from planner.spec.catalog import catalog_dir

    body = (catalog_dir("models") / "llm" / "mixtral-8x7b.yaml").read_text()
    path = tmp_path / "bad.yaml"
    path.write_text(body.replace("experts_per_token: 2", "experts_per_token: 16"))
    with pytest.raises(SpecError, match="experts_per_token"):
        load_file(path)


HF_MIXTRAL = {
    "_name_or_path": "mistralai/Mixtral-8x7B-v0.1",
    "model_type": "mixtral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "num_attention_heads": 32,
    "num_experts_per_tok": 2,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "vocab_size": 32000,
}


def test_hf_mixtral_config_reads_the_experts(tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(HF_MIXTRAL))
    cfg = load_file(path)
    assert (cfg.num_experts, cfg.experts_per_token) == (8, 2)
    assert parameter_count(cfg) == parameter_count(mixtral())
    assert active_parameters(cfg) == active_parameters(mixtral())


def test_hf_config_missing_top_k_is_a_located_error(tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({k: v for k, v in HF_MIXTRAL.items() if k != "num_experts_per_tok"}))
    with pytest.raises(SpecError, match="num_experts_per_tok"):
        load_file(path)


def test_hf_qwen2_config_has_qkv_biases(tmp_path) -> None:
    qwen = find("models", "qwen2.5-7b")
    config = {
        "model_type": "qwen2",
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "max_position_embeddings": 131072,
        "num_attention_heads": 28,
        "num_hidden_layers": 28,
        "num_key_value_heads": 4,
        "tie_word_embeddings": False,
        "vocab_size": 152064,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    cfg = load_file(path)
    assert cfg.qkv_bias and not cfg.bias
    assert parameter_count(cfg) == parameter_count(qwen) == 7_615_616_512


def test_models_show_gives_total_and_active(run_cli) -> None:
    result = run_cli("models", "show", "mixtral-8x7b")
    assert result.exit_code == 0, result.stderr
    assert "46.7B total / 12.9B active parameters per token (top-2 of 8 routed experts)" in result.stdout
    payload = json.loads(run_cli("models", "show", "mixtral-8x7b", "--format", "json").stdout)
    assert payload["totals"]["active_parameters"] == 12_879_925_248
