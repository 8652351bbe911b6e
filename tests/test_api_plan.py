"""The API of `plan`, `pipeline partition` and `export` (planner.api.plan, .partition, .export,
.export_plan): the same answer as the CLI's `--format json` on the same inputs, settings named in the API
and options on the command line, and `plan --export` writing exactly the plan it recommends."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from api_payloads import api_json as _plain
from api_payloads import assert_setting_named
from api_payloads import cli_json as _json

from planner.api.export import (
    DPExportOptions,
    LLMExportOptions,
    PipelineExportOptions,
    export_dp,
    export_llm,
    export_pipeline,
)
from planner.api.export_plan import export_plan
from planner.api.llm import LLMOptions
from planner.api.partition import PartitionOptions, pipeline_partition
from planner.api.plan import PlanOptions, plan_llm, plan_strategies
from planner.errors import InfeasibleError, SettingError
from planner.export import NotExpressible

A = "pipedream-cluster-a"


@pytest.fixture
def graph(shared_dir: Path) -> str:
    """PipeDream's measured VGG-16 (a graph.txt: its minibatch is not stated)."""
    return str(shared_dir / "profiles" / "pipedream" / "vgg16.graph.txt")


# ---------------------------------------------------------------------------------------------- plan


@pytest.mark.parametrize(
    ("model", "options", "argv"),
    [
        ("vgg16", PlanOptions(), ""),
        (
            "alexnet",
            PlanOptions(servers=1, batch=64, optimizer="adam", objective="latency", sensitivity=True),
            "--servers 1 --batch 64 --optimizer adam --objective latency --sensitivity",
        ),
    ],
)
def test_plan_api_equals_cli(run_cli: Any, model: str, options: PlanOptions, argv: str) -> None:
    expected = _json(run_cli, "plan", model, "--cluster", A, *argv.split())
    assert _plain(plan_strategies(model, A, options)) == expected


def test_plan_of_a_profile_equals_cli(run_cli: Any, graph: str) -> None:
    expected = _json(run_cli, "plan", graph, "--cluster", A, "--servers", "1", "--profile-batch", "64")
    assert _plain(plan_strategies(graph, A, PlanOptions(servers=1, profile_batch=64))) == expected


def test_plan_of_an_llm_equals_cli(run_cli: Any) -> None:
    argv = ("plan", "gpt2", "--cluster", "dgx-a100", "--servers", "1", "--global-batch", "16", "--top", "3")
    options = LLMOptions(global_batch=16, servers=1, top=3)
    assert _plain(plan_llm("gpt2", "dgx-a100", options)) == _json(run_cli, *argv)


def test_plan_exits_1_when_no_strategy_fits(run_cli: Any) -> None:
    # issue 14: `plan --batch 100000` printed "no strategy fits" and exited 0
    with pytest.raises(InfeasibleError, match="no strategy fits") as caught:
        plan_strategies("vgg16", A, PlanOptions(batch=100_000))
    assert "--" not in str(caught.value)
    result = run_cli("plan", "--batch", "100000")
    assert result.exit_code == 1 and "no strategy fits" in result.stderr and result.stdout == ""


# ------------------------------------------------------------------------------------------ partition


@pytest.mark.parametrize(
    ("cluster", "options", "argv"),
    [
        (A, PartitionOptions(), "--cluster pipedream-cluster-a"),
        (
            None,
            PartitionOptions(
                levels=((2, 10e9), (2, 1e9)),
                cost_model="pipedream",
                straight=True,
                memory=8e9,
                activation_compression=8.0,
                use_fewer_machines=True,
            ),
            "--levels 2:10GB/s,2:1GB/s --cost-model pipedream --straight --memory 8GB "
            "--activation-compression 8 --use-fewer-machines",
        ),
    ],
)
def test_partition_api_equals_cli(
    run_cli: Any, graph: str, cluster: str | None, options: PartitionOptions, argv: str
) -> None:
    expected = _json(run_cli, "pipeline", "partition", graph, *argv.split())
    assert _plain(pipeline_partition(graph, cluster, options)) == expected


def test_partition_of_a_cnn_equals_cli_and_is_timed_as_plan_times_it(run_cli: Any) -> None:
    options = PartitionOptions(servers=1, batch=64, memory=12 * 2**30)
    argv = ("--cluster", A, "--servers", "1", "--batch", "64", "--memory", "12GiB")
    found = pipeline_partition("alexnet", A, options)
    assert _plain(found) == _json(run_cli, "pipeline", "partition", "alexnet", *argv)
    assert found.batch == 64 and not found.measured


