"""Data-parallel training: iteration time, its breakdown, the best all-reduce, scaling over N, cost.

One iteration on N devices, each holding a full replica and processing its own minibatch of b samples:

    iteration = forward + backward + exposed gradient synchronisation + weight update

* Forward / backward per layer on one device (planner.cost.compute.layer_times): the roofline of the
  layer's FLOP and bytes for FLOP-derived profiles (backward FLOP as the profile gives them: 2 × forward
  for conv / fc, planner.cost.layers), or the measured times scaled linearly with the batch.
* Gradient synchronisation: an all-reduce of every layer's gradient (parameters × the dtype's bytes)
  among the N devices, by one of planner.cost.collectives' algorithms; one device synchronises nothing.
* Overlap (PyTorch DDP; Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
  Training", VLDB 2020, Sec. 3.2.3 and 4.2): gradients are grouped in buckets of `bucket_bytes` (DDP's
  default bucket_cap_mb = 25, i.e. 25 MiB) in reverse layer order, the order backward produces them; a
  bucket closes once it holds at least `bucket_bytes`. A bucket's all-reduce starts when its last
  gradient is ready (the backward of its earliest layer is done) and the previous bucket's all-reduce has
  finished (one communication stream, as NCCL runs them); the iteration's backward phase ends when both
  the computation and the last all-reduce have finished. Without overlap the same buckets are all-reduced
  one after another once the whole backward pass is done, so overlap is never slower by construction.
  Not modelled: DDP's smaller first bucket (1 MiB), contention between the all-reduce and the backward
  kernels for memory bandwidth and SMs.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from planner.cost.compute import (
    LayerArrays,
    is_mixed_precision,
    layer_times,
    sustained_compute,
    sustained_memory_bandwidth,
)
from planner.cost.lr_schedule import IMAGENET_TRAIN_SAMPLES, iterations_per_epoch
from planner.cost.memory import TrainingMemory, training_memory, update_bytes_per_parameter
from planner.errors import InfeasibleError
from planner.spec.hardware import Cluster, Device

DDP_BUCKET_BYTES = 25 * 2**20  # torch DistributedDataParallel(bucket_cap_mb=25): 25 MiB
FloatArray = npt.NDArray[np.float64]
SyncFn = Callable[[float], float]  # bytes of one all-reduce -> seconds


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


# ---------------------------------------------------------------------------------------------------------
# One iteration from per-layer times, gradient sizes and an all-reduce time function.


def assign_buckets(gradient_bytes: npt.ArrayLike, bucket_bytes: float) -> list[tuple[int, ...]]:
    """Layer indices per bucket, DDP-style: walk the layers in reverse, skip those without gradients, and
    close a bucket once it holds >= `bucket_bytes` (a bucket may exceed the cap by its last layer)."""
    if not bucket_bytes > 0:
        raise ValueError(f"bucket_bytes must be > 0, got {bucket_bytes}")
    sizes = np.asarray(gradient_bytes, dtype=float)
    buckets: list[tuple[int, ...]] = []
    current: list[int] = []
    held = 0.0
    for index in range(len(sizes) - 1, -1, -1):
        if sizes[index] <= 0:
            continue
        current.append(index)
        held += sizes[index]
        if held >= bucket_bytes:
            buckets.append(tuple(current))
            current, held = [], 0.0
    if current:
        buckets.append(tuple(current))
    return buckets


def gradient_ready_times(forward_s: float, backward: npt.ArrayLike) -> FloatArray:
    """When each layer's gradient is ready: forward + the backward of every layer from the last down to
    and including it (backward runs in reverse layer order)."""
    back = np.asarray(backward, dtype=float)
    return forward_s + np.cumsum(back[::-1])[::-1]


@dataclass(frozen=True)
class BucketSync:
    """One bucket's all-reduce on the timeline of an iteration (seconds from the iteration's start)."""

    layers: tuple[int, ...]
    bytes: float
    ready_s: float
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Iteration:
    """One iteration's breakdown on one replica (seconds)."""

    forward_s: float
    backward_s: float
    sync_total_s: float  # the sum of the buckets' all-reduce times
    sync_exposed_s: float  # what the all-reduces add after the backward pass
    update_s: float
    buckets: tuple[BucketSync, ...]

    @property
    def compute_s(self) -> float:
        return self.forward_s + self.backward_s

    @property
    def iteration_s(self) -> float:
        return self.forward_s + self.backward_s + self.sync_exposed_s + self.update_s


