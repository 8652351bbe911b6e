"""Data-parallel training: iteration time, its breakdown, throughput, speedup, cost (the best all-reduce
and scaling over N: planner.cost.dp_scaling).

One iteration on N devices, each holding a full replica and processing its own minibatch of b samples:

    iteration = forward + backward + exposed gradient synchronisation + weight update

* Forward / backward per layer on one device (planner.cost.compute.layer_times): the roofline of the
  layer's FLOP and bytes for FLOP-derived profiles (backward FLOP as the profile gives them: 2 × forward
  for conv / fc, planner.cost.layers), or the measured times scaled linearly with the batch.
* Gradient synchronisation: an all-reduce of every layer's gradient (parameters × the dtype's bytes)
  among the N devices, by one of planner.cost.cluster_allreduce's algorithms; one device synchronises nothing.
* Overlap (PyTorch DDP, Li et al. VLDB 2020): gradients grouped in buckets whose all-reduces overlap the
  backward pass (planner.cost.dp_buckets); the all-reduce kernels slow the backward pass they overlap by
  the device's `collective_overlap_slowdown` (planner.cost.overlap), and the last bucket's all-reduce
  stays exposed.
* Update: the optimizer step is memory-bound: parameters × update_bytes_per_parameter
  (planner.cost.memory) over the device's sustained memory bandwidth, on every replica.

Throughput = global batch / iteration time. Speedup is throughput over that of one device: with weak
scaling (b fixed per device, global batch N·b) the one-device run processes b; with strong scaling (the
global batch B fixed, ceil(B/N) per device, the slowest device setting the time) it processes B (with
gradient accumulation if B does not fit). Scaling efficiency = speedup / N.

Cost: the cluster's price is per server (the outermost level's unit) and hour; N devices occupy
ceil(N / devices per server) servers. Units: seconds, bytes, samples, US dollars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from planner.cost.compute import LayerArrays, layer_times, sustained_memory_bandwidth
from planner.cost.dp_buckets import DDP_BUCKET_BYTES, FloatArray, Iteration, SyncFn, simulate_iteration
from planner.cost.lr_schedule import IMAGENET_TRAIN_SAMPLES, iterations_per_epoch
from planner.cost.memory import TrainingMemory, training_memory, update_bytes_per_parameter
from planner.cost.overlap import compute_slowdown
from planner.spec.hardware import Cluster, Device


class CollectiveLike(Protocol):
    """What the planner reads from one all-reduce estimate (planner.cost.collective_layout.CollectiveResult);
    read-only, so that a frozen dataclass satisfies it."""

    @property
    def algorithm(self) -> str: ...
    @property
    def time_s(self) -> float: ...
    @property
    def lower_bound_s(self) -> float: ...
    @property
    def bytes_sent_per_device(self) -> float: ...
    @property
    def busiest_link(self) -> str: ...
    @property
    def notes(self) -> Any: ...

    def to_dict(self) -> dict[str, Any]: ...


# (cluster, message bytes, algorithm, devices) -> the collective's estimate
CollectiveFn = Callable[[Cluster, float, str, int], CollectiveLike]


@dataclass(frozen=True)
class Setup:
    """What stays fixed while N, the batch and the algorithm vary."""

    arrays: LayerArrays
    cluster: Cluster
    dtype: str = "fp32"
    optimizer: str = "sgd"
    overlap: bool = True
    bucket_bytes: float = DDP_BUCKET_BYTES
    overlap_slowdown: float | None = None  # None: the device's (planner.cost.overlap); 0: no contention
    measured_on: Device | None = None  # the device a measured profile's times come from, if known
    epoch_samples: int = IMAGENET_TRAIN_SAMPLES

    @property
    def device(self) -> Device:
        return self.cluster.resolved_device

    @property
    def slowdown(self) -> float:
        """Backward throughput lost while an all-reduce overlaps it (overlap_slowdown, else the device's)."""
        return compute_slowdown(self.device) if self.overlap_slowdown is None else self.overlap_slowdown

    @property
    def parameters(self) -> int:
        return int(self.arrays.parameters.sum())

    def gradient_bytes(self) -> FloatArray:
        """Bytes of each layer's gradient in the training dtype (fp16 / bf16 under mixed precision)."""
        return self.arrays.parameter_bytes * self.arrays.dtype_scale(self.dtype)

    def update_s(self) -> float:
        """Optimizer step time: parameters × bytes moved per parameter / sustained memory bandwidth."""
        moved = self.parameters * update_bytes_per_parameter(self.dtype, self.optimizer)
        return moved / sustained_memory_bandwidth(self.device)

    def update_s_per_parameter_byte(self) -> float:
        """The optimizer step per byte of parameters (a pipeline stage's step: its bytes × this)."""
        total = float(self.arrays.parameter_bytes.sum())
        return self.update_s() / total if total > 0 else 0.0

    def memory(self, batch: float) -> TrainingMemory:
        """Per-device memory for a per-device batch (planner.cost.memory; activations in the dtype)."""
        activations = float(self.arrays.output_bytes.sum()) * self.arrays.dtype_scale(self.dtype) * batch
        return training_memory(self.parameters, activations, self.dtype, self.optimizer)

    def servers(self, devices: int) -> int:
        """Servers (outermost units) that `devices` devices occupy, filling servers first."""
        return math.ceil(devices / self.cluster.devices_per_server)


@dataclass(frozen=True)
class DPResult:
    """One configuration: N devices, a per-device batch, an algorithm; speedup against one device."""

    devices: int
    servers: int
    batch_per_device: int
    global_batch: int
    algorithm: str
    iteration: Iteration
    memory: TrainingMemory
    fits: bool
    gradient_bytes: float
    baseline_iteration_s: float  # one device, same per-device batch (weak) or the whole global batch (strong)
    baseline_batch: int
    iterations_per_epoch: int
    price_usd_per_server_hour: float | None

    @property
    def iteration_s(self) -> float:
        return self.iteration.iteration_s

    @property
    def throughput(self) -> float:
        """Samples per second."""
        return self.global_batch / self.iteration_s

    @property
    def speedup(self) -> float:
        return self.throughput / (self.baseline_batch / self.baseline_iteration_s)

    @property
    def scaling_efficiency(self) -> float:
        return self.speedup / self.devices

    @property
    def epoch_s(self) -> float:
        return self.iterations_per_epoch * self.iteration_s

    @property
    def cost_per_iteration_usd(self) -> float | None:
        if self.price_usd_per_server_hour is None:
            return None
        return self.servers * self.price_usd_per_server_hour * self.iteration_s / 3600.0

    @property
    def cost_per_epoch_usd(self) -> float | None:
        per = self.cost_per_iteration_usd
        return None if per is None else per * self.iterations_per_epoch

    def to_dict(self) -> dict[str, Any]:
        it = self.iteration
        return {
            "devices": self.devices,
            "servers": self.servers,
            "batch_per_device": self.batch_per_device,
            "global_batch": self.global_batch,
            "algorithm": self.algorithm,
            "forward_s": it.forward_s,
            "backward_s": it.backward_s,
            "compute_s": it.compute_s,
            "sync_total_s": it.sync_total_s,
            "sync_exposed_s": it.sync_exposed_s,
            "contention_s": it.contention_s,
            "update_s": it.update_s,
            "iteration_s": self.iteration_s,
            "throughput_samples_per_s": self.throughput,
            "speedup": self.speedup,
            "scaling_efficiency": self.scaling_efficiency,
            "baseline_iteration_s": self.baseline_iteration_s,
            "baseline_batch": self.baseline_batch,
            "buckets": len(it.buckets),
            "gradient_bytes": self.gradient_bytes,
            "memory_per_device_bytes": self.memory.total_bytes,
            "fits": self.fits,
            "iterations_per_epoch": self.iterations_per_epoch,
            "epoch_s": self.epoch_s,
            "cost_per_iteration_usd": self.cost_per_iteration_usd,
            "cost_per_epoch_usd": self.cost_per_epoch_usd,
        }


def compute_times(setup: Setup, batch: float) -> tuple[FloatArray, FloatArray]:
    """Per-layer forward and backward seconds on the cluster's device for `batch` samples."""
    times = layer_times(setup.arrays, setup.device, setup.dtype, batch, setup.measured_on)
    return times.forward, times.backward


def evaluate(
    setup: Setup,
    devices: int,
    batch_per_device: int,
    algorithm: str,
    collective: CollectiveFn,
    *,
    global_batch: int | None = None,
    baseline_iteration_s: float | None = None,
) -> DPResult:
    """One configuration. `global_batch` None means weak scaling (N · b); given, it is strong scaling's B
    (b = ceil(B / N) is the slowest device's share). The one-device baseline is computed unless given."""
    if devices < 1 or devices > setup.cluster.total_devices:
        raise ValueError(f"devices must be in 1..{setup.cluster.total_devices}, got {devices}")
    if batch_per_device < 1:
        raise ValueError(f"the per-device batch must be >= 1, got {batch_per_device}")
    total_batch = devices * batch_per_device if global_batch is None else global_batch
    baseline_batch = batch_per_device if global_batch is None else global_batch
    forward, backward = compute_times(setup, batch_per_device)
    update_s = setup.update_s()
    sync: SyncFn | None = None
    if devices > 1:
        cache: dict[float, float] = {}

        def sync(size: float) -> float:
            if size not in cache:
                cache[size] = collective(setup.cluster, size, algorithm, devices).time_s
            return cache[size]

    iteration = simulate_iteration(
        forward,
        backward,
        setup.gradient_bytes(),
        update_s,
        sync,
        overlap=setup.overlap,
        bucket_bytes=setup.bucket_bytes,
        slowdown=setup.slowdown,
    )
    if baseline_iteration_s is None:
        if devices == 1 and baseline_batch == batch_per_device:
            baseline_iteration_s = iteration.iteration_s
        else:
            f1, b1 = compute_times(setup, baseline_batch)
            baseline_iteration_s = float(f1.sum() + b1.sum()) + update_s
    memory = setup.memory(batch_per_device)
    price = setup.cluster.price.usd_per_hour if setup.cluster.price is not None else None
    return DPResult(
        devices=devices,
        servers=setup.servers(devices),
        batch_per_device=batch_per_device,
        global_batch=total_batch,
        algorithm=algorithm if devices > 1 else "none",
        iteration=iteration,
        memory=memory,
        fits=memory.total_bytes <= setup.device.usable_memory,
        gradient_bytes=float(setup.gradient_bytes().sum()),
        baseline_iteration_s=baseline_iteration_s,
        baseline_batch=baseline_batch,
        iterations_per_epoch=iterations_per_epoch(setup.epoch_samples, total_batch),
        price_usd_per_server_hour=price,
    )


def default_collective(cluster: Cluster, size: float, algorithm: str, devices: int) -> CollectiveLike:
    """An all-reduce of `size` bytes among the first `devices` devices of `cluster`
    (planner.cost.cluster_allreduce.allreduce_on_cluster with its defaults)."""
    from planner.cost.cluster_allreduce import allreduce_on_cluster

    return allreduce_on_cluster(cluster, size, algorithm, devices=devices)


def all_algorithms() -> tuple[str, ...]:
    """The all-reduce algorithms registered in planner.cost.collective_registry."""
    from planner.cost.collective_registry import algorithm_names

    return algorithm_names()
