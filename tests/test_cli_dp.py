"""`planner dp`: the plan, its JSON, the real all-reduce models, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.units import format_quantity


def _json(run_cli, *args: str) -> dict[str, Any]:
    result = run_cli("dp", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def vgg_plan() -> dict[str, Any]:
    from planner.api.dp import DPOptions, data_parallel
    from planner.render import OutputFormat, dumps

    payload = data_parallel("vgg16", "pipedream-cluster-b", DPOptions(servers=2)).to_dict()
    return json.loads(dumps(payload, OutputFormat.json))


def test_done_when_vgg16_on_cluster_b_prints_a_plan_with_the_json_numbers(run_cli, vgg_plan) -> None:
    result = run_cli("dp", "vgg16", "--cluster", "pipedream-cluster-b", "--servers", "2", "--plot")
    assert result.exit_code == 0, result.stderr
    plan = vgg_plan["plan"]
    assert plan["devices"] == 16 and plan["servers"] == 2
    assert plan["batch_per_device"] == 32 and plan["global_batch"] == 512
    terms = ("forward_s", "backward_s", "contention_s", "sync_total_s", "sync_exposed_s", "update_s")
    for key in (*terms, "iteration_s"):
        assert format_quantity(plan[key], "time") in result.stdout, key
    assert f"{plan['throughput_samples_per_s']:,.1f} samples/s" in result.stdout
    assert f"{plan['speedup']:.3f}x" in result.stdout
    assert f"{plan['scaling_efficiency'] * 100:.1f}%" in result.stdout
    assert plan["algorithm"] in result.stdout
    assert plan["reason"].split(";")[0] in result.stdout.replace("\n", " ")
    assert "speed-up against devices" in result.stdout
    assert "Williams et al. 2009" in result.stdout  # the notes say how compute was obtained
    # the breakdown adds up, and the chosen algorithm is the fastest
    assert plan["iteration_s"] == pytest.approx(
        plan["forward_s"]
        + plan["backward_s"]
        + plan["contention_s"]
        + plan["sync_exposed_s"]
        + plan["update_s"]
    )
    assert plan["contention_s"] > 0  # the all-reduce overlapping the backward pass slows it
    options = [o for o in vgg_plan["algorithms"] if not o["error"]]
    assert {o["algorithm"] for o in options} >= {"ring", "tree", "hierarchical"}
    assert plan["iteration_s"] == min(o["iteration_s"] for o in options)
    for option in options:
        assert option["gradient_allreduce_s"] >= option["gradient_lower_bound_s"] * (1 - 1e-12)


def test_scaling_tables_are_consistent(vgg_plan) -> None:
    weak, strong = vgg_plan["scaling"]["weak"], vgg_plan["scaling"]["strong"]
    assert [r["devices"] for r in weak] == [1, 2, 4, 8, 16]
    assert weak[-1]["iteration_s"] == vgg_plan["plan"]["iteration_s"]
    assert weak[0]["sync_total_s"] == 0 and weak[0]["speedup"] == 1
    for row in weak + strong:
        assert row["speedup"] <= row["devices"] * (1 + 1e-12)
        assert row["scaling_efficiency"] <= 1 + 1e-12
    assert all(r["global_batch"] == 512 for r in strong)
    price = vgg_plan["inputs"]["price_usd_per_server_hour"]
    row = weak[-1]
    assert row["cost_per_iteration_usd"] == pytest.approx(row["servers"] * price * row["iteration_s"] / 3600)


def test_memory_in_json(vgg_plan) -> None:
    memory = vgg_plan["memory"]
    assert memory["parameters"] == 138_357_544
    assert memory["weights_bytes"] == memory["gradients_bytes"] == memory["optimizer_state_bytes"]
    assert memory["total_bytes"] <= memory["device_memory_bytes"]


def test_one_device_has_no_sync(run_cli) -> None:
    plan = _json(run_cli, "resnet50", "--cluster", "pipedream-cluster-b", "--devices", "1")["plan"]
    assert plan["sync_total_s"] == 0 and plan["sync_exposed_s"] == 0
    assert plan["algorithm"] == "none" and plan["speedup"] == 1


def test_overlap_is_never_slower_than_no_overlap(run_cli) -> None:
    args = ("resnet50", "--cluster", "pipedream-cluster-a", "--algorithm", "ring")
    on = _json(run_cli, *args)["plan"]
    off = _json(run_cli, *args, "--no-overlap")["plan"]
    assert on["iteration_s"] <= off["iteration_s"]
    assert off["sync_exposed_s"] == pytest.approx(off["sync_total_s"])
    assert on["sync_total_s"] == pytest.approx(off["sync_total_s"])


def test_mixed_precision_halves_the_gradient_and_adds_master_weights(run_cli) -> None:
    fp32 = _json(run_cli, "resnet50", "--cluster", "dgx-h100", "--servers", "1", "--algorithm", "ring")
    bf16 = _json(
        run_cli,
        "resnet50",
        "--cluster",
        "dgx-h100",
        "--servers",
        "1",
        "--algorithm",
        "ring",
        "--dtype",
        "bf16",
    )
    assert bf16["plan"]["gradient_bytes"] == fp32["plan"]["gradient_bytes"] / 2
    assert bf16["memory"]["master_weights_bytes"] == 25_557_032 * 4
    assert bf16["plan"]["compute_s"] < fp32["plan"]["compute_s"]


def test_strong_scaling_epochs_and_cost(run_cli) -> None:
    payload = _json(
        run_cli,
        "resnet50",
        "--cluster",
        "pipedream-cluster-b",
        "--batch",
        "1000",
        "--global-batch",
        "--epochs",
        "90",
    )
    plan = payload["plan"]
    assert payload["inputs"]["strong_scaling"] is True
    assert plan["batch_per_device"] == 63 and plan["global_batch"] == 1000  # ceil(1000 / 16)
    assert plan["iterations_per_epoch"] == 1282
    assert plan["time_to_train_s"] == pytest.approx(90 * 1282 * plan["iteration_s"])
    assert plan["cost_to_train_usd"] == pytest.approx(90 * plan["cost_per_epoch_usd"])
    no_price = _json(run_cli, "resnet50", "--cluster", "big-basin", "--servers", "2")["plan"]
    assert no_price["cost_per_epoch_usd"] is None


def test_model_that_does_not_fit_exits_1(run_cli) -> None:
    result = run_cli("dp", "vgg16", "--cluster", "pipedream-cluster-b", "--batch", "256")
    assert result.exit_code == 1
    assert "does not fit" in result.stderr
    assert "v100-sxm2-16gb has 16.00 GiB" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_pipedream_profile_batch(run_cli, shared_dir: Path) -> None:
    graph = str(shared_dir / "profiles" / "pipedream" / "vgg16.graph.txt")
    missing = run_cli("dp", graph, "--cluster", "pipedream-cluster-b")
    assert missing.exit_code == 2 and "--profile-batch" in missing.stderr
    as_is = _json(run_cli, graph, "--cluster", "pipedream-cluster-b", "--batch", "64")
    assert as_is["inputs"]["profile_batch"] == 64 and as_is["inputs"]["work"] == "measured times"
    scaled = _json(
        run_cli, graph, "--cluster", "pipedream-cluster-b", "--profile-batch", "128", "--batch", "64"
    )
    # the same measured times, read as 128 samples and scaled to 64: half the compute
    assert scaled["plan"]["forward_s"] == pytest.approx(as_is["plan"]["forward_s"] / 2)
    fp16 = run_cli("dp", graph, "--cluster", "pipedream-cluster-b", "--batch", "64", "--dtype", "fp16")
    assert fp16.exit_code == 2 and "measured in" in fp16.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--devices", "0"), "--devices"),
        (("--servers", "0"), "--servers"),
        (("--devices", "99"), "--devices"),
        (("--batch", "-4"), "--batch"),
        (("--batch", "8", "--global-batch"), "--batch"),
        (("--dtype", "fp8"), "--dtype"),
        (("--optimizer", "lamb"), "--optimizer"),
        (("--algorithm", "butterfly"), "--algorithm"),
        (("--bucket", "25"), "--bucket"),
        (("--bucket", "0 MiB"), "--bucket"),
        (("--epochs", "-1"), "--epochs"),
    ],
)
def test_bad_input_exits_2(run_cli, args: tuple[str, ...], option: str) -> None:
    result = run_cli("dp", "vgg16", "--cluster", "pipedream-cluster-b", *args)
    assert result.exit_code == 2, result.stdout
    assert option in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_model_and_dtype_for_the_device(run_cli) -> None:
    llm = run_cli("dp", "gpt2", "--cluster", "pipedream-cluster-b")
    assert llm.exit_code == 2 and "llm" in llm.stderr
    bf16 = run_cli("dp", "vgg16", "--cluster", "big-basin", "--dtype", "bf16")
    assert bf16.exit_code == 2 and "no bf16 peak" in bf16.stderr
