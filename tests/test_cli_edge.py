"""`planner edge`: ADCNN plans, Neurosurgeon splits, early exits, MoDNN, transformer partitions."""

from __future__ import annotations

import json

import pytest


def test_adcnn_prints_assignment_and_baselines(run_cli) -> None:
    result = run_cli("edge", "adcnn", "vgg16", "--cluster", "pi-cluster")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in (
        "Tile assignment",
        "conv8",
        "one device",
        "remote cloud",
        "greedy",
        "fdsp",
        "halo",
        "channel",
    ):
        assert text in out


def test_adcnn_json_is_consistent(run_cli) -> None:
    result = run_cli("edge", "adcnn", "vgg16", "--cut", "pool5", "--tiles", "2x4", "--format", "json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["cut"]["layer"] == "pool5"
    assert sum(b["tiles"] for b in plan["boards"]) == 8
    assert plan["latency_s"] == pytest.approx(plan["tile_phase_s"] + plan["central"]["time_s"])
    assert plan["single_device"]["speedup"] == pytest.approx(
        plan["single_device"]["time_s"] / plan["latency_s"]
    )
    assert plan["greedy"]["latency_s"] >= plan["latency_s"] - 1e-9
    assert plan["solver"]["status"] == "optimal"
    assert max(b["return_end_s"] for b in plan["boards"]) == pytest.approx(plan["tile_phase_s"])


def test_adcnn_heterogeneous_boards_with_highs(run_cli) -> None:
    result = run_cli(
        "edge", "adcnn", "vgg16", "--cut", "pool5", "--boards", "raspberry-pi-4b:2,raspberry-pi-3b-plus:2",
        "--solver", "highs", "--cloud", "none", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["cloud"] is None
    boards = plan["boards"]
    assert [b["device"] for b in boards[:2]] == ["raspberry-pi-4b"] * 2  # fastest served first
    assert boards[0]["tiles"] >= boards[-1]["tiles"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("edge", "adcnn", "vgg16", "--tiles", "4by4"), "--tiles"),
        (("edge", "adcnn", "vgg16", "--tiles", "9x9", "--cut", "pool5"), "--tiles"),
        (("edge", "adcnn", "vgg16", "--tiles", "300x300"), "--tiles"),
        (("edge", "adcnn", "vgg16", "--cut", "fc6"), "--cut"),
        (("edge", "adcnn", "vgg16", "--cut", "nope"), "--cut"),
        (("edge", "adcnn", "gpt2"), "CNN"),
        (("edge", "adcnn", "vgg16", "--conv-nodes", "9"), "Conv nodes"),
        (("edge", "adcnn", "vgg16", "--compression", "0"), "--compression"),
        (("edge", "adcnn", "vgg16", "--boards", "raspberry-pi-4b"), "--boards"),
        (("edge", "adcnn", "no-such-model"), "no-such-model"),
        (("edge", "split", "vgg16", "--uplink", "10 furlongs"), "--uplink"),
        (("edge", "split", "vgg16", "--objective", "energy"), "--compute-power"),
        (("edge", "exits", "vgg16", "--exit", "pool2"), "--thresholds"),  # LAYER alone: thresholds decide
        (("edge", "exits", "vgg16", "--exit", "nope:0.2"), "nope"),
        (("edge", "modnn", "vgg16", "--workers", "12"), "--workers"),
        (("edge", "transformer", "gpt2", "--devices", "5"), "heads"),
        (("edge", "transformer", "vgg16"), "expected an LLM"),
    ],
)
def test_bad_input_exits_2(run_cli, args: tuple[str, ...], needle: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_split_sweeps_uplinks(run_cli) -> None:
    result = run_cli(
        "edge", "split", "alexnet", "--uplink", "100kbps", "--uplink", "1Gbps", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["sweep"]
    assert rows[0]["best_split"] == "(mobile-only)"
    assert rows[1]["latency_s"] <= rows[1]["cloud_only_latency_s"]
    energy = run_cli(
        "edge", "split", "alexnet", "--objective", "energy",
        "--compute-power", "3W", "--transmit-power", "1W",
    )  # fmt: skip
    assert energy.exit_code == 0 and "energy" in energy.stdout


def test_exits_table_and_json(run_cli) -> None:
    result = run_cli(
        "edge", "exits", "vgg16", "--exit", "pool2:0.3", "--exit", "pool4:0.4", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [e["exit"] for e in payload["exits"]] == ["pool2", "pool4", "final"]
    assert payload["expected_latency_s"] < payload["no_exit_latency_s"]
    table = run_cli("edge", "exits", "vgg16", "--exit", "pool2:0.3", "--offload-after", "pool3")
    assert table.exit_code == 0 and "expected latency" in table.stdout


def test_modnn_and_transformer(run_cli) -> None:
    result = run_cli("edge", "modnn", "vgg16", "--workers", "2", "--workers", "4", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["results"]
    assert [r["workers"] for r in rows] == [2, 4]
    assert all(r["total_s"] == pytest.approx(r["compute_s"] + r["delivery_s"]) for r in rows)
    result = run_cli("edge", "transformer", "gpt2", "--cluster", "dgx-1", "--devices", "4", "--tokens", "512")
    assert result.exit_code == 0, result.stderr
    assert "head-wise" in result.stdout and "sequence" in result.stdout
