"""Every command's JSON answer is finite at the extremes the bounds allow (planner/limits.py, issue 13).

Two hardware extremes, each the end of every physical range the loader accepts: `slow` (1 FLOP/s, 1 B/s
memory and links, efficiencies and availability 1e-6, latency 1 h, 1 mW, one sample per client) and
`fast` (10 EFLOP/s, 1 PB/s, efficiency 1, latency 0, 1 MW, 1e9 samples per client), both with 2^60 B of
memory so that every catalog model fits. Each command runs on them with its options at their own
extremes (epochs 1e-6 and 1e6, densities 1e-6, ratios 1e-6 and 1e6, 1e9 rounds, sizes 1 B and 2^60 B),
in-process through the fuzz harness, and must answer (exit 0) with every number in its JSON finite.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import yaml

from planner import limits
from tests.fuzz.harness import check, sandbox

_EXTREMES: dict[str, dict[str, Any]] = {
    "slow": {
        "compute": "1 FLOPS",
        "bandwidth": "1 B/s",
        "efficiency": limits.FRACTION.low,
        "latency": "3600 s",
        "power": "1 mW",
        "availability": limits.FRACTION.low,
        "samples": 1,
    },
    "fast": {
        "compute": "10 EFLOPS",
        "bandwidth": "1000 TB/s",
        "efficiency": 1.0,
        "latency": "0 s",
        "power": "1 MW",
        "availability": 1.0,
        "samples": limits.MAX_CLIENT_SAMPLES,
    },
}


def _files(extreme: str) -> dict[str, str]:
    """A device, a cluster of 2 x 4 of them and a fleet of 25 clients, every figure at `extreme`."""
    x = _EXTREMES[extreme]
    device = {
        "spec": "device",
        "name": f"{extreme}-device",
        "kind": "gpu",
        "peak_compute": {dtype: x["compute"] for dtype in ("fp32", "fp16", "bf16")},
        "memory": "1024 PiB",  # limits.MEMORY.high: every catalog model fits
        "memory_bandwidth": x["bandwidth"],
        "power": x["power"],
        "compute_efficiency": x["efficiency"],
        "memory_efficiency": x["efficiency"],
        "price": {"usd_per_hour": limits.PRICE.high, "date": "2026-01-01", "source": "limits"},
    }
    link = {"bandwidth": x["bandwidth"], "latency": x["latency"], "efficiency": x["efficiency"]}
    levels = [{"name": "gpu", "count": 4, "link": link}, {"name": "server", "count": 2, "link": link}]
    cluster = {"spec": "cluster", "name": f"{extreme}-cluster", "device": device, "levels": levels}
    members = {"device": device, "uplink": link, "downlink": link, "samples": x["samples"]}
    spread = {"compute_sigma": 3, "bandwidth_sigma": 3, "samples_sigma": 3}  # the widest spread
    fleet = {
        "spec": "fleet",
        "name": f"{extreme}-fleet",
        "server": {"link": link, "device": device},
        "classes": [
            {"name": "a", "count": 20, "availability": x["availability"], "compute": x["compute"], **members},
            {"name": "b", "count": 5, "vary": spread, **members},
        ],
    }
    return {
        name: yaml.safe_dump(doc)
        for name, doc in (("d.yaml", device), ("c.yaml", cluster), ("f.yaml", fleet))
    }


COMMANDS: list[list[str]] = [
    ["hardware", "show", "c.yaml"],
    ["comm", "--cluster", "c.yaml", "--size", "1 B"],
    ["comm", "--cluster", "c.yaml", "--size", "1024 PiB", "--compress-density", "1e-6"],
    ["comm", "--cluster", "c.yaml", "--model", "gpt3-175b"],
    ["dp", "resnet18", "--cluster", "c.yaml", "--epochs", "1e6"],
    ["plan", "resnet18", "--cluster", "c.yaml"],
    ["pipeline", "partition", "resnet18", "--cluster", "c.yaml", "--activation-compression", "1e-6"],
    ["pipeline", "partition", "resnet18", "--cluster", "c.yaml", "--activation-compression", "1e6"],
    ["pipeline", "partition", "resnet18", "--cluster", "c.yaml", "--cost-model", "pipedream"],
    ["llm-parallel", "gpt2", "--cluster", "c.yaml", "--global-batch", "16"],
    ["fl", "round", "--fleet", "f.yaml", "--model", "resnet18", "-E", "1e-6"],
    [
        "fl",
        "round",
        "--fleet",
        "f.yaml",
        "--model",
        "resnet18",
        "-E",
        "1e6",
        "--rounds",
        str(limits.MAX_ROUNDS),
        "--upload-density",
        "1e-6",
        "--trials",
        "100",
    ],
    ["fl", "heterofl", "--fleet", "f.yaml", "--model", "resnet18"],
    ["fl", "noniid", "--fleet", "f.yaml", "--model", "resnet18"],
    ["fl", "select", "--fleet", "f.yaml", "--model", "resnet18", "--time-limit", "2"],
    ["edge", "adcnn", "vgg16", "--cluster", "c.yaml", "--solver", "greedy", "--cloud", "c.yaml"],
    ["edge", "adcnn", "vgg16", "--cluster", "c.yaml", "--solver", "greedy", "--compression", "1e-6"],
    ["edge", "split", "resnet18", "--device", "d.yaml"],
    ["edge", "modnn", "vgg16", "--cluster", "c.yaml"],
    ["edge", "transformer", "gpt2", "--cluster", "c.yaml"],
    ["specdec", "models", "--target", "gpt2-xl", "--draft", "gpt2", "--device", "d.yaml", "--alpha", "0.99"],
]

# Commands that read no hardware: their own options at their extremes.
PLAIN: list[list[str]] = [
    ["specdec", "speedup", "--alpha", "0.99", "--c", "1e6", "--c-hat", "0"],
    ["specdec", "speedup", "--alpha", "0", "--c", "0", "--c-hat", "1e6"],
    ["specdec", "speedup", "--alpha", "0.999999", "--c", "1e-6", "--c-hat", "1e6"],
    ["pipeline", "partition", "m.graph.txt", "--levels", "2:1 B/s,2:1000 TB/s"],
    ["pipeline", "partition", "m.graph.txt", "--levels", "2:1000 TB/s", "--cost-model", "pipedream"],
]

GRAPH = "\n".join(
    [
        "node1 -- Input0 -- forward_compute_time=0, backward_compute_time=0, activation_size=4, "
        "parameter_size=0",
        *(
            f"node{i} -- Linear -- forward_compute_time=5, backward_compute_time=10, activation_size=1e15, "
            "parameter_size=4"
            for i in (2, 3, 4)
        ),
        "\tnode1 -- node2",
        "\tnode2 -- node3",
        "\tnode3 -- node4",
        "",
    ]
)


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []


def _answer(argv: list[str], files: dict[str, str]) -> Any:
    with sandbox() as box:
        for name, content in files.items():
            box.write(name, content)
        out = check(box, [*argv, "--format", "json"])  # also: one-line errors, no traceback, no warning
    assert out is not None and out.exit_code == 0, out and out.stderr
    return json.loads(out.stdout, parse_constant=lambda name: math.nan)


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:3]))
@pytest.mark.parametrize("extreme", sorted(_EXTREMES))
def test_every_number_is_finite_at_the_hardware_extremes(extreme: str, argv: list[str]) -> None:
    numbers = _numbers(_answer(argv, _files(extreme)))
    assert numbers, "the answer holds no number"
    assert all(math.isfinite(n) for n in numbers), [n for n in numbers if not math.isfinite(n)][:5]


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_every_number_is_finite_at_the_option_extremes(argv: list[str]) -> None:
    numbers = _numbers(_answer(argv, {"m.graph.txt": GRAPH}))
    assert numbers and all(math.isfinite(n) for n in numbers)
