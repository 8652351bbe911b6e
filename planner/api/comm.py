"""All-reduce algorithms compared (`planner comm`): options, result, and the question.

The message is what each device contributes (G): a size, or a model's gradient (parameters × the dtype's
bytes). Costs follow planner.cost.collectives (alpha-beta, full duplex, one port per device) on the
cluster's levels; optionally Deep Gradient Compression (planner.cost.compression) beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError
from planner.limits import FRACTION, MAX_DEVICES, SIZE
from planner.validate.bands import COMMUNICATION, band_fields

if TYPE_CHECKING:
    from planner.cost.collective_layout import CollectiveResult, Layout
    from planner.cost.compression import CompressionComparison, GradientTensors
    from planner.spec.hardware import Cluster

MODEL_NOTE = (
    "alpha-beta (latency + bytes / (bandwidth x efficiency)), full duplex, one port per device; "
    "a level's link is per GPU inside a server and per server NIC between servers, shared by the "
    "flows of a unit; lower bound 2(M-1)/M G / B per level plus ceil(log2 N) latencies"
)
SWEEP_FROM_BYTES = 1024  # the size sweep: powers of 4 from 1 KiB to 1 GiB, and the message
SWEEP_STEPS = 10  # 4**10 KiB = 1 GiB


@dataclass(frozen=True)
class CommOptions:
    """The message (exactly one of size and model), the devices, the algorithms and their settings."""

    size: float | None = None  # bytes each device contributes
    model: Any = None  # or a model (catalog name, file, HF config.json, or spec): its gradient
    dtype: str = "fp32"  # the gradient's dtype (bytes per parameter)
    servers: int | None = None  # the outermost level's count (None: the cluster's own)
    devices: int | None = None  # devices taking part, innermost first (None: all)
    algorithm: str = "all"  # an algorithm of planner.cost.collective_registry, or all
    ps_shards: int = 1  # servers of ps-sharded
    ps_dedicated: bool = False  # PS servers outside the devices (2NG traffic, not 2(N-1)G)
    ps_backups: int = 0  # backup replicas of each PS shard
    compress_density: float | None = None  # also cost DGC keeping this fraction, e.g. 0.001
    compress_encoding: str = "delta16"  # DGC's positions: an encoding of planner.cost.compression

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (those that need the cluster are
        checked by allreduce_comparison)."""
        from planner.cost.collective_registry import algorithm_names
        from planner.cost.compression import ENCODINGS
        from planner.spec.profile import DTYPE_BYTES

        names = algorithm_names()
        if self.algorithm != "all" and self.algorithm not in names:
            raise SettingError("algorithm", f"expected one of {', '.join(names)} or all", self.algorithm)
        if not 1 <= self.ps_shards <= MAX_DEVICES:  # dedicated shards are devices too
            raise SettingError("ps_shards", f"expected an integer from 1 to {MAX_DEVICES:,}", self.ps_shards)
        if not 0 <= self.ps_backups < MAX_DEVICES:
            raise SettingError(
                "ps_backups", f"expected an integer from 0 to {MAX_DEVICES - 1:,}", self.ps_backups
            )
        if self.compress_density is not None and self.compress_density not in FRACTION:
            raise SettingError(
                "compress_density",
                f"expected a fraction {FRACTION.text()}, e.g. 0.001",
                self.compress_density,
            )
        if self.compress_encoding not in ENCODINGS:
            raise SettingError(
                "compress_encoding", f"expected one of {', '.join(ENCODINGS)}", self.compress_encoding
            )
        if (self.size is None) == (self.model is None):
            raise SettingError("size", "give exactly one of `size` and `model`", show_got=False)
        if self.dtype not in DTYPE_BYTES:
            raise SettingError("dtype", f"expected one of {', '.join(DTYPE_BYTES)}", self.dtype)
        if self.size is not None and not 0 < self.size <= SIZE.high:
            raise SettingError("size", f"expected a size > 0 B and <= {SIZE.show(SIZE.high)}", self.size)
        if self.devices is not None and self.devices < 1:
            raise SettingError("devices", "expected an integer >= 1", self.devices)


@dataclass(frozen=True)
class CommResult:
    """Every requested algorithm's all-reduce of the message, best first, and DGC's if asked."""

    cluster: Cluster
    layout: Layout  # the devices placed on the cluster's levels
    message: dict[str, Any]  # where the message comes from, its bytes and dtype
    results: tuple[CollectiveResult, ...]  # best first
    compression: CompressionComparison | None
    tensors: GradientTensors  # the gradient as DGC sparsifies it
    sweep: tuple[tuple[float, tuple[CollectiveResult, ...]], ...]  # (size, each algorithm's) over sizes

    def to_dict(self) -> dict[str, Any]:
        machine, best = self.cluster, self.results[0]
        payload: dict[str, Any] = {
            "cluster": {
                "name": machine.name,
                "devices": self.layout.devices,
                "devices_per_server": machine.devices_per_server,
                "servers": machine.levels[-1].count,
                "levels": [
                    {
                        "name": use.name,
                        "count": level.count,
                        "spanned": use.spanned,
                        "link": level.link.name,
                        "bandwidth_bytes_per_s": use.bandwidth,
                        "latency_s": use.latency,
                        "shared": use.shared,
                    }
                    for use, level in zip(self.layout.levels, machine.levels, strict=True)
                ],
            },
            "message": self.message,
            "lower_bound_s": best.lower_bound_s,
            "best": best.algorithm,
            "results": [r.to_dict() for r in self.results],
            "sweep": {
                "sizes_bytes": [size for size, _ in self.sweep],
                "lower_bound_s": [results[0].lower_bound_s for _, results in self.sweep],
                "algorithms": [  # in the order of `results`, best first at the message
                    {
                        "algorithm": r.algorithm,
                        "time_s": [_time(results, r.algorithm) for _, results in self.sweep],
                    }
                    for r in self.results
                ],
            },
            "model": MODEL_NOTE,
            **band_fields(COMMUNICATION),
        }
        if self.compression is not None:
            dgc = self.compression
            payload["compression"] = {
                **dgc.to_dict(),
                "tensors": self.tensors.note,
                "best_time_s": best.time_s,
                "speedup_vs_best": best.time_s / dgc.dgc_time_s if dgc.dgc_time_s > 0 else 1.0,
            }
        return payload


