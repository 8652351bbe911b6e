"""`planner llm-parallel`: search and single-configuration output, exit codes for bad input and no plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BASE = ("llm-parallel", "llama-2-70b", "--cluster", "dgx-h100", "--servers", "8", "--global-batch", "512")


def test_search_json_lists_ranked_feasible_plans(run_cli) -> None:
    result = run_cli(*BASE, "--seq-len", "4096", "--top", "5", "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["mode"] == "search" and payload["inputs"]["devices"] == 64
    plans = payload["search"]["plans"]
    assert len(plans) == 5
    assert [p["time_per_iteration_s"] for p in plans] == sorted(p["time_per_iteration_s"] for p in plans)
    for plan in plans:
        assert plan["feasible"] and plan["memory_per_device_bytes"] < 80 * 2**30
        product = plan["tensor_parallel"] * plan["pipeline_parallel"] * plan["data_parallel"]
        assert product == 64
    assert set(payload["search"]["rejected"]) == {"divisibility", "batch", "memory"}


def test_table_output_names_the_best_plan(run_cli) -> None:
    result = run_cli(*BASE, "--top", "3")
    assert result.exit_code == 0, result.stderr
    assert "feasible plans" in result.stdout and "Rejected candidates" in result.stdout
    assert "best: t=" in result.stdout


def test_one_configuration_reports_the_lead_keys(run_cli) -> None:
    args = (
        "llm-parallel",
        "gpt3-175b",
        "--cluster",
        "dgx-a100",
        "--servers",
        "128",
        "--global-batch",
        "1536",
    )
    result = run_cli(
        *args, "--seq-len", "2048", "-t", "8", "-p", "8", "-d", "16", "-b", "1", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)["plan"]
    for key in ("time_per_iteration_s", "tflops_per_device", "memory_per_device_bytes", "feasible"):
        assert key in plan
    assert plan["feasible"] is True and plan["microbatches"] == 96
    # interleave, recompute and ZeRO not given: chosen as the search chooses them for t, p, d, b (issue 14)
    chosen = json.loads(result.stdout)["chosen_by_search"]
    assert chosen == ["interleave", "recompute", "zero"]
    found = run_cli(*args, "--seq-len", "2048", "-t", "8", "-p", "8", "--microbatch", "1", "--top", "1")
    best = "best: t=8 p=8 d=16 b=1 v={interleave} recompute={recompute} ZeRO-{zero_stage}".format(**plan)
    assert found.exit_code == 0 and best in " ".join(found.stdout.split())
    given = run_cli(*args, "-t", "8", "-p", "8", "-d", "16", "-b", "1", "--recompute", "full", "-f", "json")
    assert json.loads(given.stdout)["plan"]["recompute"] == "full"
    assert json.loads(given.stdout)["chosen_by_search"] == ["interleave", "zero"]
    table = run_cli(*args, "-t", "8", "-p", "8", "-d", "16", "-b", "5")
    assert table.exit_code == 0
    assert "NOT FEASIBLE" in table.stdout and "why not: global batch 1536" in table.stdout


def test_a_hugging_face_config_is_a_model(run_cli, tmp_path: Path) -> None:
    config = {
        "model_type": "gpt2",
        "n_embd": 768,
        "n_head": 12,
        "n_layer": 12,
        "n_positions": 1024,
        "vocab_size": 50257,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    result = run_cli(
        "llm-parallel", str(path), "--cluster", "dgx-h100", "--servers", "1", "--global-batch", "64"
    )
    assert result.exit_code == 0, result.stderr


def test_no_feasible_plan_exits_1(run_cli) -> None:
    result = run_cli(
        "llm-parallel", "gpt3-175b", "--cluster", "dgx-h100", "--servers", "1", "--global-batch", "64"
    )
    assert result.exit_code == 1
    assert "no feasible plan for gpt3-175b on 8 x h100-sxm5-80gb" in result.stderr
    assert "on memory" in result.stderr and "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--global-batch", "0"), "--global-batch"),
        (("--recompute", "some"), "--recompute: field 'recompute': one of none, selective, full"),
        (("--zero", "4"), "--zero"),
        (("--dtype", "int8"), "--dtype"),
        (("-d", "8"), "missing: --tensor-parallel, --pipeline-parallel, --microbatch"),
        (("-t", "8", "-p", "8", "-d", "2", "-b", "1"), "at most the cluster's 64 devices"),
        (("--seq-len", "8192"), "--seq-len"),
        (("--servers", "0"), "--servers"),
    ],
)
def test_bad_input_exits_2(run_cli, extra: tuple[str, ...], message: str) -> None:
    result = run_cli(*BASE, *extra)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("t5-small", "decoder-only"),
        ("resnet50", "an LLM config"),
        ("no-such-model", "no profile or cnn or llm"),
    ],
)
def test_models_the_planner_cannot_plan_exit_2(run_cli, model: str, message: str) -> None:
    result = run_cli("llm-parallel", model, "--cluster", "dgx-h100", "--global-batch", "8")
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
