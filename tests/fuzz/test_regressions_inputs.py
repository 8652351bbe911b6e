"""Issue 13's input-file reproductions, through the real entry point (harness `run`): each once hung, read
until MemoryError, gave a wrong error or a traceback, and now exits 2 with one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .test_regressions import run

GRAPH = (
    "node1 -- Input0 -- forward_compute_time=0.0, backward_compute_time=0.0, activation_size=4.0, "
    "parameter_size=0.0\n"
    "node11 -- Linear -- forward_compute_time=1.5, backward_compute_time=3.0, activation_size=4.0, "
    "parameter_size=8.0\n"
    "\tnode1 -- node11\n"
)
MIXED = """\
spec: profile
name: mixed
per: minibatch
batch_size: 32
layers:
  - {name: conv1, forward_time: 1 ms, backward_time: 2 ms, parameters: 1000, output_bytes: 4 MB}
  - {name: fc, forward_flops: 2 GFLOP, backward_flops: 4 GFLOP, parameters: 1000, output_bytes: 4 kB}
"""
CLUSTER = "pipedream-cluster-a"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_as_an_input_file_is_refused_unread(device: str) -> None:
    # yamlio: the 64 MiB check read st_size, 0 for a device: /dev/zero read to a MemoryError (4.6 GB)
    out = run(["hardware", "show", device])
    assert (
        out.exit_code == 2
        and out.stderr == f"error: {device}: expected a regular file, got a character device\n"
    )


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("c.yaml", ["hardware", "show", "{}"]),
        ("m.yaml", ["models", "show", "{}"]),
        ("m.graph.txt", ["models", "show", "{}"]),
        ("c.yaml", ["dp", "vgg16", "--cluster", "{}"]),
        ("m.yaml", ["plan", "{}", "--cluster", CLUSTER]),
        ("config.json", ["llm-parallel", "{}", "--cluster", "dgx-a100-x1", "--global-batch", "8"]),
        ("f.yaml", ["fl", "round", "--fleet", "{}", "--model", "resnet18"]),
        ("p.yaml", ["fl", "noniid", "--fleet", "mixed-edge", "--partition", "{}"]),
    ],
)
def test_a_fifo_as_an_input_file_is_refused_without_blocking(
    name: str, argv: list[str], tmp_path: Path
) -> None:
    # yamlio: opening a FIFO blocks until a writer comes: every command hung (outside the sandbox, whose
    # own check reads every file it holds)
    fifo = tmp_path / name
    os.mkfifo(fifo)
    out = run([arg.format(fifo) for arg in argv])
    assert (
        out.exit_code == 2
        and out.stderr == f"error: {fifo}: expected a regular file, got a FIFO (named pipe)\n"
    )


def test_a_graph_txt_with_a_byte_order_mark_loads() -> None:
    # yamlio: the BOM stayed part of the first node id: "'node1' is not defined" at the edge line
    out = run(
        ["models", "show", "m.graph.txt", "--format", "json"],
        {"m.graph.txt": b"\xef\xbb\xbf" + GRAPH.encode()},
    )
    assert out.exit_code == 0 and '"name": "node1"' in out.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["models", "show", "mixed.yaml"],
        ["plan", "mixed.yaml", "--cluster", CLUSTER],
        ["dp", "mixed.yaml", "--cluster", CLUSTER],
        ["pipeline", "partition", "mixed.yaml", "--cluster", CLUSTER],
    ],
)
def test_a_profile_mixing_times_and_flop_is_refused_at_load(argv: list[str]) -> None:
    # profile: plan/dp raised ValueError (a traceback), models show accepted it, pipeline partition
    # blamed --cluster
    out = run(argv, {"mixed.yaml": MIXED})
    assert out.exit_code == 2
    assert "mixed.yaml:7: field 'layers[1].forward_time': layer 'fc' gives forward_flops but no" in out.stderr


@pytest.mark.parametrize("digit", ["\u0664", "\uff14", "\u00b2"])
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["edge", "adcnn", "vgg16", "--boards", "raspberry-pi-4b:{}"], "--boards"),
        (["edge", "adcnn", "vgg16", "--tiles", "{}x4"], "--tiles"),
        (["edge", "exits", "vgg16", "--exit", "pool2:0.{}"], "--exit"),
        (["pipeline", "partition", "vgg16", "--levels", "{}:10GB/s"], "--levels"),
        (["lr", "--batch", "8192", "--milestones", "3{}"], "--milestones"),
    ],
)
def test_options_take_ascii_digits_only(digit: str, argv: list[str], needle: str) -> None:
    # one rule (planner.units): int()/float()/\d took other scripts' digits that YAML refuses; '²' passed
    # str.isdigit() in --boards and then int() raised ValueError (a traceback)
    out = run([arg.format(digit) for arg in argv])
    assert out.exit_code == 2 and out.stderr.startswith(f"error: {needle}")