# ---------------------------------------------------------------------------------------------- export


@pytest.mark.parametrize(
    ("to", "options", "argv"),
    [
        ("torch", PipelineExportOptions(servers=1, straight=True), "--servers 1 --straight"),
        ("deepspeed", PipelineExportOptions(servers=1, microbatches=8), "--servers 1 --microbatches 8"),
    ],
)
def test_export_pipeline_api_equals_cli(
    run_cli: Any, to: str, options: PipelineExportOptions, argv: str
) -> None:
    expected = _json(run_cli, "export", "pipeline", "vgg16", "--cluster", A, "--to", to, *argv.split())
    assert _plain(export_pipeline("vgg16", A, to, options)) == expected


@pytest.mark.parametrize(
    ("options", "argv"),
    [
        (DPExportOptions(), ""),
        (
            DPExportOptions(servers=2, batch=16, dtype="fp16", zero=2),
            "--servers 2 --batch 16 --dtype fp16 --zero 2",
        ),
    ],
)
def test_export_dp_api_equals_cli(run_cli: Any, options: DPExportOptions, argv: str) -> None:
    expected = _json(run_cli, "export", "dp", "resnet18", "--cluster", A, *argv.split())
    assert _plain(export_dp("resnet18", A, "deepspeed", options)) == expected


LLM = ("export", "llm", "gpt2", "--cluster", "dgx-a100", "--servers", "1", "--global-batch", "16")


@pytest.mark.parametrize(
    ("to", "options", "argv"),
    [
        ("megatron", LLMExportOptions(global_batch=16, servers=1), ""),
        ("deepspeed", LLMExportOptions(global_batch=16, servers=1, rank=2, zero=1), "--rank 2 --zero 1"),
    ],
)
def test_export_llm_api_equals_cli(run_cli: Any, to: str, options: LLMExportOptions, argv: str) -> None:
    expected = _json(run_cli, *LLM, "--to", to, *argv.split())
    assert _plain(export_llm("gpt2", "dgx-a100", to, options)) == expected


# ------------------------------------------------------------------------------------- plan --export


def test_plan_export_torch_writes_the_split_spec_of_export_pipeline(run_cli: Any, tmp_path: Path) -> None:
    # issue 14: `plan … --export torch FILE` exports exactly the recommended plan (PipeDream 9-6-1 on
    # cluster A since issue 16 charges cut transfers on the links the replicas use), the same split points
    # `export pipeline --to torch` gives for the same question
    target = tmp_path / "split_spec.py"
    planned = run_cli("plan", "vgg16", "--cluster", A, "--export", "torch", str(target))
    assert planned.exit_code == 0, planned.stderr
    exported = run_cli("export", "pipeline", "vgg16", "--cluster", A, "--to", "torch")
    assert target.read_text(encoding="utf-8") == exported.stdout
    assert exported.stdout.count("SplitPoint.BEGINNING") == 2  # 9-6-1: two split points
    assert '"conv4_1": SplitPoint.BEGINNING' in exported.stdout
    again = run_cli("plan", "vgg16", "--cluster", A, "--export", "torch", str(target))
    assert again.exit_code == 2 and "--force" in again.stderr


def test_plan_export_of_a_pipeline_is_its_own_partition() -> None:
    result = plan_strategies("vgg16", A, PlanOptions())
    exported = export_plan(result, "pipedream")
    assert exported.to_dict()["stage_to_num_ranks_map"] == "0:9,1:6,2:1"
    assert exported.to_dict()["strategy"] == result.winner.name == "PipeDream pipeline"
    with pytest.raises(SettingError, match="field 'export'"):
        export_plan(result, "megatron")  # an LLM's engine


def _only(result: Any, family: str) -> Any:
    """The plan as if `family` had won: the other strategies left out."""
    kept = tuple(s for s in result.comparison.strategies if s.family == family)
    return replace(result, comparison=replace(result.comparison, strategies=kept))


