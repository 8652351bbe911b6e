"""Hardware specs: devices, links, and clusters as a hierarchy of levels.

All quantities are SI: FLOP/s, bytes, bytes/s, seconds, watts.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, replace
from typing import Literal

import yaml

from planner.limits import (
    BANDWIDTH,
    COMPUTE,
    FRACTION,
    LATENCY,
    MAX_DEVICES,
    MEMORY,
    POWER,
    PRICE,
    SIZE,
)
from planner.spec.schema import FieldValueError, spec_field

DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "fp4")


class AssumedFigure(float):
    """A figure a spec left out, standing in at its documented default: a float that says it was assumed
    (Device.assumed_figures lists them, so that no result rests on a default silently)."""


yaml.SafeDumper.add_representer(AssumedFigure, yaml.SafeDumper.represent_float)  # YAML output: a number


# Defaults for a device file without the efficiency figures (hardware/devices/ gives both for every
# device). compute: the median of the catalog GPUs' large-GEMM fractions (tests/test_hardware_catalog.py
# keeps it within 0.05 of them): a new card is more likely near its peers than at its peak, where the
# default of 1.0 used to put it (71% MFU on a GeForce card). memory: 0.8, the streaming-copy fraction
# every catalog HBM device assumes (no citable measurement).
DEFAULT_COMPUTE_EFFICIENCY = AssumedFigure(0.7)
DEFAULT_MEMORY_EFFICIENCY = AssumedFigure(0.8)
EFFICIENCY_FIELDS = ("compute_efficiency", "memory_efficiency")
DeviceKind = Literal["gpu", "tpu", "cpu", "cpu-board", "accelerator"]


def _is_date(text: str) -> bool:
    """Whether `text` is a real calendar date written YYYY-MM-DD (2026-13-45 is not)."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Price:
    """A public list price per hour, with the date it was read and where."""

    usd_per_hour: float = spec_field("list price in US dollars per hour", limit=PRICE)
    date: str = spec_field("when the price was read (YYYY-MM-DD)")
    source: str = spec_field("where the price was read (provider page, region, on-demand)")

    def __post_init__(self) -> None:
        if not _is_date(self.date):
            raise FieldValueError("date", f"expected a calendar date YYYY-MM-DD, got '{self.date}'")


@dataclass(frozen=True)
class GemmTile:
    """One output tile shape a GPU's GEMM library launches: a thread block computes `m` x `n` outputs.

    NVIDIA, "Matrix Multiplication Background User's Guide" (DU-09799-001, 2023), sec. 2.3: larger tiles
    reuse more data and run closer to peak; smaller tiles give more tiles to run in parallel.
    `efficiency` is the fraction of the device's large-GEMM rate (compute_efficiency) that a full wave
    of this tile sustains (1 for the tile the large-GEMM measurement ran with).
    """

    m: int = spec_field("output rows per tile (thread block)", minimum=1, maximum=65536)
    n: int = spec_field("output columns per tile (thread block)", minimum=1, maximum=65536)
    efficiency: float = spec_field(
        "fraction of the large-GEMM rate a full wave of these tiles sustains [1e-6, 1]",
        default=1.0,
        limit=FRACTION,
    )


