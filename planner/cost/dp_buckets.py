"""One data-parallel iteration from per-layer times, gradient sizes and an all-reduce time function: DDP's
gradient buckets and their overlap with the backward pass.

Overlap (PyTorch DDP; Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training", VLDB 2020, Sec. 3.2.3 and 4.2): gradients are grouped in buckets of `bucket_bytes` (DDP's
default bucket_cap_mb = 25, i.e. 25 MiB) in reverse layer order, the order backward produces them; a
bucket closes once it holds at least `bucket_bytes`. A bucket's all-reduce starts when its last
gradient is ready (the backward of its earliest layer is done) and the previous bucket's all-reduce has
finished (one communication stream, as NCCL runs them); the iteration's backward phase ends when both
the computation and the last all-reduce have finished. Without overlap the same buckets are all-reduced
one after another once the whole backward pass is done.
Contention (planner.cost.overlap): while an all-reduce runs under the backward pass its kernels take a
fraction `slowdown` of the device's throughput, so the backward pass lasts s · (seconds overlapped)
longer. One fixed-point step: the timeline is simulated, the backward layers are stretched uniformly by
the time lost, and the timeline is simulated again with the later ready times (the overlap of the second
pass is not fed back again). With s = 0 this is the plain bucket timeline.
Not modelled: DDP's smaller first bucket (1 MiB).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DDP_BUCKET_BYTES = 25 * 2**20  # torch DistributedDataParallel(bucket_cap_mb=25): 25 MiB
FloatArray = npt.NDArray[np.float64]
SyncFn = Callable[[float], float]  # bytes of one all-reduce -> seconds


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
    sync_exposed_s: float  # what the all-reduces add after the (slowed) backward pass
    update_s: float
    buckets: tuple[BucketSync, ...]
    contention_s: float = 0.0  # backward time lost to the all-reduce kernels running beside it

    @property
    def compute_s(self) -> float:
        return self.forward_s + self.backward_s

    @property
    def iteration_s(self) -> float:
        return self.forward_s + self.backward_s + self.contention_s + self.sync_exposed_s + self.update_s


def simulate_iteration(
    forward: npt.ArrayLike,
    backward: npt.ArrayLike,
    gradient_bytes: npt.ArrayLike,
    update_s: float,
    sync: SyncFn | None,
    *,
    overlap: bool = True,
    bucket_bytes: float = DDP_BUCKET_BYTES,
    slowdown: float = 0.0,
) -> Iteration:
    """The breakdown of one data-parallel iteration (module doc); `sync` None means one device (no sync);
    `slowdown` the backward throughput lost while an all-reduce overlaps it (planner.cost.overlap)."""
    fwd = np.asarray(forward, dtype=float)
    bwd = np.asarray(backward, dtype=float)
    forward_s, backward_s = float(fwd.sum()), float(bwd.sum())
    if sync is None:
        return Iteration(forward_s, backward_s, 0.0, 0.0, update_s, ())
    sizes = np.asarray(gradient_bytes, dtype=float)
    buckets = assign_buckets(sizes, bucket_bytes)
    timeline = _timeline(forward_s, bwd, sizes, buckets, sync, overlap)
    contention = 0.0
    if overlap and slowdown > 0 and backward_s > 0:
        hidden = sum(max(0.0, min(b.end_s, forward_s + backward_s) - b.start_s) for b in timeline)
        if hidden > 1e-9 * backward_s:  # less is the round-off of the ready times' cumulative sum
            contention = slowdown * hidden
        timeline = _timeline(forward_s, bwd * (1.0 + contention / backward_s), sizes, buckets, sync, overlap)
    total = sum(b.end_s - b.start_s for b in timeline)
    exposed = max(0.0, timeline[-1].end_s - (forward_s + backward_s + contention)) if timeline else 0.0
    return Iteration(forward_s, backward_s, total, exposed, update_s, tuple(timeline), contention)


def _timeline(
    forward_s: float,
    backward: FloatArray,
    sizes: FloatArray,
    buckets: list[tuple[int, ...]],
    sync: SyncFn,
    overlap: bool,
) -> list[BucketSync]:
    """The buckets' all-reduces, one at a time, each from when it is ready (or the backward's end)."""
    ready = gradient_ready_times(forward_s, backward)
    compute_end = forward_s + float(backward.sum())
    timeline: list[BucketSync] = []
    free_at = 0.0
    for layers in buckets:
        size = float(sizes[list(layers)].sum())
        bucket_ready = float(ready[layers[-1]]) if overlap else compute_end
        start = max(bucket_ready, free_at)
        free_at = start + sync(size)
        timeline.append(BucketSync(layers, size, bucket_ready, start, free_at))
    return timeline
