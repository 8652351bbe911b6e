"""Malformed hardware and model files: each gives exit code 2 and one line naming file, line and field.

Every case mutates one valid document; the expected line is found by a marker in the mutated text.
The user's file is never modified.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DEVICE = """\
spec: device
name: test-gpu
kind: gpu
peak_compute:
  fp32: 15.7 TFLOPS
  fp16: 125 TFLOPS
memory: 16 GiB
memory_bandwidth: 900 GB/s
compute_efficiency: 0.8
"""

CLUSTER = """\
spec: cluster
name: test-cluster
device:
  spec: device
  name: inline-gpu
  kind: gpu
  peak_compute: {fp32: 14 TFLOPS}
  memory: 16 GiB
  memory_bandwidth: 900 GB/s
levels:
  - name: gpu
    count: 4
    link: {name: PCIe, bandwidth: 15.75 GB/s, latency: 5 us}
  - name: server
    count: 4
    link:
      bandwidth: 10 Gbps
      latency: 50 us
"""

PROFILE = """\
spec: profile
name: tiny
per: minibatch
batch_size: 32
layers:
  - name: conv1
    forward_time: 1.5 ms
    backward_time: 3 ms
    parameters: 1728
    output_bytes: 6 MiB
  - name: fc
    forward_flops: 2 GFLOP
    backward_flops: 4 GFLOP
    forward_time: 0.5 ms
    backward_time: 1 ms
    parameters: 1000
    output_bytes: 4 KiB
