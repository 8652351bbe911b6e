"""Evaluators of data parallelism: scaling efficiency, speedup, time to train; the large-minibatch
learning-rate rules; training memory per parameter.

A data-parallel setup names a model (catalog name or `data:` file), a cluster (catalog name, or an inline
cluster mapping in the catalog's format for a system the catalog lacks), the per-device batch and the
algorithm (or best). Throughputs are those of planner.cost.data_parallel.evaluate (weak scaling).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator
from planner.validate.evaluators.models import _model

DP_SETUP = ("model", "cluster", "batch", "devices")
DP_OPTIONAL = (
    "servers",
    "baseline_devices",
    "dtype",
    "optimizer",
    "algorithm",
    "overlap",
    "bucket",
    "profile_batch",
    "epochs",
    "epoch_samples",
)


def _cluster(value: Any, servers: Any) -> Any:
    from planner.spec.catalog import build_spec, find

    if isinstance(value, str):
        cluster = find("hardware", value, ("cluster",))
    elif isinstance(value, Mapping):
        import yaml

        from planner.spec.yamlio import parse_yaml

        doc = parse_yaml(yaml.safe_dump(dict(value), sort_keys=False), "case setup: cluster")
        cluster = build_spec(doc, ("cluster",))
    else:
        raise ValueError("cluster must be a catalog name or a cluster mapping")
    return cluster if servers is None else cluster.with_top_count(int(servers))


def _setup(setup: Mapping[str, Any], ctx: Context) -> Any:
    from planner.cost.compute import layer_arrays
    from planner.cost.data_parallel import Setup
    from planner.cost.dp_buckets import DDP_BUCKET_BYTES
    from planner.cost.layers import derive_profile
    from planner.cost.lr_schedule import IMAGENET_TRAIN_SAMPLES
    from planner.units import parse_quantity

    spec = _model(setup["model"], ctx)
    if spec.spec == "cnn":
        arrays = layer_arrays(derive_profile(spec, 1))
    elif spec.spec == "profile":
        arrays = layer_arrays(spec, setup.get("profile_batch"))
    else:
        raise ValueError(
            f"data parallelism needs a CNN or a layer profile, and '{spec.name}' is a {spec.spec}"
        )
    bucket = setup.get("bucket")
    return Setup(
        arrays=arrays,
        cluster=_cluster(setup["cluster"], setup.get("servers")),
        dtype=setup.get("dtype", "fp32"),
        optimizer=setup.get("optimizer", "sgd"),
        overlap=bool(setup.get("overlap", True)),
        bucket_bytes=DDP_BUCKET_BYTES if bucket is None else parse_quantity(str(bucket), "memory"),
        epoch_samples=int(setup.get("epoch_samples", IMAGENET_TRAIN_SAMPLES)),
    )


def _result(setup: Mapping[str, Any], ctx: Context, devices: int) -> Any:
    """The weak-scaling result on `devices` devices, with the fastest algorithm when it says best."""
    from planner.cost import data_parallel as dp
    from planner.cost.dp_scaling import best_result

    s = _setup(setup, ctx)
    algorithm = setup.get("algorithm", "best")
    names = dp.all_algorithms() if algorithm == "best" else (algorithm,)
    return best_result(s, devices, int(setup["batch"]), names, dp.default_collective)[0]


@evaluator("dp_scaling_efficiency", setup=DP_SETUP, optional=DP_OPTIONAL)
def dp_scaling_efficiency(setup: Mapping[str, Any], ctx: Context) -> float:
    """Throughput on `devices` over (devices / baseline_devices) × the throughput on `baseline_devices`
    (default 1), the per-device batch fixed (weak scaling); a fraction, 1 = linear."""
    devices, base = int(setup["devices"]), int(setup.get("baseline_devices", 1))
    big, small = _result(setup, ctx, devices), _result(setup, ctx, base)
    return (big.throughput / small.throughput) / (devices / base)


@evaluator("dp_speedup", setup=DP_SETUP, optional=DP_OPTIONAL)
def dp_speedup(setup: Mapping[str, Any], ctx: Context) -> float:
    """Throughput on `devices` over the throughput on `baseline_devices` (default 1), weak scaling."""
    devices, base = int(setup["devices"]), int(setup.get("baseline_devices", 1))
    return _result(setup, ctx, devices).throughput / _result(setup, ctx, base).throughput


@evaluator("dp_time_to_train", setup=(*DP_SETUP, "epochs"), optional=DP_OPTIONAL)
def dp_time_to_train(setup: Mapping[str, Any], ctx: Context) -> float:
    """Seconds for `epochs` epochs of `epoch_samples` samples (default ImageNet-1k) on `devices` devices."""
    result = _result(setup, ctx, int(setup["devices"]))
    return float(setup["epochs"]) * result.epoch_s


def _schedule(setup: Mapping[str, Any]) -> Any:
    from planner.cost.lr_schedule import IMAGENET_TRAIN_SAMPLES, LRSchedule

    return LRSchedule(
        base_lr=float(setup["base_lr"]),
        base_batch=int(setup["base_batch"]),
        batch=int(setup["batch"]),
        warmup_epochs=float(setup.get("warmup_epochs", 5)),
        dataset_size=int(setup.get("dataset_size", IMAGENET_TRAIN_SAMPLES)),
    )


LR_SETUP = ("base_lr", "base_batch", "batch")


@evaluator("lr_linear_scaling", setup=LR_SETUP)
def lr_linear_scaling(setup: Mapping[str, Any], ctx: Context) -> float:
    """Goyal et al. 2017's linear scaling rule: base_lr × batch / base_batch."""
    from planner.cost.lr_schedule import linear_scaled_lr

    return linear_scaled_lr(float(setup["base_lr"]), float(setup["base_batch"]), float(setup["batch"]))


@evaluator("lr_warmup_increment", setup=LR_SETUP, optional=("warmup_epochs", "dataset_size"))
def lr_warmup_increment(setup: Mapping[str, Any], ctx: Context) -> float:
    """The constant per-iteration increment of gradual warm-up, (k − 1)·base_lr / warm-up iterations."""
    return _schedule(setup).warmup_increment


@evaluator("lr_at_epoch", setup=(*LR_SETUP, "epoch"), optional=("warmup_epochs", "dataset_size"))
def lr_at_epoch(setup: Mapping[str, Any], ctx: Context) -> float:
    """The rate at the first iteration of `epoch` (0-based) of the Goyal et al. schedule."""
    return _schedule(setup).lr_at_epoch(float(setup["epoch"]))


@evaluator("training_state_bytes", setup=("parameters", "dtype", "optimizer"))
def training_state_bytes(setup: Mapping[str, Any], ctx: Context) -> float:
    """Bytes of weights, gradients, master weights and optimizer state for `parameters` parameters."""
    from planner.cost.memory import training_memory

    return training_memory(
        int(float(setup["parameters"])), 0.0, setup["dtype"], setup["optimizer"]
    ).total_bytes
