"""Fused (flash) and standard attention, gradient precision and ZeRO-3 as it runs, in the LLM cost model."""

from __future__ import annotations

import numpy as np
import pytest

from planner.api.llm import ATTENTION_CHOICES, RECOMPUTE_CHOICES
from planner.cost import megatron as mg
from planner.cost.llm_memory import layer_parameters
from planner.optimize.llm_evaluate import evaluate_configuration
from planner.optimize.llm_setup import TrainingSetup
from planner.optimize.parallelism import search
from planner.spec.catalog import find
from planner.spec.llm import LLMConfig

GPT_7B = LLMConfig(
    spec="llm",
    name="gpt-7b-32k",
    architecture="decoder",
    hidden_size=4096,
    num_layers=32,
    num_heads=32,
    ffn_size=16384,
    vocab_size=50304,
    max_sequence_length=65536,
)


def _dgx_a100(servers: int = 1):  # type: ignore[no-untyped-def]
    return find("hardware", "dgx-a100", ("cluster",)).with_top_count(servers)


def test_the_light_choice_lists_match_the_model() -> None:
    assert ATTENTION_CHOICES == mg.ATTENTION
    assert RECOMPUTE_CHOICES == mg.RECOMPUTE


def test_fused_attention_activations_grow_linearly_in_the_sequence() -> None:
    lengths = np.array([1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0])
    flash = mg.layer_activation_bytes(GPT_7B, lengths, 1, 1, "none", True, "flash")
    standard = mg.layer_activation_bytes(GPT_7B, lengths, 1, 1, "none", True, "standard")
    per_token = flash / lengths
    assert np.allclose(per_token, per_token[0], rtol=1e-12)  # linear: bytes per token constant
    assert np.all(np.diff(standard / lengths) > 0)  # standard keeps the a·s² scores: super-linear
    # the difference is Korthikanti's attention core 5·a·s²·b less the log-sum-exp 4·a·s·b
    a = GPT_7B.num_heads
    assert np.allclose(standard - flash, 5 * a * lengths**2 - 4 * a * lengths)


def test_fused_attention_moves_no_score_bytes_and_selective_equals_none() -> None:
    _, core = mg.elementwise_bytes_per_token(GPT_7B, 4096, 1, True, "flash")
    assert float(core) == 0.0
    _, core = mg.elementwise_bytes_per_token(GPT_7B, 4096, 1, True, "standard")
    assert float(core) == 9 * GPT_7B.num_heads * 4096
    assert mg.effective_recompute("selective", "flash") == "none"
    assert mg.effective_recompute("selective", "standard") == "selective"
    setup = TrainingSetup(GPT_7B, _dgx_a100(), 8, 4096, attention="flash")
    none, selective = (
        evaluate_configuration(setup, tensor=8, pipeline=1, data=1, microbatch=1, recompute=r)
        for r in ("none", "selective")
    )
    assert none.time_per_iteration_s == selective.time_per_iteration_s
    assert none.memory_per_device_bytes == selective.memory_per_device_bytes


def test_fused_attention_backward_recomputes_the_scores() -> None:
    """Flash's attention core costs (1 + 2.5)·causal share of the forward FLOPs at its own rates: at a long
    sequence, where the core dominates, its time per token rises with s; and the causal share halves."""
    assert float(mg.flash_causal_fraction(128)) == 1.0
    assert float(mg.flash_causal_fraction(32768)) == pytest.approx(0.5 * (1 + 128 / 32768))
    short, long = (
        evaluate_configuration(
            TrainingSetup(GPT_7B, _dgx_a100(), 8, s, attention="flash"),
            tensor=8,
            pipeline=1,
            data=1,
            microbatch=1,
            recompute="none",
        ).time_breakdown["compute_s"]
        / s
        for s in (2048, 32768)
    )
    assert long > short


def test_a_7b_model_at_32k_tokens_trains_on_8_a100_with_zero3_flash_and_no_recomputation() -> None:
    setup = TrainingSetup(GPT_7B, _dgx_a100(), global_batch=8, seq_len=32768, attention="flash")
    found = search(setup, top=1, max_microbatch=2, max_interleave=1, recompute=("none",), zero=(3,))
    assert found.plans, found.rejected
    best = found.plans[0]
    assert best.feasible and best.memory_per_device_bytes <= 80 * 2**30
    standard = TrainingSetup(GPT_7B, _dgx_a100(), global_batch=8, seq_len=32768, attention="standard")
    assert not search(
        standard, top=1, max_microbatch=2, max_interleave=1, recompute=("none",), zero=(3,)
    ).plans


