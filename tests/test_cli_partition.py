"""`planner pipeline partition`: both cost models, JSON keys, table, bad input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

PROFILE = """\
spec: profile
name: five
per: minibatch
batch_size: 32
layers:
  - {name: conv1, forward_time: 4 ms, backward_time: 8 ms, parameters: 10000, output_bytes: 8 MiB}
  - {name: conv2, forward_time: 6 ms, backward_time: 12 ms, parameters: 40000, output_bytes: 4 MiB}
  - {name: conv3, forward_time: 6 ms, backward_time: 12 ms, parameters: 90000, output_bytes: 2 MiB}
  - {name: fc1, forward_time: 1 ms, backward_time: 2 ms, parameters: 20000000, output_bytes: 16 KiB}
  - {name: fc2, forward_time: 0.5 ms, backward_time: 1 ms, parameters: 4000000, output_bytes: 4 KiB}
"""

KEYS = {
    "config",
    "pipeline_time_s",
    "data_parallel_time_s",
    "single_device_time_s",
    "speedup_over_dp",
    "stages",
}
STAGE_KEYS = {"layers", "layer_names", "replicas", "time_s"}


@pytest.fixture
def profile(tmp_path: Path) -> str:
    path = tmp_path / "five.yaml"
    path.write_text(PROFILE)
    return str(path)


def _json(run_cli, *args: str) -> dict:
    result = run_cli("pipeline", "partition", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_native_json_keys_and_a_consistent_plan(run_cli, profile: str) -> None:
    payload = _json(run_cli, profile, "--cluster", "pipedream-cluster-a", "--servers", "1")
    assert payload.keys() >= KEYS
    assert payload["cost_model"] == "native"
    stages = payload["stages"]
    assert all(stage.keys() >= STAGE_KEYS for stage in stages)
    # stages tile the chain [0, 5) without gaps or empty ranges, replicas fill the 4 GPUs
    assert stages[0]["layers"][0] == 0 and stages[-1]["layers"][1] == 5
    assert all(a["layers"][1] == b["layers"][0] for a, b in itertools.pairwise(stages))
    assert all(s["layers"][0] < s["layers"][1] for s in stages)
    assert sum(s["replicas"] for s in stages) == 4
    assert [n for s in stages for n in s["layer_names"]] == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    assert payload["pipeline_time_s"] == pytest.approx(
        max(max(s["time_s"], s["transfer_in_s"]) for s in stages), rel=1e-12
    )
    assert payload["speedup_over_dp"] == pytest.approx(
        payload["data_parallel_time_s"] / payload["pipeline_time_s"]
    )
    assert payload["single_device_time_s"] == pytest.approx(0.0525)
    expected = "-".join(str(s["replicas"]) for s in stages)
    assert payload["config"] in (expected, "straight")


def test_table_shows_the_json_plan(run_cli, profile: str) -> None:
    args = (profile, "--cluster", "pipedream-cluster-a", "--servers", "2")
    payload = _json(run_cli, *args)
    table = run_cli("pipeline", "partition", *args)
    assert table.exit_code == 0
    assert payload["config"] in table.stdout
    assert "speedup over data parallelism" in table.stdout
    assert f"{payload['speedup_over_dp']:.3f}" in table.stdout


def test_options_straight_fewer_machines_memory_and_compression(run_cli, profile: str) -> None:
    straight = _json(run_cli, profile, "--levels", "4:10GB/s", "--straight")
    assert straight["config"] == "straight" and len(straight["stages"]) == 4
    fewer = _json(run_cli, profile, "--levels", "4:10GB/s,2:1GB/s", "--straight", "--use-fewer-machines")
    assert fewer["devices_used"] <= 5 and fewer["num_devices"] == 8
    free = _json(run_cli, profile, "--levels", "2:10GB/s,2:1GB/s")
    bounded = _json(run_cli, profile, "--levels", "2:10GB/s,2:1GB/s", "--memory", "300MB")
    assert max(s["memory_bytes"] for s in bounded["stages"]) <= 300e6  # fc1's 80 MB x 3 states + stash
    assert bounded["pipeline_time_s"] >= free["pipeline_time_s"]
    compressed = _json(run_cli, profile, "--levels", "2:10GB/s,2:1GB/s", "--activation-compression", "8")
    assert compressed["pipeline_time_s"] <= free["pipeline_time_s"]


def test_cnn_architecture_is_timed_by_the_roofline(run_cli) -> None:
    payload = _json(run_cli, "alexnet", "--cluster", "pipedream-cluster-b", "--servers", "1", "--batch", "64")
    assert payload["batch"] == 64 and payload["times_from"] == "roofline"
    assert sum(s["replicas"] for s in payload["stages"]) == 8


def test_pipedream_cost_model_reproduces_its_optimizer(run_cli, shared_dir: Path) -> None:
    vgg = str(shared_dir / "profiles/pipedream/vgg16.graph.txt")
    levels = ("--levels", "4:10e9 B/s,4:1.25e9 B/s", "--activation-compression", "1")
    payload = _json(run_cli, vgg, *levels, "--cost-model", "pipedream")
    assert payload["cost_model"] == "pipedream"
    assert payload.keys() >= KEYS and all(s.keys() >= STAGE_KEYS for s in payload["stages"])
    # shared/reference/pipedream_optimizer_outputs.yaml, what PipeDream's optimizer printed
    assert payload["pipeline_time_s"] == pytest.approx(0.06713399693333331, rel=1e-9)
    assert payload["single_device_time_s"] == pytest.approx(0.672535, rel=1e-9)
    assert payload["data_parallel_time_s"] / payload["single_device_time_s"] == pytest.approx(
        1 / 4.966114779657271, rel=1e-9
    )
    native = _json(run_cli, vgg, "--cluster", "pipedream-cluster-a")
    assert native["config"] == "15-1" and native["cost_model"] == "native"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cluster", "pipedream-cluster-a", "--levels", "4:10GB/s"), "exactly one of --cluster"),
        ((), "exactly one of --cluster"),
        (("--levels", "4:fast"), "--levels"),
        (("--levels", "4-10GB/s"), "count:bandwidth"),
        (("--levels", "0:10GB/s"), "integer >= 1"),
        (("--cluster", "pipedream-cluster-a", "--memory", "-1GB"), "--memory"),
        (("--cluster", "pipedream-cluster-a", "--memory", "lots"), "--memory"),
        (("--cluster", "pipedream-cluster-a", "--activation-compression", "0"), "--activation-compression"),
        (("--cluster", "pipedream-cluster-a", "--activation-compression", "-2"), "--activation-compression"),
        (("--levels", "4:10GB/s", "--servers", "2"), "--servers"),
        (("--cluster", "pipedream-cluster-a", "--servers", "0"), "--servers"),
        (("--cluster", "pipedream-cluster-a", "--batch", "64"), "--batch"),
        (("--cluster", "no-such-cluster"), "no-such-cluster"),
    ],
)
def test_bad_input_exits_2(run_cli, profile: str, args: tuple[str, ...], message: str) -> None:
    result = run_cli("pipeline", "partition", profile, *args)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_model_and_cost_model_exit_2(run_cli) -> None:
    llm = run_cli("pipeline", "partition", "gpt2", "--cluster", "pipedream-cluster-a")
    assert llm.exit_code == 2 and "CNN architecture" in llm.stderr
    cnn = run_cli("pipeline", "partition", "alexnet", "--levels", "4:10GB/s")
    assert cnn.exit_code == 2 and "--cluster" in cnn.stderr
    bad = run_cli("pipeline", "partition", "alexnet", "--cluster", "pipedream-cluster-a", "--cost-model", "x")
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr


def test_infeasible_memory_exits_1(run_cli, profile: str) -> None:
    # PipeDream's check never rejects one stage on all machines (no stash), so its case is straight
    for extra in (("--cost-model", "native"), ("--cost-model", "pipedream", "--straight")):
        result = run_cli("pipeline", "partition", profile, "--levels", "4:10GB/s", "--memory", "1MB", *extra)
        assert result.exit_code == 1, (extra, result.stdout)
        assert "fits" in result.stderr and "Traceback" not in result.stderr
