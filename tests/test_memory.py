"""Per-device training memory (ZeRO's accounting) and the optimizer step's memory traffic."""

from __future__ import annotations

import pytest

from planner.cost.memory import (
    state_bytes_per_parameter,
    training_memory,
    update_bytes_per_parameter,
)


@pytest.mark.parametrize(
    ("dtype", "optimizer", "expected"),
    [
        ("fp16", "adam", 16.0),  # ZeRO Sec. 3.1: 2 + 2 + K, K = 12
        ("bf16", "adam", 16.0),
        ("fp32", "adam", 16.0),  # 4 + 4 + 8
        ("fp32", "sgd", 12.0),  # 4 + 4 + 4 (momentum)
        ("fp16", "sgd", 12.0),  # 2 + 2 + 4 (master) + 4 (momentum)
    ],
)
def test_state_bytes_per_parameter(dtype: str, optimizer: str, expected: float) -> None:
    assert state_bytes_per_parameter(dtype, optimizer).total == expected


def test_zero_example_gpt2_15b_needs_24_gb() -> None:
    # ZeRO Sec. 3.1: a 1.5B-parameter GPT-2 needs at least 24 GB for its model states (mixed-precision Adam).
    memory = training_memory(1_500_000_000, 0.0, "fp16", "adam")
    assert memory.model_states_bytes == 24e9
    assert memory.master_weights_bytes == 6e9
    assert memory.optimizer_state_bytes == 12e9


def test_training_memory_adds_activations() -> None:
    memory = training_memory(1000, 5000.0, "fp32", "sgd")
    assert memory.total_bytes == 1000 * 12 + 5000
    d = memory.to_dict()
    assert d["total_bytes"] == memory.total_bytes
    assert d["activations_bytes"] == 5000.0
    assert d["master_weights_bytes"] == 0


def test_update_traffic() -> None:
    assert update_bytes_per_parameter("fp32", "sgd") == 20  # read w, g, m; write w, m
    assert update_bytes_per_parameter("fp32", "adam") == 28
    # mixed precision: fp16 grads to fp32 (2 + 4), unscale and inf check (4 + 4), the update on fp32
    # grads (4 + 4 + 8 read, 4 + 8 written), master weights to the fp16 copy (4 + 2)
    assert update_bytes_per_parameter("fp16", "adam") == 6 + 8 + 28 + 6
    assert update_bytes_per_parameter("fp16", "adam", gradient_clipping=True) == 6 + 8 + 28 + 6 + 4
    # bf16 with fp32 main gradients: no copy, no loss scale
    assert update_bytes_per_parameter("bf16", "adam", "fp32") == 28 + 6
    assert update_bytes_per_parameter("fp32", "sgd", gradient_clipping=True) == 24


def test_unknown_optimizer_or_dtype() -> None:
    with pytest.raises(ValueError, match="optimizer must be one of"):
        state_bytes_per_parameter("fp32", "lamb")
    with pytest.raises(ValueError, match="dtype must be one of"):
        state_bytes_per_parameter("fp12", "sgd")
