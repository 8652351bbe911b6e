"""Scale invariance of the plans: a profile written in milliseconds, in seconds, or as a PipeDream
graph.txt (milliseconds per minibatch) is the same model, and every command plans it the same way (same
stages, replicas and algorithm; times equal to rounding)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

# forward ms, backward ms, parameter bytes, output bytes; layer i feeds i + 1, and 1 also feeds 3
LAYERS = [
    (0.0, 0.0, 0, 602112),
    (12.5, 26.0, 7168, 12845056),
    (3.25, 4.5, 0, 12845056),
    (9.0, 17.75, 2359808, 6422528),
    (1.5, 3.0, 16777216, 16384),
    (0.25, 0.5, 4000, 4000),
]
COMMANDS = [
    ("pipeline", "partition", "{F}", "--cluster", "pipedream-cluster-a", "-f", "json"),
    (
        "pipeline",
        "partition",
        "{F}",
        "--cluster",
        "pipedream-cluster-b",
        "--cost-model",
        "pipedream",
        "-f",
        "json",
    ),
    ("dp", "{F}", "--cluster", "pipedream-cluster-a", "--profile-batch", "32", "-f", "json"),
    ("plan", "{F}", "--cluster", "pipedream-cluster-a", "--profile-batch", "32", "-f", "json"),
]
IGNORED = {"source", "description", "schema_version"}


def _inputs(i: int) -> list[str]:
    return [] if i == 0 else [f"node{i}"] + (["node2"] if i == 3 else [])


def yaml_profile(unit: str) -> str:
    """The model as a `spec: profile` YAML with times in `unit` (ms or s), per unstated minibatch."""
    scale = {"ms": 1.0, "s": 1e-3}[unit]
    lines = ["spec: profile", "name: m", "per: minibatch", "layers:"]
    for i, (f, b, p, a) in enumerate(LAYERS):
        times = f"forward_time: {f * scale!r} {unit}, backward_time: {b * scale!r} {unit}"
        kind = "is_input: true, op: Input0" if i == 0 else f"op: layer{i}"
        inputs = ", ".join(_inputs(i))
        lines.append(
            f"  - {{name: node{i + 1}, {kind}, {times}, parameters: {round(p / 4)}, parameter_bytes: {p} B, "
            f"output_bytes: {a} B, inputs: [{inputs}]}}"
        )
    return "\n".join(lines) + "\n"


def graph_profile() -> str:
    """The same model as PipeDream's graph.txt (milliseconds per minibatch)."""
    lines = []
    for i, (f, b, p, a) in enumerate(LAYERS):
        op = "Input0" if i == 0 else f"layer{i}"
        lines.append(
            f"node{i + 1} -- {op} -- forward_compute_time={f}, backward_compute_time={b}, "
            f"activation_size={a}, parameter_size={p}"
        )
    lines += [f"\t{source} -- node{i + 1}" for i in range(len(LAYERS)) for source in _inputs(i)]
    return "\n".join(lines) + "\n"


def same(a: Any, b: Any, path: str = "") -> None:
    """Equal payloads: the same keys, strings and integers; floats equal to 1e-9 relative."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for key in a:
            if key not in IGNORED:
                same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15), (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize(
    "command", COMMANDS, ids=lambda c: " ".join(c[:2]) + (" pipedream" if "pipedream" in c else "")
)
def test_milliseconds_seconds_and_graph_txt_give_the_same_plan(
    command: tuple[str, ...], tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    files = {"ms.yaml": yaml_profile("ms"), "s.yaml": yaml_profile("s"), "m.graph.txt": graph_profile()}
    payloads = {}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        result = run_cli(*(str(tmp_path / name) if arg == "{F}" else arg for arg in command))
        assert result.exit_code == 0, result.stderr
        payloads[name] = json.loads(result.stdout.replace(str(tmp_path / name), "{F}"))
    same(payloads["ms.yaml"], payloads["s.yaml"])
    same(payloads["ms.yaml"], payloads["m.graph.txt"])