def _time(results: tuple[CollectiveResult, ...], algorithm: str) -> float:
    return next(r.time_s for r in results if r.algorithm == algorithm)


def allreduce_comparison(cluster: str | Cluster, options: CommOptions) -> CommResult:
    """Compare all-reduce algorithms for the message on `cluster`: time, bytes per device, busiest link
    and distance from the lower bound, best first; optionally Deep Gradient Compression."""
    from planner.api.inputs import load_cluster
    from planner.cost.cluster_allreduce import allreduce_on_cluster
    from planner.cost.collective_layout import layout
    from planner.cost.collective_registry import algorithm_names
    from planner.cost.compression import compare_on_cluster, compress
    from planner.spec.profile import DTYPE_BYTES

    options.check()
    machine = load_cluster(cluster, options.servers)
    total = machine.total_devices
    if options.devices is not None and options.devices > total:
        raise SettingError(
            "devices",
            f"expected an integer from 1 to {total} (the devices of {machine.name})",
            options.devices,
        )
    n = total if options.devices is None else options.devices
    g, message, tensors = _message(options)
    everything = algorithm_names()
    names = everything if options.algorithm == "all" else (options.algorithm,)
    _check_servers(options, names, n)

    def each(size: float) -> list[CollectiveResult]:
        return [
            allreduce_on_cluster(
                machine,
                size,
                name,
                devices=n,
                ps_shards=options.ps_shards,
                ps_dedicated=options.ps_dedicated,
                ps_backups=options.ps_backups,
            )
            for name in names
        ]

    results = each(g)
    results.sort(key=lambda r: (r.time_s, everything.index(r.algorithm)))
    sizes = sorted({SWEEP_FROM_BYTES * 4**k for k in range(SWEEP_STEPS + 1)} | {g})
    sweep = tuple((size, tuple(each(size))) for size in sizes)
    comparison = None
    if options.compress_density is not None:
        compressed = compress(
            tensors, options.compress_density, DTYPE_BYTES[options.dtype], options.compress_encoding
        )
        comparison = compare_on_cluster(machine, compressed, n)
    return CommResult(machine, layout(machine, n), message, tuple(results), comparison, tensors, sweep)


def _check_servers(options: CommOptions, names: tuple[str, ...], n: int) -> None:
    """Co-located parameter-server shards and backups need devices of their own among the n."""
    from planner.cost.collective_registry import named

    if options.ps_dedicated:
        return
    servers = [found.servers for found in map(named, names) if found.servers is not None]
    if any(count(options.ps_shards, n) > n for count in servers):
        raise SettingError(
            "ps_shards", f"expected at most {n} (co-located shards need one device each)", options.ps_shards
        )
    if servers and options.ps_backups > n - 1:
        raise SettingError(
            "ps_backups", f"expected at most {n - 1} (each backup needs another device)", options.ps_backups
        )


def algorithm_choices() -> str:
    """The registered all-reduce algorithms, each with its source, or all (the CLI's help)."""
    from planner.cost.collective_registry import REGISTRY

    return "; ".join(f"{name}: {algorithm.source}" for name, algorithm in REGISTRY.items()) + "; or all"


def _message(options: CommOptions) -> tuple[float, dict[str, Any], GradientTensors]:
    """(bytes, description, the gradient's tensors for DGC) of the message each device contributes."""
    from planner.cost.compression import GradientTensors, gradient_tensors
    from planner.spec.profile import DTYPE_BYTES

    dtype = options.dtype
    value_bytes = DTYPE_BYTES[dtype]
    if options.size is not None:
        g = options.size
        elements = max(round(g / value_bytes), 1)
        tensors = GradientTensors(
            (elements,), 0, f"one tensor of {elements:,} {dtype} values, all sparsified"
        )
        return g, {"source": "size", "bytes": g, "dtype": dtype}, tensors
    from planner.api.inputs import load_model

    spec = load_model(options.model)
    parameters = _parameters(spec)
    g = float(parameters * value_bytes)
    desc = {"source": "model", "model": spec.name, "parameters": parameters, "dtype": dtype, "bytes": g}
    return g, desc, gradient_tensors(spec)


def _parameters(spec: Any) -> int:
    if spec.spec == "llm":
        from planner.cost.transformer import parameter_count

        return int(parameter_count(spec))
    from planner.spec.profile import profile_totals

    if spec.spec == "cnn":
        from planner.cost.layers import derive_profile

        spec = derive_profile(spec, 1)
    return int(profile_totals(spec).parameters)
