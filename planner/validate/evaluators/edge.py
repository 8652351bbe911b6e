"""Evaluators of edge inference: ADCNN's speed-ups, MoDNN's speed-ups, DDNN's communication reduction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator, whole


def _cnn(name: str) -> Any:
    from planner.cost.edge_model import from_architecture
    from planner.spec.catalog import find

    spec = find("models", name)
    if spec.spec != "cnn":
        raise ValueError(f"'{name}' is a {spec.spec}; edge evaluators need a CNN architecture")
    return from_architecture(spec)


def _cluster(name: str) -> Any:
    from planner.spec.catalog import find

    return find("hardware", name, ("cluster",))


@evaluator(
    "adcnn_speedup",
    setup=("model", "cluster", "tiles", "baseline"),
    optional=("cloud", "solver", "compression"),
)
def adcnn_speedup(setup: Mapping[str, Any], ctx: Context) -> float:
    """Baseline latency / ADCNN latency (planner.optimize.adcnn_plan): baseline single-device (the
    whole model on the Central node's device) or cloud (upload, compute, download over the WAN)."""
    from planner.cost.edge_tiles import parse_grid
    from planner.optimize.adcnn_plan import cluster_boards, plan_adcnn

    baseline = setup["baseline"]
    if baseline not in ("single-device", "cloud"):
        raise ValueError(f"baseline must be single-device or cloud, got {baseline!r}")
    if baseline == "cloud" and "cloud" not in setup:
        raise ValueError("a cloud baseline needs `cloud`: a cluster whose link is the WAN")
    rows, cols = parse_grid(str(setup["tiles"]))
    central, boards = cluster_boards(_cluster(setup["cluster"]))
    plan = plan_adcnn(
        _cnn(setup["model"]),
        central,
        boards,
        rows=rows,
        cols=cols,
        compression=float(setup.get("compression", 1.0)),
        solver=str(setup.get("solver", "cbc")),
        cloud=_cluster(setup["cloud"]) if "cloud" in setup else None,
    )
    if baseline == "single-device":
        return plan.single_device_s / plan.latency_s
    assert plan.cloud is not None
    return plan.cloud.total_s / plan.latency_s


@evaluator("modnn_speedup", setup=("model", "cluster", "workers"), optional=("partition",))
def modnn_speedup(setup: Mapping[str, Any], ctx: Context) -> float:
    """One worker's time / MoDNN's time with `workers` devices of the cluster (planner.cost.modnn)."""
    from planner.cost.modnn import modnn

    cluster = _cluster(setup["cluster"])
    workers = whole(setup, "workers")
    if workers > cluster.total_devices:
        raise ValueError(f"{cluster.name} has {cluster.total_devices} devices, not {workers}")
    result = modnn(
        _cnn(setup["model"]),
        [cluster.device] * workers,
        cluster.levels[-1].link,
        setup.get("partition", "1d"),
    )
    return result.speedup


@evaluator(
    "ddnn_communication_reduction",
    setup=("raw_bytes", "classes", "local_exit", "filters", "filter_bits"),
    optional=("devices", "aggregation"),
)
def ddnn_communication_reduction(setup: Mapping[str, Any], ctx: Context) -> float:
    """Raw input bytes / DDNN's bytes per end device and sample, 4|C| + (1 - l)·f·o/8 (DDNN Eq. 1), through
    the multi-device model (planner.cost.edge_ddnn: `devices` end devices, `aggregation` max/avg/concat)."""
    from planner.cost.edge_baselines import wan_link
    from planner.cost.edge_ddnn import DDNNConfig, ddnn_cost

    local = setup["local_exit"]
    if isinstance(local, bool) or not isinstance(local, (int, float)):
        raise ValueError(f"local_exit must be a fraction, got {local!r}")
    raw = setup["raw_bytes"]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        raise ValueError(f"raw_bytes must be > 0, got {raw!r}")
    config = DDNNConfig(
        devices=whole(setup, "devices") if "devices" in setup else 1,
        classes=whole(setup, "classes"),
        filters=whole(setup, "filters"),
        filter_bits=whole(setup, "filter_bits"),
        local_exit=float(local),
        aggregation=str(setup.get("aggregation", "max")),
    )
    # the links set the latency, not the bytes: the catalog's local Wi-Fi and WAN
    links = _cluster("pi-cluster").levels[-1].link, wan_link(_cluster("cloud-v100"))
    return ddnn_cost(config, float(raw), *links).reduction
