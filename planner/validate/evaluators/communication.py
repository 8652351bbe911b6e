"""Evaluators of the communication models: collective traffic and times, Deep Gradient Compression sizes.

Sizes, bandwidths and latencies in a setup are numbers (SI) or strings with units ("100 MB", "10 Gbps",
"50 us").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator

MIB = 2.0**20


def _quantity(setup: Mapping[str, Any], key: str, kind: str) -> float:
    from planner.units import UnitError, parse_quantity

    value = setup[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return parse_quantity(str(value), kind)
    except UnitError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _count(setup: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = setup.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < (0 if key == "backups" else 1):
        raise ValueError(f"{key} must be a positive integer, got {value!r}")
    return value


@evaluator("ps_total_traffic", setup=("message_bytes", "devices"), optional=("dedicated", "backups"))
def ps_total_traffic(setup: Mapping[str, Any], ctx: Context) -> float:
    """Bytes a parameter-server synchronisation puts on the network: 2(N-1)G co-located, 2NG dedicated."""
    from planner.cost.collectives import ps_total_traffic as traffic

    g = _quantity(setup, "message_bytes", "memory")
    return float(
        traffic(g, _count(setup, "devices"), bool(setup.get("dedicated", False)), _count(setup, "backups", 0))
    )


@evaluator("ring_bytes_per_device", setup=("message_bytes", "devices"))
def ring_bytes_per_device(setup: Mapping[str, Any], ctx: Context) -> float:
    """Bytes each device sends in a ring all-reduce: 2(N-1)/N G."""
    from planner.cost.collectives import ring_allreduce_bytes_per_device

    return float(
        ring_allreduce_bytes_per_device(_quantity(setup, "message_bytes", "memory"), _count(setup, "devices"))
    )


@evaluator(
    "allreduce_time",
    setup=("algorithm", "message_bytes", "devices", "bandwidth", "latency"),
    optional=("shards", "dedicated", "backups"),
)
def allreduce_time(setup: Mapping[str, Any], ctx: Context) -> float:
    """All-reduce time (s) on N devices with independent links: the closed form of a registered algorithm
    (planner.cost.collective_registry)."""
    from planner.cost.collective_ps import ServerSettings
    from planner.cost.collective_registry import REGISTRY, algorithm_names

    algorithm = setup["algorithm"]
    chosen = REGISTRY.get(algorithm)
    if chosen is None or chosen.flat_time is None:  # hierarchical needs two levels: a cluster
        closed = algorithm_names(lambda a: a.flat_time is not None)
        raise ValueError(f"algorithm must be one of {', '.join(closed)}, got '{algorithm}'")
    args = (
        _quantity(setup, "message_bytes", "memory"),
        _count(setup, "devices"),
        _quantity(setup, "bandwidth", "bandwidth"),
        _quantity(setup, "latency", "time"),
    )
    servers = ServerSettings()
    if chosen.servers is not None:  # only a parameter server reads these
        servers = ServerSettings(
            _count(setup, "shards", 1), bool(setup.get("dedicated", False)), _count(setup, "backups", 0)
        )
    return float(chosen.flat_time(*args, servers))


def _cluster_result(setup: Mapping[str, Any]) -> Any:
    from planner.cost.cluster_allreduce import allreduce_on_cluster
    from planner.spec.catalog import find

    cluster = find("hardware", setup["cluster"], ("cluster",))
    if "servers" in setup:
        cluster = cluster.with_top_count(_count(setup, "servers"))
    return allreduce_on_cluster(
        cluster,
        _quantity(setup, "message_bytes", "memory"),
        setup["algorithm"],
        devices=setup.get("devices"),
        ps_shards=_count(setup, "shards", 1),
        ps_dedicated=bool(setup.get("dedicated", False)),
        ps_backups=_count(setup, "backups", 0),
    )


_CLUSTER_KEYS = ("servers", "devices", "shards", "dedicated", "backups")


@evaluator("cluster_allreduce_time", setup=("cluster", "algorithm", "message_bytes"), optional=_CLUSTER_KEYS)
def cluster_allreduce_time(setup: Mapping[str, Any], ctx: Context) -> float:
    """All-reduce time (s) of one algorithm on a catalog cluster (planner.cost.cluster_allreduce)."""
    return _cluster_result(setup).time_s


@evaluator(
    "cluster_allreduce_lower_bound", setup=("cluster", "message_bytes"), optional=("servers", "devices")
)
def cluster_allreduce_lower_bound(setup: Mapping[str, Any], ctx: Context) -> float:
    """The all-reduce lower bound (s) on a catalog cluster's devices and links."""
    return _cluster_result({**setup, "algorithm": "ring"}).lower_bound_s


def _compressed(setup: Mapping[str, Any]) -> Any:
    from planner.cost.compression import ENCODINGS, GradientTensors, compress, gradient_tensors
    from planner.spec.catalog import find

    if ("model" in setup) == ("elements" in setup):
        raise ValueError("give exactly one of model and elements")
    if "model" in setup:
        tensors = gradient_tensors(find("models", setup["model"]))
    else:
        tensors = GradientTensors((_count(setup, "elements"),), 0)
    encoding = setup.get("encoding", "delta16")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got '{encoding}'")
    density = setup.get("density", 0.001)
    if not isinstance(density, (int, float)) or not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    return compress(tensors, float(density), float(setup.get("value_bytes", 4)), encoding)


_DGC_KEYS = ("model", "elements", "density", "encoding", "value_bytes")


@evaluator("dgc_dense_gradient_mib", optional=_DGC_KEYS)
def dgc_dense_gradient_mib(setup: Mapping[str, Any], ctx: Context) -> float:
    """A model's dense gradient in MiB (2^20 bytes), as Lin et al. 2018 write "MB"."""
    return _compressed(setup).dense_gradient_bytes / MIB


@evaluator("dgc_message_mib", optional=_DGC_KEYS)
def dgc_message_mib(setup: Mapping[str, Any], ctx: Context) -> float:
    """One worker's DGC message in MiB: encoded top-s of the sparsified tensors + dense 1-D tensors."""
    return _compressed(setup).message_bytes / MIB


@evaluator("dgc_compression_ratio", optional=_DGC_KEYS)
def dgc_compression_ratio(setup: Mapping[str, Any], ctx: Context) -> float:
    """Dense gradient bytes / DGC message bytes."""
    return _compressed(setup).ratio
