"""The LLM parallelism planner: vectorised search = scalar evaluation, Megatron's formulas, memory order,
infeasibility reasons, and the catalog cases (LLaMA-2 70B fits on 64 H100s, GPT-3 175B not on 8)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from planner.cost import megatron as mg
from planner.optimize.llm_costs import evaluate_grid
from planner.optimize.llm_evaluate import evaluate_configuration
from planner.optimize.llm_grid import candidate_grid
from planner.optimize.llm_setup import DETAILS, RECOMPUTE, TrainingSetup
from planner.optimize.parallelism import rank, search
from planner.spec.catalog import find
from planner.spec.llm import LLMConfig

GIB = 2**30


def _setup(model: str, cluster: str, servers: int, batch: int, seq: int, **kw: object) -> TrainingSetup:
    machine = find("hardware", cluster, ("cluster",)).with_top_count(servers)
    return TrainingSetup(find("models", model, ("llm",)), machine, batch, seq, **kw)  # type: ignore[arg-type]


def _gpt(h: int, layers: int, heads: int, vocab: int, seq: int) -> LLMConfig:
    return LLMConfig(
        spec="llm",
        name="gpt-test",
        architecture="decoder",
        hidden_size=h,
        num_layers=layers,
        num_heads=heads,
        ffn_size=4 * h,
        vocab_size=vocab,
        max_sequence_length=seq,
    )


@pytest.mark.parametrize(
    ("model", "cluster", "servers", "batch", "seq", "extra"),
    [
        ("gpt3-175b", "dgx-h100", 4, 96, 2048, {}),  # t up to 32 crosses servers
        ("llama-2-70b", "dgx-h100", 2, 64, 4096, {"sequence_parallel": False}),  # GQA, gated FFN
        (
            "gpt2-xl",
            "dgx-1",
            2,
            48,
            1024,
            {"dtype": "fp32", "optimizer": "sgd", "overlap_grad_reduce": False},
        ),
    ],
)
def test_one_row_grid_equals_the_full_grid(
    model: str, cluster: str, servers: int, batch: int, seq: int, extra: dict[str, object]
) -> None:
    setup = _setup(model, cluster, servers, batch, seq, **extra)
    grid = candidate_grid(setup.device_count, max_microbatch=6, max_interleave=4)
    costs = evaluate_grid(setup, grid)
    codes = list(DETAILS)
    rng = np.random.default_rng(7)
    picks = rng.choice(len(grid), size=120, replace=False)
    ok = np.flatnonzero(costs.detail < 0)
    picks = np.concatenate([picks, ok[:: max(1, ok.size // 40)]])  # make sure feasible ones are checked
    for i in picks:
        c = grid.configuration(int(i))
        plan = evaluate_configuration(
            setup,
            tensor=c.tensor,
            pipeline=c.pipeline,
            data=c.data,
            microbatch=c.microbatch,
            interleave=c.interleave,
            recompute=c.recompute,
            zero=c.zero,
        )
        assert costs.time_s[i] == pytest.approx(plan.time_per_iteration_s, rel=1e-9), c
        assert plan.feasible == (costs.detail[i] < 0), c
        if not plan.feasible:
            assert plan.reason_codes[0] == codes[costs.detail[i]], c
        if "batch-multiple" not in plan.reason_codes:
            assert costs.memory_bytes[i] == pytest.approx(plan.memory_per_device_bytes, rel=1e-9), c


def test_eq3_flops_and_the_72_form_by_hand() -> None:
    b, s, layers, h, v = 1536, 2048, 96, 12288, 51200
    cfg = _gpt(h, layers, 96, v, s)
    full = 96 * b * s * layers * h * h * (1 + Fraction(s, 6 * h) + Fraction(v, 16 * layers * h))
    none = 72 * b * s * layers * h * h * (1 + Fraction(s, 6 * h) + Fraction(v, 12 * layers * h))
    assert float(mg.training_flops(cfg, b * s, s, "full")) == pytest.approx(float(full), rel=1e-12)
    assert float(mg.model_flops(cfg, b * s, s)) == pytest.approx(float(none), rel=1e-12)
    selective = float(mg.training_flops(cfg, b * s, s, "selective"))
    assert selective == pytest.approx(float(none) + 4 * b * s * s * h * layers, rel=1e-12)


def test_activation_bytes_reproduce_korthikanti() -> None:
    h, a, s, b, t = 12288, 96, 2048, 1, 8
    cfg = _gpt(h, 96, a, 51200, s)
    sp = {r: float(mg.layer_activation_bytes(cfg, s, b, t, r, True)) for r in RECOMPUTE}
    assert sp["none"] == pytest.approx(s * b * h / t * (34 + 5 * a * s / h))
    assert sp["selective"] == pytest.approx(34 * s * b * h / t)
    assert sp["full"] == pytest.approx(2 * s * b * h / t)
    no_sp = float(mg.layer_activation_bytes(cfg, s, b, t, "none", False))
    assert no_sp == pytest.approx(s * b * h * (10 + 24 / t + 5 * a * s / (h * t)))


def test_bubble_and_microbatches_follow_megatron() -> None:
    setup = _setup("gpt3-175b", "dgx-h100", 128, 1536, 2048)
    plain = evaluate_configuration(setup, tensor=8, pipeline=8, data=16, microbatch=2)
    assert plain.microbatches == 48
    assert plain.bubble_overhead == pytest.approx(7 / 48)
    interleaved = evaluate_configuration(setup, tensor=8, pipeline=8, data=16, microbatch=2, interleave=3)
    assert interleaved.bubble_overhead == pytest.approx(7 / (3 * 48))
    # the bubble in the time breakdown is (p-1)/v micro-batch steps
    step = plain.time_per_iteration_s - plain.time_breakdown["data_parallel_exposed_s"]
    step -= plain.time_breakdown["optimizer_s"]
    assert plain.time_breakdown["bubble_s"] == pytest.approx(step * 7 / (48 + 7))


@pytest.mark.parametrize("attention", ["standard", "flash"])
def test_memory_never_grows_with_zero_stage_or_recomputation(attention: str) -> None:
    setup = _setup("llama-2-70b", "dgx-h100", 8, 256, 4096, attention=attention)
    for t, p, d, b in [(8, 4, 2, 1), (4, 2, 8, 2), (2, 1, 32, 1), (8, 8, 1, 4)]:
        by_zero = [
            evaluate_configuration(
                setup, tensor=t, pipeline=p, data=d, microbatch=b, zero=z
            ).memory_per_device_bytes
            for z in (0, 1, 2, 3)
        ]
        assert by_zero[:3] == sorted(by_zero[:3], reverse=True)
        if d > 1:
            assert by_zero[3] < by_zero[0]
        else:  # ZeRO-3's gathered working copy costs memory, and one replica has nothing to shard
            assert by_zero[3] > by_zero[2]
        by_recompute = [
            evaluate_configuration(
                setup, tensor=t, pipeline=p, data=d, microbatch=b, recompute=r
            ).memory_per_device_bytes
            for r in ("none", "selective", "full")
        ]
        if attention == "standard":
            assert by_recompute[0] > by_recompute[1] > by_recompute[2]
        else:  # fused attention keeps no attention core: selective recomputation has nothing to drop
            assert by_recompute[0] == by_recompute[1] > by_recompute[2]


def test_infeasible_configurations_say_why() -> None:
    setup = _setup("llama-2-70b", "dgx-h100", 8, 512, 4096)
    kv = evaluate_configuration(setup, tensor=16, pipeline=4, data=1, microbatch=1)
    assert not kv.feasible and kv.reason_codes[0] == "tensor-kv-heads"
    assert "8 key/value heads" in kv.reasons[0]
    layers = evaluate_configuration(setup, tensor=8, pipeline=3, data=1, microbatch=1)
    assert layers.reason_codes[0] == "pipeline-layers"
    batch = evaluate_configuration(setup, tensor=8, pipeline=2, data=4, microbatch=3)
    assert "batch-multiple" in batch.reason_codes
    chunks = evaluate_configuration(setup, tensor=8, pipeline=1, data=8, microbatch=1, interleave=2, zero=3)
    assert chunks.reason_codes == ("interleave-pipeline",)
    small = _setup("gpt3-175b", "dgx-h100", 1, 64, 2048)
    fits_not = evaluate_configuration(small, tensor=8, pipeline=1, data=1, microbatch=1)
    assert fits_not.reason_codes == ("memory",)
    assert fits_not.memory_per_device_bytes > 80 * GIB
    with pytest.raises(ValueError, match="more than the 64"):
        evaluate_configuration(setup, tensor=8, pipeline=8, data=2, microbatch=1)


def test_llama2_70b_on_eight_dgx_h100_has_hybrid_plans_that_fit() -> None:
    setup = _setup("llama-2-70b", "dgx-h100", 8, 512, 4096)
    result = search(setup, top=20, max_microbatch=16, max_interleave=8)
    assert result.plans and result.feasible >= len(result.plans)
    assert all(plan.feasible and plan.memory_per_device_bytes < 80 * GIB for plan in result.plans)
    assert any(p.config.tensor > 1 and (p.config.pipeline > 1 or p.config.data > 1) for p in result.plans)
    times = [plan.time_per_iteration_s for plan in result.plans]
    assert times == sorted(times)
    assert sum(result.rejected.values()) + result.feasible == result.candidates
    assert result.rejected["divisibility"] > 0 and result.rejected["memory"] > 0


def test_gpt3_175b_does_not_fit_on_one_server() -> None:
    result = search(_setup("gpt3-175b", "dgx-h100", 1, 64, 2048), max_microbatch=16, max_interleave=8)
    assert result.plans == () and result.feasible == 0
    assert result.rejected["memory"] > 0
    assert result.smallest_memory_bytes is not None and result.smallest_memory_bytes > 80 * GIB


def test_ranking_breaks_ties_by_memory_then_smaller_model_parallelism() -> None:
    setup = _setup("gpt2-xl", "dgx-h100", 1, 64, 1024)
    grid = candidate_grid(setup.device_count, max_microbatch=4, max_interleave=2)
    costs = evaluate_grid(setup, grid)
    order = rank(grid, costs)
    keys = [
        (costs.time_s[i], costs.memory_bytes[i], grid.tensor[i] * grid.pipeline[i], grid.tensor[i])
        for i in order
    ]
    assert keys == sorted(keys)
    assert all(costs.detail[i] < 0 for i in order)


def test_pinned_search_matches_the_pinned_values() -> None:
    setup = _setup("gpt3-175b", "dgx-h100", 16, 256, 2048)
    result = search(
        setup,
        top=5,
        max_microbatch=16,
        max_interleave=8,
        tensor=8,
        pipeline=8,
        recompute=("full",),
        zero=(1,),
    )
    assert result.plans
    assert {
        (p.config.tensor, p.config.pipeline, p.config.recompute, p.config.zero) for p in result.plans
    } == {(8, 8, "full", 1)}


def test_setup_rejects_what_it_cannot_plan() -> None:
    machine = find("hardware", "dgx-h100", ("cluster",))
    with pytest.raises(ValueError, match="encoder-decoder"):
        TrainingSetup(find("models", "t5-small", ("llm",)), machine, 8, 512)
    with pytest.raises(ValueError, match="sequence length"):
        TrainingSetup(find("models", "gpt2", ("llm",)), machine, 8, 4096)
    with pytest.raises(ValueError, match="lists no"):
        TrainingSetup(find("models", "gpt2", ("llm",)), find("hardware", "dgx-1", ("cluster",)), 8, 512)


PLAN_79_9_GIB = {
    "tensor": 4,
    "pipeline": 8,
    "data": 32,
    "microbatch": 2,
    "interleave": 4,
    "recompute": "none",
    "zero": 1,
}


def test_a_plan_must_fit_in_the_usable_memory_not_the_physical() -> None:
    """The A100's file reserves 1.26 GiB (driver and CUDA context): a plan between 78.74 and 80 GiB per
    device is refused, naming the usable figure; with the reserve removed the same plan fits."""
    from dataclasses import replace

    setup = _setup("gpt3-175b", "dgx-a100", 128, 1536, 2048)
    device = setup.cluster.device
    assert device.usable_memory == pytest.approx(device.memory - 1.26 * GIB)
    plan = evaluate_configuration(setup, **PLAN_79_9_GIB)
    assert device.usable_memory < plan.memory_per_device_bytes <= device.memory  # 79.9 GiB
    assert not plan.feasible and "78.7 GiB usable" in " ".join(plan.reasons)
    unreserved = replace(setup, cluster=replace(setup.cluster, device=replace(device, memory_reserved=0.0)))
    again = evaluate_configuration(unreserved, **PLAN_79_9_GIB)
    assert again.feasible and again.memory_per_device_bytes == plan.memory_per_device_bytes
