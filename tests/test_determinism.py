"""Determinism: the same inputs give byte-identical JSON, run after run and process after process.

Every command runs twice in-process with `--format json` and the bytes must match; then all of them run
once more in a child process with another PYTHONHASHSEED (set and dict order, hashing of strings) and the
bytes must match the in-process run. What makes this hold (planner/render.py): keys sorted, floats
written by `repr` (the shortest string that reads back to the same double), non-finite floats as null,
and no wall-clock measurement in a payload (render.VOLATILE_KEYS are left out). Each optimizer states
its tie-break rule in its module docstring, so equal candidates never depend on iteration order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from planner.cli import SUBAPPS

REPO = Path(__file__).resolve().parents[1]

PROFILE = """\
spec: profile
name: five
per: minibatch
batch_size: 32
layers:
  - {name: conv1, forward_time: 4 ms, backward_time: 8 ms, parameters: 10000, output_bytes: 8 MiB}
  - {name: conv2, forward_time: 6 ms, backward_time: 12 ms, parameters: 40000, output_bytes: 4 MiB}
  - {name: conv3, forward_time: 6 ms, backward_time: 12 ms, parameters: 40000, output_bytes: 2 MiB}
  - {name: fc1, forward_time: 1 ms, backward_time: 2 ms, parameters: 20000000, output_bytes: 16 KiB}
  - {name: fc2, forward_time: 0.5 ms, backward_time: 1 ms, parameters: 4000000, output_bytes: 4 KiB}
"""
# conv2 and conv3 are equal on purpose: a tie the partitioners must break by their stated rule.
FLEET = """\
spec: fleet
name: small
seed: 7
classes:
  - {name: boards, count: 6, device: raspberry-pi-4b, samples: 200,
     uplink: {bandwidth: 20 Mbps, latency: 10 ms}, downlink: {bandwidth: 80 Mbps, latency: 10 ms}}
  - {name: phones, count: 6, device: raspberry-pi-3b, samples: 300, availability: 0.9,
     uplink: {bandwidth: 10 Mbps, latency: 30 ms}, downlink: {bandwidth: 40 Mbps, latency: 30 ms},
     vary: {bandwidth_sigma: 0.5, compute_sigma: 0.3}}