@dataclass(frozen=True)
class Device:
    """One accelerator or board.

    `compute_efficiency`: the fraction of `peak_compute` a large dense matrix multiply sustains on this
    device. `memory_efficiency`: the fraction of `memory_bandwidth` a large streaming copy sustains. Both
    are set once per device (a hardware property), never per model or per test; a spec that leaves one
    out gets DEFAULT_COMPUTE_EFFICIENCY / DEFAULT_MEMORY_EFFICIENCY, listed in `assumed_figures`.

    GEMM shape model (planner.cost.gemm; GPUs only, optional): `sm_count` and `gemm_tiles` together give
    tile and wave quantisation; `kernel_overhead` is the fixed time each kernel adds (launch and tail).
    A device without `sm_count` / `gemm_tiles` runs every GEMM at peak · matmul_efficiency(dtype)
    (compute_efficiency, or the dtype's own figure in dtype_compute_efficiency). `memory_reserved`: what
    no tensor can use; plans are checked against usable_memory.

    `collective_overlap_slowdown` (optional): the fraction of compute throughput lost while a collective
    overlaps it on this device, as built into its usual platform (planner.cost.overlap).
    """

    spec: Literal["device"] = spec_field("file type marker: device")
    name: str = spec_field("catalog name, e.g. v100-sxm2-16gb")
    kind: DeviceKind = spec_field("device class")
    peak_compute: dict[str, float] = spec_field(
        "dense peak per dtype (tensor cores where the dtype uses them), e.g. fp32: 15.7 TFLOPS",
        unit="compute",
        limit=COMPUTE,
        min_items=1,
        key_choices=DTYPES,
    )
    memory: float = spec_field("memory physically present, e.g. 16 GiB", unit="memory", limit=MEMORY)
    memory_bandwidth: float = spec_field(
        "peak memory bandwidth, e.g. 900 GB/s", unit="bandwidth", limit=BANDWIDTH
    )
    description: str = spec_field("a human description", default="")
    aliases: tuple[str, ...] = spec_field("other catalog names for this device", default=())
    power: float | None = spec_field("board power (TDP), e.g. 300 W", unit="power", limit=POWER, default=None)
    price: Price | None = spec_field("optional on-demand list price for one device", default=None)
    memory_reserved: float = spec_field(
        "memory no model tensor can use, e.g. 1.25 GiB: what the driver keeps back (memory minus the total "
        "capacity CUDA reports) and the process's CUDA context with its libraries' kernels; 0 when absent",
        unit="memory",
        limit=SIZE,
        default=0.0,
    )
    compute_efficiency: float = spec_field(
        "fraction of peak_compute a large dense matmul sustains [1e-6, 1]; when absent, the catalog GPUs' "
        "median (a warning says so)",
        default=DEFAULT_COMPUTE_EFFICIENCY,
        limit=FRACTION,
    )
    memory_efficiency: float = spec_field(
        "fraction of memory_bandwidth a large streaming copy sustains [1e-6, 1]; when absent, 0.8 (a "
        "warning says so)",
        default=DEFAULT_MEMORY_EFFICIENCY,
        limit=FRACTION,
    )
    dtype_compute_efficiency: dict[str, float] | None = spec_field(
        "per dtype, the fraction of peak_compute[dtype] a large dense matmul in that dtype sustains "
        "[1e-6, 1], where it differs from compute_efficiency (e.g. fp8: its own matmul measurement)",
        default=None,
        limit=FRACTION,
        key_choices=DTYPES,
    )
    flash_forward_efficiency: float | None = spec_field(
        "fraction of peak_compute a fused (flash) attention forward sustains [1e-6, 1]; "
        "compute_efficiency when absent",
        default=None,
        limit=FRACTION,
    )
    flash_backward_efficiency: float | None = spec_field(
        "fraction of peak_compute a fused (flash) attention backward sustains [1e-6, 1]; "
        "compute_efficiency when absent",
        default=None,
        limit=FRACTION,
    )
    sm_count: int | None = spec_field(
        "streaming multiprocessors: GEMM tiles run in waves of this many (one tile per SM)",
        default=None,
        minimum=1,
        maximum=1_000_000,
    )
    gemm_tiles: tuple[GemmTile, ...] = spec_field(
        "output tile shapes the GEMM library picks from (the fastest per shape); needs sm_count",
        default=(),
    )
    kernel_overhead: float = spec_field(
        "fixed time each kernel adds (launch gap and tail), e.g. 4 us",
        unit="time",
        limit=LATENCY,
        default=0.0,
    )
    collective_overlap_slowdown: float | None = spec_field(
        "fraction of compute throughput lost while a collective (e.g. a gradient all-reduce) runs beside "
        "it [0, 1): the share of the SMs its kernels hold; planner.cost.overlap's default when absent",
        default=None,
        minimum=0.0,
        maximum=0.99,
    )
    source: str = spec_field("where the figures come from", default="")

    def __post_init__(self) -> None:
        if (self.sm_count is None) != (not self.gemm_tiles):
            missing = "gemm_tiles" if self.sm_count is not None else "sm_count"
            raise FieldValueError(missing, "sm_count and gemm_tiles go together: give both or neither")
        if self.memory_reserved >= self.memory:
            from planner.units import format_quantity

            given, whole = (format_quantity(v, "memory") for v in (self.memory_reserved, self.memory))
            raise FieldValueError("memory_reserved", f"expected less than memory ({whole}), got {given}")
        for dtype in self.dtype_compute_efficiency or {}:
            if dtype not in self.peak_compute:
                raise FieldValueError(
                    ("dtype_compute_efficiency", dtype),
                    f"expected a dtype of peak_compute ({', '.join(self.peak_compute)})",
                )

    @property
    def assumed_figures(self) -> tuple[str, ...]:
        """The efficiency fields this device took its documented default for (the spec left them out)."""
        return tuple(name for name in EFFICIENCY_FIELDS if isinstance(getattr(self, name), AssumedFigure))

    @property
    def usable_memory(self) -> float:
        """Bytes a plan's tensors may take on this device: memory - memory_reserved."""
        return self.memory - self.memory_reserved

    def matmul_efficiency(self, dtype: str) -> float:
        """The fraction of peak_compute[dtype] a large matmul in `dtype` sustains: its own figure
        (dtype_compute_efficiency) where the device gives one, else compute_efficiency."""
        return (self.dtype_compute_efficiency or {}).get(dtype, self.compute_efficiency)

    def peak(self, dtype: str) -> float:
        """Peak FLOP/s for `dtype`; KeyError names the dtypes this device lists."""
        try:
            return self.peak_compute[dtype]
        except KeyError:
            raise KeyError(
                f"{self.name} lists no peak for {dtype}; it has {', '.join(self.peak_compute)}"
            ) from None