def test_plan_export_of_data_parallelism_is_the_dp_config() -> None:
    result = _only(plan_strategies("resnet18", A, PlanOptions(servers=2)), "data-parallel")
    exported = export_plan(result, "deepspeed").to_dict()
    expected = export_dp("resnet18", A, "deepspeed", DPExportOptions(servers=2)).to_dict()
    assert exported["config"] == expected["config"]
    assert exported["config"]["train_batch_size"] == 32 * 8
    with pytest.raises(NotExpressible, match="no pipeline split"):
        export_plan(result, "torch")


@pytest.mark.parametrize("family", ["gpipe", "1f1b"])
def test_plan_export_of_a_synchronous_pipeline_names_its_schedule(family: str) -> None:
    result = _only(plan_strategies("vgg16", A, PlanOptions(servers=1)), family)
    winner = result.winner
    exported = export_plan(result, "torch").to_dict()
    assert len(exported["split_spec"]) == exported["num_stages"] - 1 == winner.devices - 1
    count = round(winner.samples_per_iteration / winner.breakdown["micro_batch"])
    assert any(f"n_microbatches={count})" in note for note in exported["notes"])
    with pytest.raises(NotExpressible, match="PipeDream's runtime"):
        export_plan(result, "pipedream")


def test_plan_export_of_an_llm_is_export_llm_of_its_best_plan(run_cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "megatron.txt"
    argv = ("gpt2", "--cluster", "dgx-a100", "--servers", "1", "--global-batch", "16")
    planned = run_cli("plan", *argv, "--export", "megatron", str(target))
    assert planned.exit_code == 0, planned.stderr
    exported = run_cli("export", "llm", *argv, "--to", "megatron")
    assert target.read_text(encoding="utf-8") == exported.stdout
    refused = run_cli("plan", *argv, "--export", "torch", str(tmp_path / "x.py"))
    assert refused.exit_code == 2 and refused.stderr.startswith("error: --export: ")


# ------------------------------------------------------------------------------------------ settings


def _partition(**settings: Any) -> Any:
    return lambda: pipeline_partition("vgg16", A, PartitionOptions(**settings))


P = ("pipeline", "partition", "vgg16", "--cluster", A)
E = ("export", "pipeline", "vgg16", "--cluster", A)


@pytest.mark.parametrize(
    ("call", "setting", "argv"),
    [
        (_partition(cost_model="exact"), "cost_model", (*P, "--cost-model", "exact")),
        (
            _partition(activation_compression=0.0),
            "activation_compression",
            (*P, "--activation-compression", "0"),
        ),
        (_partition(memory=2.0**61), "memory", (*P, "--memory", "2048PiB")),
        (_partition(batch=0), "batch", (*P, "--batch", "0")),
        (
            lambda: plan_strategies("vgg16", A, PlanOptions(objective="cost")),
            "objective",
            ("plan", "--objective", "cost"),
        ),
        (
            lambda: export_pipeline("vgg16", A, "torch", PipelineExportOptions(microbatches=8)),
            "microbatches",
            (*E, "--to", "torch", "--microbatches", "8"),
        ),
        (lambda: export_pipeline("vgg16", A, "onnx", PipelineExportOptions()), "to", (*E, "--to", "onnx")),
        (
            lambda: export_dp("vgg16", A, "deepspeed", DPExportOptions(zero=5)),
            "zero",
            ("export", "dp", "vgg16", "--cluster", A, "--zero", "5"),
        ),
        (
            lambda: export_llm("gpt2", "dgx-a100", "megatron", LLMExportOptions(global_batch=16, rank=0)),
            "rank",
            (*LLM, "--to", "megatron", "--rank", "0"),
        ),
    ],
)
def test_a_bad_setting_is_named_as_the_setting_in_the_api_and_as_the_option_in_the_cli(
    run_cli: Any, call: Any, setting: str, argv: tuple[str, ...]
) -> None:
    assert_setting_named(run_cli, call, setting, argv)


def test_partition_needs_exactly_one_of_cluster_and_levels() -> None:
    with pytest.raises(SettingError, match="field 'cluster': exactly one of `cluster`"):
        pipeline_partition("vgg16", None, PartitionOptions())
    with pytest.raises(SettingError, match="field 'levels'"):  # the roofline needs a device
        pipeline_partition("vgg16", None, PartitionOptions(levels=((4, 10e9),)))


def test_a_json_export_is_the_whole_result(run_cli: Any) -> None:
    result = run_cli("export", "dp", "resnet18", "--cluster", A, "-f", "json")
    payload = json.loads(result.stdout)
    assert json.loads(payload["artifact"]) == payload["config"]