def simulate_iteration(
    forward: npt.ArrayLike,
    backward: npt.ArrayLike,
    gradient_bytes: npt.ArrayLike,
    update_s: float,
    sync: SyncFn | None,
    *,
    overlap: bool = True,
    bucket_bytes: float = DDP_BUCKET_BYTES,
) -> Iteration:
    """The breakdown of one data-parallel iteration (module doc); `sync` None means one device (no sync)."""
    fwd = np.asarray(forward, dtype=float)
    bwd = np.asarray(backward, dtype=float)
    forward_s, backward_s = float(fwd.sum()), float(bwd.sum())
    compute_end = forward_s + backward_s
    if sync is None:
        return Iteration(forward_s, backward_s, 0.0, 0.0, update_s, ())
    sizes = np.asarray(gradient_bytes, dtype=float)
    ready = gradient_ready_times(forward_s, bwd)
    timeline: list[BucketSync] = []
    free_at = 0.0
    for layers in assign_buckets(sizes, bucket_bytes):
        size = float(sizes[list(layers)].sum())
        bucket_ready = float(ready[layers[-1]]) if overlap else compute_end
        start = max(bucket_ready, free_at)
        free_at = start + sync(size)
        timeline.append(BucketSync(layers, size, bucket_ready, start, free_at))
    total = sum(b.end_s - b.start_s for b in timeline)
    exposed = max(0.0, free_at - compute_end)
    return Iteration(forward_s, backward_s, total, exposed, update_s, tuple(timeline))


# ---------------------------------------------------------------------------------------------------------
# A model on a cluster: workload per device, memory, results with throughput, speedup and cost.


@dataclass(frozen=True)
class Setup:
    """What stays fixed while N, the batch and the algorithm vary."""

    arrays: LayerArrays
    cluster: Cluster
    dtype: str = "fp32"
    optimizer: str = "sgd"
    overlap: bool = True
    bucket_bytes: float = DDP_BUCKET_BYTES
    measured_on: Device | None = None  # the device a measured profile's times come from, if known
    epoch_samples: int = IMAGENET_TRAIN_SAMPLES

    @property
    def device(self) -> Device:
        return self.cluster.resolved_device

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
        fits=memory.total_bytes <= setup.device.memory,
        gradient_bytes=float(setup.gradient_bytes().sum()),
        baseline_iteration_s=baseline_iteration_s,
        baseline_batch=baseline_batch,
        iterations_per_epoch=iterations_per_epoch(setup.epoch_samples, total_batch),
        price_usd_per_server_hour=price,
    )


def per_device_batch(global_batch: int, devices: int) -> int:
    """The slowest device's share of a global batch split over `devices`: ceil(B / N)."""
    return -(-global_batch // devices)


def scaling_sizes(cluster: Cluster) -> list[int]:
    """N for a scaling table: powers of two up to the cluster's size, one server, every whole number of
    servers when there are at most 8, and the whole cluster."""
    total, per_server = cluster.total_devices, cluster.devices_per_server
    sizes = {1 << k for k in range(total.bit_length()) if 1 << k <= total}
    sizes |= {per_server, total}
    servers = cluster.levels[-1].count
    if servers <= 8:
        sizes |= {per_server * s for s in range(1, servers + 1)}
    return sorted(sizes)


@dataclass(frozen=True)
class AlgorithmOption:
    """One all-reduce algorithm at the plan's N: its iteration and the whole gradient's collective."""

    result: DPResult | None
    collective: CollectiveLike | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error}
        if self.result is not None:
            it = self.result.iteration
            out |= {
                "algorithm": self.result.algorithm,
                "sync_total_s": it.sync_total_s,
                "sync_exposed_s": it.sync_exposed_s,
                "iteration_s": self.result.iteration_s,
                "throughput_samples_per_s": self.result.throughput,
            }
        if self.collective is not None:
            c = self.collective
            out |= {
                "algorithm": c.algorithm,
                "gradient_allreduce_s": c.time_s,
                "gradient_lower_bound_s": c.lower_bound_s,
                "bytes_sent_per_device": c.bytes_sent_per_device,
                "busiest_link": c.busiest_link,
                "over_lower_bound": c.time_s / c.lower_bound_s if c.lower_bound_s > 0 else None,
            }
        return out