"""
P = "{profile}"
F = "{fleet}"
ONE_SERVER = ("--cluster", "pipedream-cluster-a", "--servers", "1")
COMMANDS: dict[str, tuple[str, ...]] = {
    "hardware-list": ("hardware", "list"),
    "hardware-show-cluster": ("hardware", "show", "pipedream-cluster-a", "--servers", "2"),
    "hardware-show-device": ("hardware", "show", "v100-sxm2-16gb"),
    "models-list": ("models", "list"),
    "models-show-cnn": ("models", "show", "resnet18", "--batch-size", "8"),
    "models-show-llm": ("models", "show", "gpt2"),
    "models-show-profile": ("models", "show", P),
    "validate": ("validate", "--only", "*-parameters"),
    "comm-size": ("comm", "--size", "100MB", "--cluster", "pipedream-cluster-a", "--servers", "4"),
    "comm-model": ("comm", "--model", "gpt2", "--cluster", "dgx-1"),
    "dp": ("dp", "resnet18", "--cluster", "pipedream-cluster-a", "--servers", "2"),
    "lr": ("lr", "--batch", "8192"),
    "pipeline-bubble": ("pipeline", "bubble", "--stages", "4", "--microbatches", "8"),
    "pipeline-schedule": ("pipeline", "schedule", "-k", "2", "-m", "4"),
    "partition-native": ("pipeline", "partition", P, *ONE_SERVER),
    "partition-pipedream": (
        "pipeline",
        "partition",
        P,
        "--levels",
        "4:10GB/s,2:1.25GB/s",
        "--cost-model",
        "pipedream",
    ),
    "specdec-speedup": ("specdec", "speedup", "--alpha", "0.8", "--c", "0.05"),
    "specdec-tree": ("specdec", "tree", "--acceptance", "0.8,0.1,0.05", "--size", "16", "--depth", "4"),
    "edge-adcnn": ("edge", "adcnn", "vgg16", "--cut", "pool5", "--tiles", "2x2", "--conv-nodes", "3"),
    "fl-round": (
        "fl",
        "round",
        "--fleet",
        "mixed-edge",
        "--model",
        "resnet18",
        "-m",
        "10",
        "--trials",
        "100",
    ),
    "fl-select": ("fl", "select", "--fleet", "mixed-edge", "--model", "resnet18", "-m", "5"),
    "plan": ("plan", P, *ONE_SERVER),
    "llm-parallel": (
        "llm-parallel",
        "gpt2",
        "--cluster",
        "dgx-a100",
        "--servers",
        "1",
        "--global-batch",
        "16",
    ),
}
EXPORTS: dict[str, tuple[str, ...]] = {
    "export-pipeline": ("export", "pipeline", P, *ONE_SERVER, "--to", "deepspeed"),
    "export-dp": ("export", "dp", "resnet18", "--cluster", "pipedream-cluster-a"),
    "export-llm": (
        "export",
        "llm",
        "gpt2",
        "--cluster",
        "dgx-a100",
        "--servers",
        "1",
        "--global-batch",
        "16",
        "--to",
        "megatron",
    ),
}
if "export" in SUBAPPS:  # the export commands, where this checkout has them
    COMMANDS.update(EXPORTS)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("determinism")
    (folder / "five.yaml").write_text(PROFILE, encoding="utf-8")
    (folder / "small.yaml").write_text(FLEET, encoding="utf-8")
    return {P: str(folder / "five.yaml"), F: str(folder / "small.yaml")}


def _argv(name: str, files: dict[str, str]) -> list[str]:
    return [files.get(arg, arg) for arg in COMMANDS[name]] + ["--format", "json"]


def _in_process(run_cli: Any, argv: list[str]) -> str:
    result = run_cli(*argv)
    assert result.exit_code == 0, (argv, result.stderr)
    json.loads(result.stdout)
    return result.stdout


_FIRST: dict[str, str] = {}  # in-process output per command, for the child-process comparison


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_same_inputs_give_the_same_json_bytes(run_cli: Any, files: dict[str, str], name: str) -> None:
    argv = _argv(name, files)
    _FIRST[name] = _in_process(run_cli, argv)
    assert _in_process(run_cli, argv) == _FIRST[name]


# Runs each argv in one child process and prints their stdout as a JSON list (one start-up for all).
CHILD = """\
import contextlib, io, json, sys
from planner.cli import main
outputs = []
for argv in json.load(sys.stdin):
    sys.argv = ["planner", *argv]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, (argv, exc.code)
    outputs.append(buffer.getvalue())
json.dump(outputs, sys.stdout)
"""


def test_another_process_with_another_hash_seed_gives_the_same_bytes(
    run_cli: Any, files: dict[str, str]
) -> None:
    names = sorted(COMMANDS)
    argvs = [_argv(name, files) for name in names]
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    env = {**os.environ, "PYTHONHASHSEED": seed, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    outputs = json.loads(child.stdout)
    for name, argv, output in zip(names, argvs, outputs, strict=True):
        expected = _FIRST[name] if name in _FIRST else _in_process(run_cli, argv)
        assert output == expected, name


def test_measured_times_stay_out_of_the_json() -> None:
    from planner.render import OutputFormat, dumps

    payload = {"solver": {"status": "optimal", "solve_s": 0.123}, "rows": [{"solve_s": 1.0, "time_s": 2.0}]}
    text = dumps(payload, OutputFormat.json)
    assert "solve_s" not in text and '"time_s": 2.0' in text
    assert "solve_s" not in dumps(payload, OutputFormat.yaml)
    assert payload["solver"]["solve_s"] == 0.123  # the payload itself (the table's source) keeps it


def test_floats_are_written_shortest_round_trip() -> None:
    from planner.render import OutputFormat, dumps

    values = [0.1, 1 / 3, 2.0**-1074, 1e300, 123456789.123456789, 5e-324]
    text = dumps({"values": values}, OutputFormat.json)
    assert json.loads(text)["values"] == values
    assert [repr(v) for v in values] == [str(v) for v in json.loads(text)["values"]]
