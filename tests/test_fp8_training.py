"""fp8 training as Transformer Engine runs it (planner.cost.fp8_training): the layers' GEMMs at the fp8 peak,
the casts, the fp8 weight cache and saved GEMM inputs in memory, the per-iteration weight cast, the refusal
on a device without fp8, and the API's and CLI's setting."""

from __future__ import annotations

import json

import pytest

from planner.api.inputs import load_cluster, load_llm
from planner.cost.fp8_training import gemm_weight_parameters, saved_activation_saving, weight_cache_bytes
from planner.cost.moe import expert_parameters
from planner.cost.transformer import attention_parameters, ffn_parameters
from planner.optimize.llm_evaluate import evaluate_configuration
from planner.optimize.llm_setup import TrainingSetup

CONFIG = {
    "tensor": 4,
    "pipeline": 4,
    "data": 4,
    "microbatch": 1,
    "interleave": 20,
    "recompute": "none",
    "zero": 1,
}


def _setup(**kw: object) -> TrainingSetup:
    cluster = load_cluster("dgx-h100", 8)
    return TrainingSetup(load_llm("llama-2-70b"), cluster, global_batch=128, seq_len=4096, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pair():
    return (
        evaluate_configuration(_setup(), **CONFIG),  # type: ignore[arg-type]
        evaluate_configuration(_setup(gemm_precision="fp8"), **CONFIG),  # type: ignore[arg-type]
    )


def test_fp8_compute_is_faster_but_not_twice_as_fast(pair) -> None:
    bf16, fp8 = pair
    ratio = bf16.time_breakdown["compute_s"] / fp8.time_breakdown["compute_s"]
    assert 1.2 < ratio < 2.0  # GEMMs at twice the peak; attention, casts and the rest stay in bf16


def test_mfu_is_taken_against_the_peak_of_the_gemms_precision(pair) -> None:
    bf16, fp8 = pair
    device = load_cluster("dgx-h100", 8).device
    for plan, dtype in ((bf16, "bf16"), (fp8, "fp8")):
        assert plan.mfu == pytest.approx(plan.model_tflops_per_device * 1e12 / device.peak(dtype))
    assert fp8.model_tflops_per_device > bf16.model_tflops_per_device and fp8.mfu < bf16.mfu


def test_fp8_weights_add_the_cache_and_activations_shrink_by_the_gemm_inputs(pair) -> None:
    bf16, fp8 = pair
    cfg = load_llm("llama-2-70b")
    cache = float(weight_cache_bytes(cfg, 4, 4))
    assert fp8.memory_breakdown["weights"] == pytest.approx(bf16.memory_breakdown["weights"] + cache)
    for part in ("gradients", "optimizer_state"):  # master weights and states: bf16 mixed precision's
        assert fp8.memory_breakdown[part] == bf16.memory_breakdown[part]
    assert fp8.memory_breakdown["activations"] < bf16.memory_breakdown["activations"]
    assert "fp8_weight_cast_s" in fp8.time_breakdown and "fp8_weight_cast_s" not in bf16.time_breakdown


def test_full_recomputation_keeps_only_the_layer_input_so_fp8_saves_no_activations() -> None:
    config = {**CONFIG, "recompute": "full"}
    bf16 = evaluate_configuration(_setup(), **config)  # type: ignore[arg-type]
    fp8 = evaluate_configuration(_setup(gemm_precision="fp8"), **config)  # type: ignore[arg-type]
    assert fp8.memory_breakdown["activations"] == bf16.memory_breakdown["activations"]


def test_gemm_weights_are_the_layers_attention_and_ffn_split_by_p_t_and_experts_by_e() -> None:
    dense = load_llm("llama-2-70b")
    whole = dense.num_layers * (attention_parameters(dense) + ffn_parameters(dense))
    assert float(gemm_weight_parameters(dense, 4, 2)) == pytest.approx(whole / 8)
    moe = load_llm("mixtral-8x7b")
    routed = expert_parameters(moe)
    every = moe.num_layers * (attention_parameters(moe) + ffn_parameters(moe))
    assert float(gemm_weight_parameters(moe, 1, 1, 8)) == pytest.approx(every - routed + routed / 8)
    h = dense.hidden_size
    assert saved_activation_saving(dense) == (
        2.0 * h,
        float(dense.num_heads * dense.head_size + dense.ffn_size),
    )


def test_a_device_without_fp8_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="a100-sxm4-80gb lists no fp8 peak"):
        TrainingSetup(load_llm("llama-2-7b"), load_cluster("dgx-a100"), 64, 2048, gemm_precision="fp8")
    with pytest.raises(ValueError, match="GEMM precision must be one of fp8"):
        _setup(gemm_precision="int4")


def test_cli_fp8_plan_reports_the_setting_and_refuses_a100_in_one_line(run_cli) -> None:
    args = ("llm-parallel", "llama-2-7b", "--global-batch", "64", "--seq-len", "2048")
    result = run_cli(
        *args, "--cluster", "dgx-h100", "--servers", "1", "--gemm-precision", "fp8", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["inputs"]["gemm_precision"] == "fp8"
    refused = run_cli(*args, "--cluster", "dgx-a100", "--gemm-precision", "fp8")
    assert refused.exit_code == 2
    assert "--gemm-precision" in refused.stderr and "a100-sxm4-80gb lists no fp8 peak" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