@dataclass(frozen=True)
class DPPlan:
    """The answer to `planner dp`: the chosen configuration, the alternatives, scaling tables, notes."""

    setup: Setup = field(repr=False)
    result: DPResult
    options: dict[str, AlgorithmOption]
    weak: tuple[DPResult, ...]
    strong: tuple[DPResult, ...]
    strong_scaling: bool
    reason: str
    notes: tuple[str, ...]


def _try(
    setup: Setup, devices: int, batch: int, algorithm: str, collective: CollectiveFn, **kw: Any
) -> DPResult | str:
    try:
        return evaluate(setup, devices, batch, algorithm, collective, **kw)
    except (ValueError, KeyError, NotImplementedError) as exc:  # an algorithm that does not apply here
        return f"{algorithm}: {exc}"


def best_result(
    setup: Setup,
    devices: int,
    batch: int,
    algorithms: Sequence[str],
    collective: CollectiveFn,
    **kw: Any,
) -> tuple[DPResult, dict[str, DPResult | str]]:
    """The algorithm with the lowest iteration time (ties: the first listed), and every outcome."""
    outcomes = {a: _try(setup, devices, batch, a, collective, **kw) for a in algorithms}
    valid = [r for r in outcomes.values() if isinstance(r, DPResult)]
    if not valid:
        raise ValueError("; ".join(str(v) for v in outcomes.values()))
    return min(valid, key=lambda r: r.iteration_s), outcomes


