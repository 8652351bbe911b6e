"""fp8 training and expert parallelism reachable from `planner plan` and the exports (issue 20): plan takes
--gemm-precision, --expert-parallel and --capacity-factor for an LLM (refused for a CNN); the Megatron-LM
export emits Transformer Engine's fp8 flags, the DeepSpeed export says where fp8 goes."""

from __future__ import annotations

import json
from typing import Any

from planner.api.export import LLMExportOptions, export_llm

PLAN_7B = ("plan", "llama-2-7b", "--cluster", "dgx-h100", "--servers", "1", "--format", "json")
FP8_FLAGS = ("--fp8-format hybrid", "--fp8-amax-history-len 1024", "--fp8-amax-compute-algo max")


def _plan(run_cli: Any, *extra: str) -> dict[str, Any]:
    done = run_cli(*PLAN_7B, *extra)
    assert done.exit_code == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_plan_takes_fp8_and_it_is_faster(run_cli: Any) -> None:
    bf16, fp8 = _plan(run_cli), _plan(run_cli, "--gemm-precision", "fp8")
    assert fp8["inputs"]["gemm_precision"] == "fp8" and "gemm_precision" not in bf16["inputs"]
    best = [payload["search"]["plans"][0]["time_per_iteration_s"] for payload in (fp8, bf16)]
    assert best[0] < best[1]


def test_plan_pins_expert_parallelism_for_a_mixture_of_experts(run_cli: Any) -> None:
    args = ("plan", "mixtral-8x7b", "--cluster", "dgx-h100", "--servers", "8", "--global-batch", "256")
    done = run_cli(*args, "--seq-len", "4096", "--expert-parallel", "4", "--format", "json")
    assert done.exit_code == 0, done.stderr
    assert {p["expert_parallel"] for p in json.loads(done.stdout)["search"]["plans"]} == {4}


def test_plan_refuses_llm_settings_for_a_cnn(run_cli: Any) -> None:
    for option, value in (("--gemm-precision", "fp8"), ("--expert-parallel", "2")):
        done = run_cli("plan", "vgg16", option, value)
        assert done.exit_code == 2 and option in done.stderr and len(done.stderr.splitlines()) == 1


def test_megatron_export_emits_the_fp8_flags_only_for_an_fp8_plan() -> None:
    options = LLMExportOptions(servers=1, global_batch=64)
    fp8 = export_llm(
        "llama-2-7b",
        "dgx-h100",
        "megatron",
        LLMExportOptions(servers=1, global_batch=64, gemm_precision="fp8"),
    )
    artifact = str(fp8.fields["artifact"])
    assert all(flag in artifact for flag in FP8_FLAGS) and "--bf16" in artifact
    assert "--fp8" not in str(export_llm("llama-2-7b", "dgx-h100", "megatron", options).fields["artifact"])


def test_deepspeed_export_says_where_fp8_goes() -> None:
    options = LLMExportOptions(servers=1, global_batch=64, gemm_precision="fp8")
    notes = export_llm("llama-2-7b", "dgx-h100", "deepspeed", options).fields["notes"]
    assert any("fp8_autocast" in note for note in notes)
