"""The decode-step roofline: weights read, memory fit, tensor-parallel all-reduces, verification cost, c."""

from __future__ import annotations

import pytest

from planner.cost import decode
from planner.cost.compute import sustained_memory_bandwidth
from planner.cost.transformer import parameter_breakdown, parameter_count
from planner.errors import InfeasibleError
from planner.optimize.speculation import pair_costs
from planner.spec.catalog import find

H100 = find("hardware", "h100")
DGX = find("hardware", "dgx-h100")
L70, L7 = find("models", "llama-2-70b"), find("models", "llama-2-7b")


def test_weights_a_step_reads() -> None:
    # LLaMA: everything but the untied input embedding
    assert decode.step_weights(L70) == parameter_count(L70) - parameter_breakdown(L70)["embedding"]
    # T5: the encoder is not read while decoding; encoder + decoder + embedding = the whole model
    t5 = find("models", "t5-xxl")
    parts = decode.encoder_parameters(t5) + decode.step_weights(t5) + parameter_breakdown(t5)["embedding"]
    assert parts == parameter_count(t5)
    assert 0.4 < decode.encoder_parameters(t5) / parameter_count(t5) < 0.5


def test_llama_70b_in_bf16_does_not_fit_one_h100() -> None:
    assert parameter_count(L70) * 2 == pytest.approx(138e9, rel=0.01)
    with pytest.raises(InfeasibleError, match="`tensor_parallel` 2"):
        decode.check_fits(L70, decode.Placement(H100), "bf16", 1, 512)
    need = decode.check_fits(L70, decode.Placement(H100, 2, DGX), "bf16", 1, 512)
    assert need < H100.memory


def test_allreduce_count_and_tensor_parallel_placement() -> None:
    assert decode.allreduces_per_step(L70, 1) == 0
    assert decode.allreduces_per_step(L70, 4) == 2 * 80  # Megatron: attention + MLP per layer
    assert decode.allreduces_per_step(find("models", "t5-xxl"), 2) == 3 * 24  # plus cross-attention
    with pytest.raises(ValueError, match="inside one server"):
        decode.Placement(H100, 16, DGX)
    with pytest.raises(ValueError, match="needs a cluster"):
        decode.Placement(H100, 2)


def test_a_single_device_step_is_memory_bound_weights_over_bandwidth() -> None:
    step = decode.step_time(L7, decode.Placement(H100), dtype="bf16", batch=1, tokens=1, context=0)
    expected = decode.step_weights(L7) * 2 / sustained_memory_bandwidth(H100)
    assert not step.compute_bound
    assert step.time_s == pytest.approx(expected)
    assert step.allreduce_s == 0.0


def test_tensor_parallel_splits_the_roofline_and_adds_allreduces() -> None:
    one = decode.step_time(L70, decode.Placement(H100, 2, DGX), dtype="bf16")
    four = decode.step_time(L70, decode.Placement(H100, 4, DGX), dtype="bf16")
    assert four.roofline_s == pytest.approx(one.roofline_s / 2, rel=0.01)
    assert four.allreduce_s > one.allreduce_s > 0
    assert four.allreduces == 160


def test_verification_costs_one_step_while_memory_bound_and_more_beyond_the_ridge() -> None:
    place = decode.Placement(H100)
    small = decode.verify_ratios(L7, place, [1, 4, 8], dtype="bf16", batch=1)
    assert small == pytest.approx([1.0, 1.0, 1.0], abs=0.02)
    ridge = decode.ridge_tokens(H100, "bf16")
    assert 200 < ridge < 400  # ~295 tokens on an H100 in bf16
    big = decode.verify_ratios(L7, place, [7], dtype="bf16", batch=256, context=0)  # 2048 tokens
    assert big[0] > 3.0


def test_c_from_the_roofline_lies_between_the_parameter_ratio_and_one() -> None:
    costs = pair_costs(
        L70, L7, decode.Placement(H100, 4, DGX), decode.Placement(H100), dtype="bf16", batch=1, context=512
    )
    assert costs.parameter_ratio < costs.c < 1.0
    assert costs.c_hat == pytest.approx(costs.draft_step.flops / costs.target_step.flops)