def test_gradient_precision_follows_megatron_and_costs_memory_and_traffic() -> None:
    cluster = _dgx_a100(2)
    assert TrainingSetup(GPT_7B, cluster, 64, 2048, dtype="bf16").gradient_precision == "fp32"
    assert TrainingSetup(GPT_7B, cluster, 64, 2048, dtype="fp16").gradient_precision == "fp16"
    plans = {
        g: evaluate_configuration(
            TrainingSetup(
                GPT_7B, cluster, 64, 2048, dtype="bf16", gradient_dtype=g, overlap_grad_reduce=False
            ),
            tensor=2,
            pipeline=1,
            data=8,
            microbatch=1,
        )
        for g in ("bf16", "fp32")
    }
    assert plans["fp32"].memory_breakdown["gradients"] == pytest.approx(
        2 * plans["bf16"].memory_breakdown["gradients"]
    )
    fp32_traffic = plans["fp32"].time_breakdown["data_parallel_comm_s"]
    assert fp32_traffic > 1.5 * plans["bf16"].time_breakdown["data_parallel_comm_s"]


def test_zero3_counts_its_working_copy_and_exposes_its_first_gather() -> None:
    setup = TrainingSetup(GPT_7B, _dgx_a100(2), 64, 2048)
    zero1, zero3 = (
        evaluate_configuration(setup, tensor=1, pipeline=1, data=16, microbatch=1, recompute="full", zero=z)
        for z in (1, 3)
    )
    layer = layer_parameters(GPT_7B)
    sharded = zero1.memory_breakdown["weights"] / 16  # ZeRO-3 shards the 16-bit weights over d = 16
    working = layer * (2 * 2 + 4)  # two gathered bf16 layers and one layer's fp32 gradient
    assert zero3.memory_breakdown["weights"] == pytest.approx(sharded + working)
    # with everything overlapped ZeRO-3 still exposes traffic, so it no longer ties ZeRO-1
    assert zero3.time_breakdown["data_parallel_exposed_s"] > 0
    assert zero3.time_per_iteration_s > zero1.time_per_iteration_s


def test_unfused_gradient_accumulation_adds_one_pass_over_the_gradients_per_micro_batch() -> None:
    from planner.cost.layer_kernels import gradient_accumulation_time

    cluster = _dgx_a100()
    fused, unfused = (
        evaluate_configuration(
            TrainingSetup(GPT_7B, cluster, 16, 2048, dtype="fp16", gradient_accumulation_fusion=f),
            tensor=2,
            pipeline=1,
            data=4,
            microbatch=1,
        )
        for f in (True, False)
    )
    m = 16 / 4
    per_layer = float(gradient_accumulation_time(cluster.resolved_device, GPT_7B, 2, 2, 2))
    added = unfused.time_breakdown["compute_s"] - fused.time_breakdown["compute_s"]
    assert added == pytest.approx(m * GPT_7B.num_layers * per_layer, rel=1e-9)
    # parameters / t · (2 + 2·2) bytes at the sustained bandwidth is most of it
    device = cluster.resolved_device
    assert per_layer > layer_parameters(GPT_7B) / 2 * 6 / (device.memory_bandwidth * device.memory_efficiency)


def test_zero3_collectives_run_as_rings_and_overlap_slows_compute() -> None:
    """NCCL's reduce-scatter and all-gather are rings: at many replicas their (d - 1) latency steps add up,
    so per-layer ZeRO-3 traffic grows with d even though each replica's bytes shrink; and overlapped traffic
    costs the compute it runs beside (planner.cost.overlap)."""
    from planner.cost.overlap import compute_slowdown

    small, large = (
        evaluate_configuration(
            TrainingSetup(GPT_7B, _dgx_a100(servers), 8 * servers, 2048),
            tensor=1,
            pipeline=1,
            data=8 * servers,
            microbatch=1,
            recompute="none",
            zero=3,
        )
        for servers in (2, 128)
    )
    assert large.time_breakdown["data_parallel_comm_s"] > small.time_breakdown["data_parallel_comm_s"]
    for plan in (small, large):
        traffic = plan.time_breakdown["data_parallel_comm_s"]
        window = plan.time_breakdown["compute_s"]  # ZeRO-3 overlaps every forward and backward
        exposed = plan.time_breakdown["data_parallel_exposed_s"]
        assert exposed >= compute_slowdown(_dgx_a100().resolved_device) * min(traffic, window)
