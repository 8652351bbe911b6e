"""`planner export`: the engine's text on stdout, JSON payloads that add up, refusals, bad input, --output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.api.training import DEFAULT_CNN_BATCH
from planner.cost.layers import derive_profile
from planner.spec.catalog import find

VGG = ("vgg16", "--cluster", "pipedream-cluster-a")


def vgg_layer_names() -> list[str]:
    return [layer.name for layer in derive_profile(find("models", "vgg16"), 1).layers]


def test_torch_split_spec_names_exist_and_count_stages_minus_one(run_cli) -> None:
    result = run_cli(
        "export", "pipeline", *VGG, "--servers", "1", "--straight", "--to", "torch", "-f", "json"
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["num_stages"] == 4 and payload["pipeline_config"] == "straight"
    assert len(payload["split_spec"]) == payload["num_stages"] - 1
    assert set(payload["split_spec"]) <= set(vgg_layer_names())
    assert all(point == "BEGINNING" for point in payload["split_spec"].values())
    text = run_cli("export", "pipeline", *VGG, "--servers", "1", "--straight", "--to", "torch")
    assert text.exit_code == 0
    assert "from torch.distributed.pipelining import SplitPoint, pipeline" in text.stdout
    assert text.stdout.count("SplitPoint.BEGINNING,") == 3
    compile(text.stdout, "split_spec.py", "exec")  # the snippet is valid Python


def test_pipedream_map_on_a_graph_covers_every_node(run_cli, shared_dir: Path) -> None:
    graph = shared_dir / "profiles" / "pipedream" / "resnet50.graph.txt"
    args = ("export", "pipeline", str(graph), "--levels", "4:10GB/s,2:1.25GB/s", "--cost-model", "pipedream")
    result = run_cli(*args, "--to", "pipedream", "-f", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    pairs = [item.split(":") for item in payload["stage_to_num_ranks_map"].split(",")]
    assert [int(stage) for stage, _ in pairs] == list(range(payload["num_stages"]))
    assert sum(int(ranks) for _, ranks in pairs) == payload["devices_used"] == payload["ranks"]
    nodes = {line.split(" -- ")[0] for line in graph.read_text().splitlines() if line.startswith("node")}
    assert set(payload["node_stages"]) == nodes
    text = run_cli(*args, "--to", "pipedream")
    assert text.stdout == payload["stage_to_num_ranks_map"] + "\n"


def test_deepspeed_refuses_a_split_that_is_not_uniform(run_cli) -> None:
    result = run_cli("export", "pipeline", *VGG, "--servers", "1", "--straight", "--to", "deepspeed")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "cannot be expressed" in result.stderr and "'uniform' (10, 10, 10, 10)" in result.stderr
    assert "Traceback" not in result.stderr


def test_deepspeed_pipeline_of_one_replicated_stage_adds_up(run_cli) -> None:
    result = run_cli("export", "pipeline", *VGG, "--servers", "1", "--to", "deepspeed", "-f", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    config = payload["config"]
    assert payload["config"] == json.loads(payload["artifact"])
    # the plan's minibatch: the training default of every command (it was 128 in pipeline partition)
    assert config["train_micro_batch_size_per_gpu"] == DEFAULT_CNN_BATCH == 32
    assert payload["pipeline_module"] == {"num_stages": 1, "partition_method": "parameters"}
    assert config["gradient_accumulation_steps"] == 4  # GPipe's M >= 4K for one stage
    assert (
        config["train_batch_size"]
        == 32 * config["gradient_accumulation_steps"] * payload["data_parallel_size"]
    )


def test_dp_config_adds_up(run_cli) -> None:
    result = run_cli("export", "dp", *VGG, "--zero", "2", "--dtype", "fp16", "-f", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    config = json.loads(payload["artifact"])
    assert (
        config["train_batch_size"]
        == 32 * 1 * 16
        == payload["devices"] * config["train_micro_batch_size_per_gpu"]
    )
    assert config["zero_optimization"]["stage"] == 2 and config["fp16"] == {"enabled": True}
    uneven = run_cli("export", "dp", *VGG, "--batch", "100", "--global-batch")
    assert uneven.exit_code == 1 and "uneven" in uneven.stderr


LLM = ("export", "llm", "llama-2-7b", "--cluster", "dgx-a100", "--servers", "2", "--global-batch", "64")


def test_llm_megatron_arguments_and_deepspeed_config(run_cli) -> None:
    given = (
        "-t",
        "2",
        "-p",
        "4",
        "-d",
        "2",
        "-b",
        "2",
        "--interleave",
        "2",
        "--zero",
        "1",
        "--seq-len",
        "1024",
    )
    megatron = run_cli(*LLM, *given, "--to", "megatron")
    assert megatron.exit_code == 0, megatron.stderr
    assert "--tensor-model-parallel-size 2 \\\n--pipeline-model-parallel-size 4 \\\n" in megatron.stdout
    assert "--num-layers-per-virtual-pipeline-stage 4 \\" in megatron.stdout  # 32 layers / (4 · 2)
    assert "--use-distributed-optimizer \\" in megatron.stdout
    refused = run_cli(*LLM, *given, "--to", "deepspeed")
    assert refused.exit_code == 1 and "one chunk per stage" in refused.stderr
    searched = run_cli(*LLM, "--seq-len", "1024", "--to", "deepspeed", "--rank", "2", "-f", "json")
    assert searched.exit_code == 0, searched.stderr
    payload = json.loads(searched.stdout)
    config = payload["config"]
    assert (
        config["train_batch_size"]
        == 64
        == (
            config["train_micro_batch_size_per_gpu"]
            * config["gradient_accumulation_steps"]
            * payload["data_parallel_size"]
        )
    )
    assert payload["plan"]["data_parallel"] == payload["data_parallel_size"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("export", "pipeline", *VGG, "--to", "onnx"), "--to"),
        (("export", "pipeline", *VGG, "--to", "torch", "--microbatches", "8"), "--microbatches"),
        (("export", "dp", *VGG, "--zero", "5"), "--zero"),
        (("export", "dp", *VGG, "--to", "megatron"), "--to"),
        ((*LLM, "--to", "megatron", "--rank", "0"), "--rank"),
        ((*LLM, "--to", "torch"), "--to"),
    ],
)
def test_bad_input_exits_2_naming_the_option(run_cli, args: tuple[str, ...], option: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert option in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_output_is_never_overwritten_without_force(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "ds_config.json"
    first = run_cli("export", "dp", *VGG, "--output", str(target))
    assert first.exit_code == 0, first.stderr
    assert first.stdout == ""
    written = json.loads(target.read_text())
    assert written["train_batch_size"] == 512
    target.write_text("keep me")
    again = run_cli("export", "dp", *VGG, "--zero", "1", "--output", str(target))
    assert again.exit_code == 2 and "--force" in again.stderr
    assert target.read_text() == "keep me"
    forced = run_cli("export", "dp", *VGG, "--zero", "1", "--output", str(target), "--force")
    assert forced.exit_code == 0
    assert json.loads(target.read_text())["zero_optimization"]["stage"] == 1
