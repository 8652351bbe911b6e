"""Transformer inference partition: head-wise (over E) vs sequence (over L)."""

from __future__ import annotations

import json

import pytest

from planner.cost.collectives import ring_allreduce_bytes_per_device
from planner.cost.transformer_partition import layer_flops, partition_costs, pick_dtype
from planner.spec.catalog import find


def test_layer_flops_gpt2_by_hand() -> None:
    cfg = find("models", "gpt2")
    d, f, length = 768, 3072, 1024
    expected = 2 * length * d * 4 * d + 4 * length * length * d + 2 * length * d * f * 2
    assert layer_flops(cfg, length) == pytest.approx(expected)


def test_communication_per_layer() -> None:
    cfg = find("models", "gpt2")
    dgx = find("hardware", "dgx-1")
    head, seq = partition_costs(cfg, dgx, 4, 1024, "fp32")
    activation = 1024 * 768 * 4
    assert head.comm_bytes_per_device == pytest.approx(
        2 * float(ring_allreduce_bytes_per_device(activation, 4))
    )
    assert seq.comm_bytes_per_device == pytest.approx(3 * (1024 // 4) * 2 * 768 * 4)
    assert head.weight_bytes_per_device == pytest.approx(seq.weight_bytes_per_device / 4)
    assert head.flops_per_device == seq.flops_per_device


def test_grouped_query_attention_favours_the_sequence_split() -> None:
    cfg = find("models", "llama-2-70b")  # 8 key/value heads for 64 query heads
    head, seq = partition_costs(cfg, find("hardware", "dgx-1"), 8, 4096, "fp16")
    assert seq.comm_bytes_per_device < head.comm_bytes_per_device / 8


def test_one_device_sends_nothing() -> None:
    cfg = find("models", "gpt2")
    for cost in partition_costs(cfg, find("hardware", "dgx-1"), 1, 128, "fp32"):
        assert cost.comm_s == 0.0 and cost.comm_bytes_per_device == 0.0


def test_bad_splits_and_dtypes() -> None:
    cfg = find("models", "gpt2")
    dgx = find("hardware", "dgx-1")
    with pytest.raises(ValueError, match="heads"):
        partition_costs(cfg, dgx, 5, 1024, "fp32")
    with pytest.raises(ValueError, match="tokens"):
        partition_costs(cfg, dgx, 4, 1023, "fp32")
    assert pick_dtype(find("models", "llama-2-7b"), dgx.device) == "fp16"  # V100 has no bf16


def test_the_default_devices_divide_the_heads_and_tokens_and_say_so(run_cli) -> None:
    # gpt2 has 12 heads; dgx-1 has 8 devices per server, which do not divide them: 4 do
    from planner.api.edge_transformer import default_devices

    assert default_devices(12, 1024, 8) == 4 and default_devices(32, 4096, 8) == 8
    result = run_cli("edge", "transformer", "gpt2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["devices"] == 4 and "12 heads" in payload["notes"][0]