"""


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# name -> (command area, file text, field expected in the message, marker on the expected line)
CASES: dict[str, tuple[str, str, str, str]] = {
    "bare-number-memory": ("hardware", sub(DEVICE, "16 GiB", "16"), "memory", "memory: 16"),
    "unknown-unit": ("hardware", sub(DEVICE, "16 GiB", "16 parsecs"), "memory", "parsecs"),
    "negative-bandwidth": ("hardware", sub(DEVICE, "900 GB/s", "-900 GB/s"), "memory_bandwidth", "-900"),
    "ambiguous-flops": ("hardware", sub(DEVICE, "15.7 TFLOPS", "15.7 TFLOPs"), "peak_compute.fp32", "TFLOPs"),
    "unknown-dtype": ("hardware", sub(DEVICE, "fp16:", "fp17:"), "peak_compute.fp17", "fp17"),
    "bad-kind": ("hardware", sub(DEVICE, "kind: gpu", "kind: gpuu"), "kind", "gpuu"),
    "efficiency-above-1": ("hardware", sub(DEVICE, "0.8", "1.5"), "compute_efficiency", "1.5"),
    "efficiency-nan": ("hardware", sub(DEVICE, "0.8", ".nan"), "compute_efficiency", ".nan"),
    "infinite-memory": ("hardware", sub(DEVICE, "16 GiB", "inf GiB"), "memory", "inf GiB"),
    "typo-key": ("hardware", sub(DEVICE, "memory: 16", "memroy: 16"), "memroy", "memroy"),
    "missing-name": ("hardware", sub(DEVICE, "name: test-gpu\n", ""), "name", "spec: device"),
    "name-not-string": ("hardware", sub(DEVICE, "name: test-gpu", "name: 42"), "name", "name: 42"),
    "duplicate-key": ("hardware", DEVICE + "memory: 32 GiB\n", "memory", "32 GiB"),
    "unknown-spec": ("hardware", sub(DEVICE, "spec: device", "spec: devise"), "spec", "devise"),
    "missing-spec": ("hardware", sub(DEVICE, "spec: device\n", ""), "spec", "name: test-gpu"),
    "peaks-as-list": (
        "hardware",
        sub(DEVICE, "  fp32: 15.7 TFLOPS\n  fp16: 125 TFLOPS", "  - 15.7 TFLOPS"),
        "peak_compute",
        "peak_compute",
    ),
    "bare-power": ("hardware", DEVICE + "power: 300\n", "power", "power: 300"),
    "aliases-not-list": ("hardware", DEVICE + "aliases: a100\n", "aliases", "aliases"),
    "negative-price": (
        "hardware",
        DEVICE + "price: {usd_per_hour: -3, date: 2026-01-01, source: x}\n",
        "price.usd_per_hour",
        "price",
    ),
    "python-tag": (
        "hardware",
        sub(DEVICE, "name: test-gpu", "name: !!python/object/apply:os.system [ls]"),
        "name",
        "python",
    ),
    "syntax-error": ("hardware", sub(DEVICE, "fp32: 15.7 TFLOPS", "fp32: [15.7 TFLOPS"), "", "fp16"),
    "top-level-list": ("hardware", "- spec: device\n", "", "spec"),
    "no-levels": ("hardware", CLUSTER[: CLUSTER.index("levels:")] + "levels: []\n", "levels", "levels"),
    "zero-count": ("hardware", sub(CLUSTER, "count: 4", "count: 0"), "levels[0].count", "count: 0"),
    "bare-link-bandwidth": (
        "hardware",
        sub(CLUSTER, "bandwidth: 10 Gbps", "bandwidth: 10"),
        "levels[1].link.bandwidth",
        "bandwidth: 10",
    ),
    "lowercase-gbps": ("hardware", sub(CLUSTER, "10 Gbps", "10 gbps"), "levels[1].link.bandwidth", "gbps"),
    "zero-efficiency": (
        "hardware",
        sub(CLUSTER, "latency: 50 us", "latency: 50 us\n      efficiency: 0"),
        "levels[1].link.efficiency",
        "efficiency: 0",
    ),
    "negative-latency": (
        "hardware",
        sub(CLUSTER, "latency: 50 us", "latency: -50 us"),
        "levels[1].link.latency",
        "-50 us",
    ),
    "unknown-device": (
        "hardware",
        CLUSTER[: CLUSTER.index("device:")] + "device: v100-sxm9\n" + CLUSTER[CLUSTER.index("levels:") :],
        "device",
        "v100-sxm9",
    ),
    "same-level-names": ("hardware", sub(CLUSTER, "name: server", "name: gpu"), "levels", "levels:"),
    "level-without-link": (
        "hardware",
        sub(CLUSTER, "    link: {name: PCIe, bandwidth: 15.75 GB/s, latency: 5 us}\n", ""),
        "levels[0].link",
        "- name: gpu",
    ),
    "shared-not-bool": (
        "hardware",
        sub(CLUSTER, "latency: 50 us", "latency: 50 us\n      shared: maybe"),
        "levels[1].link.shared",
        "maybe",
    ),
    "layer-without-work": (
        "models",
        sub(PROFILE, "    forward_time: 1.5 ms\n", ""),
        "layers[0]",
        "- name: conv1",
    ),
    "input-from-later-layer": (
        "models",
        sub(PROFILE, "    forward_flops: 2 GFLOP", "    inputs: [head]\n    forward_flops: 2 GFLOP"),
        "layers[1].inputs",
        "inputs",
    ),
    "duplicate-layer-names": (
        "models",
        sub(PROFILE, "name: fc", "name: conv1"),
        "layers[1].name",
        "  - name: conv1\n    forward_flops",
    ),
    "per-batch": ("models", sub(PROFILE, "per: minibatch", "per: batch"), "per", "per: batch"),
    "bare-time": ("models", sub(PROFILE, "1.5 ms", "1.5"), "layers[0].forward_time", "forward_time: 1.5"),
    "negative-parameters": (
        "models",
        sub(PROFILE, "parameters: 1000", "parameters: -1000"),
        "layers[1].parameters",
        "-1000",
    ),
    "zero-batch": ("models", sub(PROFILE, "batch_size: 32", "batch_size: 0"), "batch_size", "batch_size: 0"),
    "flops-as-rate": ("models", sub(PROFILE, "2 GFLOP", "2 GFLOPS"), "layers[1].forward_flops", "GFLOPS"),
    "hardware-file-as-model": ("models", DEVICE, "spec", "spec: device"),
}


def line_of(text: str, marker: str) -> int:
    """1-based line where `marker` (possibly spanning lines) starts."""
    return text[: text.index(marker)].count("\n") + 1


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_file_exits_2_with_file_line_and_field(case: str, tmp_path: Path, run_cli) -> None:
    area, text, field, marker = CASES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    before = path.read_bytes(), path.stat().st_mtime_ns
    result = run_cli(area, "show", str(path))
    message = result.stderr.strip()
    assert result.exit_code == 2, (result.stdout, message)
    assert "Traceback" not in result.stderr + result.stdout
    assert len(message.splitlines()) == 1, message
    assert f"{path.name}:{line_of(text, marker)}:" in message
    assert field in message
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_there_are_at_least_thirty_malformed_files() -> None:
    assert len(CASES) >= 30


def test_missing_file_and_directory(tmp_path: Path, run_cli) -> None:
    missing = run_cli("hardware", "show", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "nope.yaml" in missing.stderr and "not found" in missing.stderr
    folder = run_cli("models", "show", str(tmp_path) + "/")
    assert folder.exit_code == 2 and "directory" in folder.stderr


def test_unknown_catalog_name_suggests(run_cli) -> None:
    result = run_cli("models", "show", "llama-2-7")
    assert result.exit_code == 2
    assert "llama-2-7b" in result.stderr and "Traceback" not in result.stderr


def test_valid_inline_files_load(tmp_path: Path, run_cli) -> None:
    for name, text in (("d.yaml", DEVICE), ("c.yaml", CLUSTER), ("p.yaml", PROFILE)):
        path = tmp_path / name
        path.write_text(text)
        area = "models" if name == "p.yaml" else "hardware"
        result = run_cli(area, "show", str(path), "--format", "json")
        assert result.exit_code == 0, result.stderr
