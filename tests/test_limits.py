"""planner/limits.py: one table of every bound, the ranges' arithmetic, and the layers that read them."""

from __future__ import annotations

import dataclasses

import pytest

from planner import limits
from planner.optimize import limits as search_limits
from planner.spec import fleet, hardware, yamlio

BOUNDS = {name: value for name, value in vars(limits).items() if name.startswith(("MAX_", "MIN_", "NATIVE_"))}
RANGES = {name: value for name, value in vars(limits).items() if isinstance(value, limits.Range)}


@pytest.mark.parametrize("name", sorted(BOUNDS) + sorted(RANGES))
def test_every_bound_is_in_the_module_table(name: str) -> None:
    # the docstring is the table of bounds with their reasons: a bound added without a row fails here
    doc = limits.__doc__ or ""
    assert f"\n{name} " in doc, f"{name} has no row"


def test_the_other_modules_read_their_bounds_from_the_table() -> None:
    assert hardware.MAX_DEVICES is limits.MAX_DEVICES
    assert (yamlio.MAX_BYTES, yamlio.MAX_DEPTH, yamlio.MAX_NODES, yamlio.MAX_ALIAS_NODES) == (
        limits.MAX_YAML_BYTES,
        limits.MAX_YAML_DEPTH,
        limits.MAX_YAML_NODES,
        limits.MAX_YAML_ALIAS_NODES,
    )
    assert search_limits.MAX_CHAIN_LAYERS == limits.MAX_CHAIN_LAYERS
    assert search_limits.MAX_NATIVE_WORK == limits.MAX_NATIVE_WORK


@pytest.mark.parametrize(
    ("bound", "inside", "outside"),
    [
        (limits.BANDWIDTH, [1.0, 1e15], [0.999, 1e-300, 1.1e15, float("inf"), float("nan")]),
        (limits.MEMORY, [1.0, 2.0**60], [0.5, 2.0**60 * 1.01]),
        (limits.FRACTION, [1e-6, 0.5, 1.0], [0.0, 1e-7, 1.0000001]),
        (limits.PRICE, [1e-300, 1e6], [0.0, -1.0, 1e7]),
        (limits.COST_RATIO, [0.0, 1e-6, 1e6], [-1e-9, 1e-300, 1e308]),
        (limits.LATENCY, [0.0, 3600.0], [-5e-5, 3601.0]),
    ],
)
def test_a_range_holds_its_ends_and_nothing_beyond(
    bound: limits.Range, inside: list[float], outside: list[float]
) -> None:
    assert all(value in bound for value in inside)
    assert not any(value in bound for value in outside)
    assert True not in bound and "1" not in bound  # a bool or a string is no number


def test_ranges_read_in_their_units() -> None:
    assert limits.BANDWIDTH.text() == "from 1 B/s to 1 PB/s"
    assert limits.COMPUTE.text() == "from 1 FLOP/s to 10 EFLOP/s"
    assert limits.MEMORY.text() == "from 1 B to 1024 PiB"
    assert limits.PRICE.text() == "> 0 and <= 1e+06"
    assert limits.COST_RATIO.text() == "0, or from 1e-06 to 1e+06"


def test_count_problem_names_the_bound() -> None:
    assert limits.count_problem(5, 10, "trials") is None
    assert limits.count_problem(0, 10, "trials") == "expected trials >= 1"
    assert "at most 10 trials" in (limits.count_problem(11, 10, "trials") or "")


def _field(cls: type, name: str) -> dataclasses.Field[object]:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def test_spec_fields_take_the_ranges_and_their_kinds_ceilings() -> None:
    memory = _field(hardware.Device, "memory").metadata
    assert (memory["minimum"], memory["maximum"], memory["whole"]) == (1.0, 2.0**60, True)
    latency = _field(hardware.Link, "latency").metadata
    assert (latency["minimum"], latency["maximum"]) == (0.0, 3600.0)
    # a quantity field without a bound of its own gets its kind's ceiling
    from planner.spec.profile import Layer

    assert _field(Layer, "forward_time").metadata["maximum"] == limits.DURATION.high
    assert _field(fleet.ClientClass, "samples").metadata["maximum"] == limits.MAX_CLIENT_SAMPLES


def test_memory_is_kept_in_whole_bytes() -> None:
    from planner.spec.schema import build
    from planner.spec.yamlio import Document

    doc = {
        "spec": "device",
        "name": "d",
        "kind": "gpu",
        "peak_compute": {"fp32": "1 TFLOPS"},
        "memory": "1.7 GiB",
        "memory_bandwidth": "1 GB/s",
    }
    device = build(hardware.Device, Document("d.yaml", doc, {}))
    assert device.memory == 1825361101.0  # 1.7 x 2^30 = 1825361100.8 bytes


def test_fleet_draws_stay_within_int64() -> None:
    # the widest spread around the largest sample count: the cast to int64 never wraps around
    from planner.spec.schema import build
    from planner.spec.yamlio import Document

    link = {"bandwidth": "1 Mbps"}
    doc = {
        "spec": "fleet",
        "name": "f",
        "seed": 7,
        "classes": [
            {
                "name": "a",
                "count": 10_000,
                "device": "raspberry-pi-4b",
                "uplink": link,
                "downlink": link,
                "samples": limits.MAX_CLIENT_SAMPLES,
                "vary": {"samples_sigma": 3},
            }
        ],
    }
    spec = build(fleet.Fleet, Document("f.yaml", doc, {}))
    from planner.spec.catalog import find

    drawn = fleet.members(
        spec.resolve_devices(lambda name, path: find("hardware", name, ("device",)))
    ).samples
    assert drawn.min() >= 1 and drawn.max() <= 2**62


@pytest.mark.parametrize(
    "argv",
    [
        ("lr", "--batch", "100000000000000000000"),
        ("lr", "--batch", "8192", "--dataset-size", "10000000000000"),
        ("plan", "--batch", "100000000000000000000"),
        ("dp", "vgg16", "--cluster", "dgx-1", "--epoch-samples", "10000000000000"),
    ],
)
def test_sample_counts_are_bounded(run_cli, argv: tuple[str, ...]) -> None:
    result = run_cli(*argv)
    assert result.exit_code == 2 and "planner's bound" in result.stderr, result.stderr
