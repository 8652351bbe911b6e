"""`planner comm`: the issue's comparison, JSON carrying the table's numbers, models, DGC, and bad input."""

from __future__ import annotations

import json

import pytest

from planner.cost.collective_registry import algorithm_names
from planner.units import format_quantity


def test_the_issues_comparison_on_pipedream_cluster_a(run_cli) -> None:
    args = ("comm", "--size", "100MB", "--cluster", "pipedream-cluster-a", "--servers", "4")
    table = run_cli(*args)
    assert table.exit_code == 0, table.stderr
    as_json = run_cli(*args, "--format", "json")
    payload = json.loads(as_json.stdout)
    results = payload["results"]
    assert [r["algorithm"] for r in results] != list(algorithm_names())  # sorted by time, not listed in order
    assert sorted(r["algorithm"] for r in results) == sorted(algorithm_names())
    times = [r["time_s"] for r in results]
    assert times == sorted(times)
    assert payload["best"] == results[0]["algorithm"]
    assert payload["message"]["bytes"] == 1e8
    assert payload["cluster"]["devices"] == 16
    for r in results:
        assert r["time_s"] >= r["lower_bound_s"]
        # the table shows the same numbers
        assert format_quantity(r["time_s"], "time") in table.stdout
        assert f"{r['times_lower_bound']:.2f}×" in table.stdout
    ps = next(r for r in results if r["algorithm"] == "ps")
    assert ps["total_traffic_bytes"] == pytest.approx(2 * 15 * 1e8)
    assert "co-located" in ps["notes"]
    assert "lower bound" in table.stdout and "notes:" in table.stdout


def test_one_algorithm_and_yaml(run_cli) -> None:
    result = run_cli(
        "comm",
        "--size",
        "97.5 MiB",
        "--cluster",
        "dgx-1",
        "--servers",
        "2",
        "--algorithm",
        "ring",
        "-f",
        "yaml",
    )
    assert result.exit_code == 0, result.stderr
    assert "algorithm: ring" in result.stdout
    assert "tree" not in result.stdout.split("results:")[1]


def test_a_models_gradient_with_compression(run_cli) -> None:
    result = run_cli(
        "comm",
        "--model",
        "resnet50",
        "--cluster",
        "pipedream-cluster-b",
        "--compress-density",
        "0.001",
        "-f",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["message"]["parameters"] == 25_557_032
    assert payload["message"]["bytes"] == 25_557_032 * 4
    dgc = payload["compression"]
    assert dgc["compression_ratio"] == pytest.approx(276.5, abs=0.5)
    assert dgc["speedup_vs_best"] > 1
    table = run_cli(
        "comm", "--model", "resnet50", "--cluster", "pipedream-cluster-b", "--compress-density", "0.001"
    )
    assert "Deep Gradient Compression" in table.stdout and "276.5×" in table.stdout


def test_fp16_halves_a_models_message(run_cli) -> None:
    fp32 = json.loads(run_cli("comm", "--model", "gpt2", "--cluster", "dgx-1", "-f", "json").stdout)
    fp16 = json.loads(
        run_cli("comm", "--model", "gpt2", "--cluster", "dgx-1", "--dtype", "fp16", "-f", "json").stdout
    )
    assert fp16["message"]["bytes"] * 2 == fp32["message"]["bytes"]


def test_fewer_devices_stay_inside_one_server(run_cli) -> None:
    payload = json.loads(
        run_cli(
            "comm", "--size", "1GB", "--cluster", "pipedream-cluster-a", "--devices", "4", "-f", "json"
        ).stdout
    )
    assert payload["cluster"]["devices"] == 4
    assert {r["busiest_link"].split()[0] for r in payload["results"]} <= {"gpu", "ps-server"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--size", "100MB", "--devices", "0"), "--devices"),
        (("--size", "100MB", "--devices", "17"), "from 1 to 16"),
        (("--size", "-5MB"), "--size"),
        (("--size", "lots"), "--size"),
        (("--size", "100MB", "--algorithm", "gossip"), "--algorithm"),
        (("--size", "100MB", "--model", "resnet50"), "exactly one of --size and --model"),
        ((), "exactly one of --size and --model"),
        (("--size", "100MB", "--servers", "0"), "--servers"),
        (("--size", "100MB", "--ps-shards", "0"), "--ps-shards"),
        (("--size", "100MB", "--ps-shards", "99"), "--ps-shards"),
        (("--size", "100MB", "--compress-density", "2"), "--compress-density"),
        (("--size", "100MB", "--compress-encoding", "zip"), "--compress-encoding"),
        (("--model", "resnet50", "--dtype", "fp12"), "--dtype"),
        (("--model", "no-such-model"), "no-such-model"),
    ],
)
def test_bad_input_exits_2_with_one_line(run_cli, args: tuple[str, ...], message: str) -> None:
    result = run_cli("comm", "--cluster", "pipedream-cluster-a", *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_unknown_cluster_exits_2(run_cli) -> None:
    result = run_cli("comm", "--size", "1MB", "--cluster", "no-such-cluster")
    assert result.exit_code == 2
    assert "no-such-cluster" in result.stderr