@dataclass(frozen=True)
class Link:
    """The link that joins the units of one level (alpha-beta model).

    `bandwidth` is per direction, for one unit's connection at this level: per GPU on the innermost level
    (its NVLink or PCIe share), per server on the level of servers (its NIC, shared by the devices
    inside). `latency` is the per-message start-up time (alpha); `efficiency` is the fraction of
    `bandwidth` that transfers sustain; `shared` marks a medium (Wi-Fi, a hub) on which the transfers of
    all units of the level serialise.
    """

    bandwidth: float = spec_field(
        "bandwidth per direction per device, e.g. 10 Gbps", unit="bandwidth", limit=BANDWIDTH
    )
    latency: float = spec_field(
        "per-message latency (alpha), e.g. 5 us", unit="time", limit=LATENCY, default=0.0
    )
    efficiency: float = spec_field(
        "fraction of bandwidth transfers sustain [1e-6, 1]", default=1.0, limit=FRACTION
    )
    shared: bool = spec_field("a shared medium: transfers on this level serialise", default=False)
    name: str = spec_field("what the link is, e.g. NVLink 2.0, 10 GbE", default="")

    @property
    def effective_bandwidth(self) -> float:
        """Sustained bytes/s per direction: bandwidth × efficiency."""
        return self.bandwidth * self.efficiency


@dataclass(frozen=True)
class Level:
    """One level of the hierarchy: `count` units of the level below, joined by `link`."""

    name: str = spec_field("what one unit of this level is called: gpu, server, board")
    count: int = spec_field("how many units of the level below this level groups", minimum=1)
    link: Link = spec_field("the link joining the units of this level")


@dataclass(frozen=True)
class Cluster:
    """Devices arranged in levels, innermost first (GPUs in a server, then servers in the cluster).

    `price` is for one unit of the outermost level's children (one server / instance) per hour.
    """

    spec: Literal["cluster"] = spec_field("file type marker: cluster")
    name: str = spec_field("catalog name, e.g. pipedream-cluster-a")
    device: Device | str = spec_field("a catalog device name or an inline device mapping")
    levels: tuple[Level, ...] = spec_field("levels, innermost first", min_items=1)
    description: str = spec_field("a human description", default="")
    aliases: tuple[str, ...] = spec_field("other catalog names for this cluster", default=())
    price: Price | None = spec_field("optional on-demand list price of one server (instance)", default=None)
    source: str = spec_field("where the figures come from", default="")

    def __post_init__(self) -> None:
        names = [level.name for level in self.levels]
        if len(set(names)) != len(names):
            raise FieldValueError("levels", f"level names must be distinct, got {names}")
        if self.total_devices > MAX_DEVICES:
            raise FieldValueError(
                "levels",
                f"at most {MAX_DEVICES:,} devices in all, got {self.total_devices:,} (the counts' product)",
            )

    @property
    def total_devices(self) -> int:
        """Number of devices: the product of the level counts."""
        return math.prod(level.count for level in self.levels)

    @property
    def resolved_device(self) -> Device:
        """`device` as a spec: loading a cluster (planner.spec.catalog) replaces its catalog name."""
        if isinstance(self.device, str):
            raise TypeError(f"cluster {self.name}: device '{self.device}' was not resolved from the catalog")
        return self.device

    @property
    def devices_per_server(self) -> int:
        """Devices below the outermost level (one server / instance)."""
        return math.prod(level.count for level in self.levels[:-1])

    def with_top_count(self, count: int) -> Cluster:
        """The same cluster with the outermost level's count replaced (the `servers` setting)."""
        if count < 1:
            raise ValueError(f"the outermost level's count must be >= 1, got {count}")
        top = replace(self.levels[-1], count=count)
        return replace(self, levels=(*self.levels[:-1], top))