def plan(
    setup: Setup,
    devices: int,
    batch: int,
    algorithms: Sequence[str],
    collective: CollectiveFn,
    *,
    strong_scaling: bool = False,
) -> DPPlan:
    """Plan data parallelism on `devices` devices of `setup.cluster`.

    `batch` is the per-device batch (weak scaling), or the global batch with `strong_scaling`.
    `algorithms` lists the candidates (one, or all for "best"). Raises InfeasibleError when the chosen
    configuration's per-device memory exceeds the device's, ValueError for impossible inputs.
    """
    if devices < 1 or devices > setup.cluster.total_devices:
        raise ValueError(f"devices must be in 1..{setup.cluster.total_devices}, got {devices}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if strong_scaling and batch < devices:
        raise ValueError(f"a global batch of {batch} cannot be split over {devices} devices")
    sustained_compute(setup.device, setup.dtype)  # fail early for a dtype the device lacks
    b = per_device_batch(batch, devices) if strong_scaling else batch
    global_batch = batch if strong_scaling else None
    memory = setup.memory(b)
    if memory.total_bytes > setup.device.memory:
        raise InfeasibleError(_does_not_fit(setup, b, memory))

    chosen, outcomes = best_result(setup, devices, b, algorithms, collective, global_batch=global_batch)
    options: dict[str, AlgorithmOption] = {}
    grad = float(setup.gradient_bytes().sum())
    for name, outcome in outcomes.items():
        if isinstance(outcome, str):
            options[name] = AlgorithmOption(None, None, outcome)
            continue
        whole = collective(setup.cluster, grad, name, devices) if devices > 1 else None
        options[name] = AlgorithmOption(outcome, whole)

    weak_rows, strong_rows = [], []
    per_device = b
    total = devices * b if not strong_scaling else batch
    for n in scaling_sizes(setup.cluster):
        weak_rows.append(best_result(setup, n, per_device, algorithms, collective)[0])
        if total >= n:
            strong_rows.append(
                best_result(setup, n, per_device_batch(total, n), algorithms, collective, global_batch=total)[
                    0
                ]
            )
    return DPPlan(
        setup=setup,
        result=chosen,
        options=options,
        weak=tuple(weak_rows),
        strong=tuple(strong_rows),
        strong_scaling=strong_scaling,
        reason=_reason(chosen, outcomes),
        notes=tuple(_notes(setup, chosen, options)),
    )


def _does_not_fit(setup: Setup, batch: int, memory: TrainingMemory) -> str:
    gib = 2.0**30
    return (
        f"the model does not fit: {memory.total_bytes / gib:.2f} GiB per device needed "
        f"(model states {memory.model_states_bytes / gib:.2f} GiB for {memory.parameters:,} parameters "
        f"with {setup.optimizer} in {setup.dtype}, activations {memory.activations_bytes / gib:.2f} GiB "
        f"for a per-device batch of {batch}), but {setup.device.name} has "
        f"{setup.device.memory / gib:.2f} GiB; "
        "use a smaller batch, a 16-bit dtype (fp16), or more devices with global_batch"
    )


def _reason(chosen: DPResult, outcomes: dict[str, DPResult | str]) -> str:
    if chosen.devices == 1:
        return "one device: nothing to synchronise"
    others = sorted(
        (r for r in outcomes.values() if isinstance(r, DPResult) and r.algorithm != chosen.algorithm),
        key=lambda r: r.iteration_s,
    )
    it = chosen.iteration
    hidden = it.sync_total_s - it.sync_exposed_s
    if abs(hidden) <= 1e-9 * it.sync_total_s:  # rounding of total - exposed, not time hidden
        hidden = 0.0
    head = (
        f"{chosen.algorithm}: the lowest iteration time, {chosen.iteration_s * 1e3:.4g} ms; its all-reduces "
        f"take {it.sync_total_s * 1e3:.4g} ms, {hidden * 1e3:.4g} ms of it hidden behind the backward pass"
    )
    if not others:
        return head
    runner = others[0]
    gap = (runner.iteration_s / chosen.iteration_s - 1.0) * 100.0
    return f"{head}; next best {runner.algorithm} at {runner.iteration_s * 1e3:.4g} ms (+{gap:.3g}%)"


def _notes(setup: Setup, chosen: DPResult, options: dict[str, AlgorithmOption]) -> list[str]:
    arrays, device = setup.arrays, setup.device
    notes: list[str] = []
    if arrays.measured:
        where = setup.measured_on.name if setup.measured_on is not None else "an unstated device"
        rescale = (
            f"rescaled by sustained {setup.dtype} compute, {where} / {device.name}"
            if setup.measured_on is not None and setup.measured_on.name != device.name
            else f"used as measured on {device.name}"
        )
        notes.append(
            f"compute: the profile's measured times (from {where}), per sample × the per-device batch "
            f"(time linear in the batch), {rescale}; input (data-loading) nodes count as zero"
        )
    else:
        peak = sustained_compute(device, setup.dtype)
        notes.append(
            f"compute: roofline per layer (Williams et al. 2009) at {peak / 1e12:.4g} TFLOP/s sustained "
            f"{setup.dtype} ({device.name} peak × compute_efficiency {device.compute_efficiency:g}) and "
            f"{sustained_memory_bandwidth(device) / 1e9:.4g} GB/s; backward FLOP from the profile"
        )
    if is_mixed_precision(setup.dtype):
        notes.append(
            f"mixed precision: {setup.dtype} weights, activations and gradients (all-reduced in "
            f"{setup.dtype}), fp32 master weights (Micikevicius et al. 2018)"
        )
    mode = "overlapped with the backward pass" if setup.overlap else "after the backward pass (no overlap)"
    notes.append(
        f"sync: {len(chosen.iteration.buckets)} buckets of >= {setup.bucket_bytes / 2**20:.4g} MiB in "
        f"reverse layer order, all-reduced one at a time {mode} (PyTorch DDP, Li et al. VLDB 2020)"
    )
    notes.append(
        f"update: memory-bound optimizer step, {update_bytes_per_parameter(setup.dtype, setup.optimizer):g} "
        f"bytes per parameter ({setup.optimizer}, {setup.dtype}) over the device's sustained bandwidth"
    )
    option = options.get(chosen.algorithm)
    if option is not None and option.collective is not None:
        extra = option.collective.notes
        if isinstance(extra, str):
            extra = [extra]
        notes.extend(f"{chosen.algorithm}: {line}" for line in extra or ())
    return notes


def default_collective(cluster: Cluster, size: float, algorithm: str, devices: int) -> CollectiveLike:
    """An all-reduce of `size` bytes among the first `devices` devices of `cluster`
    (planner.cost.cluster_allreduce.allreduce_on_cluster with its defaults)."""
    from planner.cost.cluster_allreduce import allreduce_on_cluster

    return allreduce_on_cluster(cluster, size, algorithm, devices=devices)


def all_algorithms() -> tuple[str, ...]:
    """The all-reduce algorithms planner.cost.cluster_allreduce models."""
    from planner.cost.cluster_allreduce import ALGORITHMS

    return tuple(ALGORITHMS)
