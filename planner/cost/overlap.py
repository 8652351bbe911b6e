"""How a gradient all-reduce overlaps the backward pass, as it happens rather than as the perfect bound.

Two effects make overlap imperfect (both in data parallelism, planner.cost.dp_buckets, and in the
replicated stages of a pipeline, planner.cost.stage_costs):

* Contention. NCCL's collective kernels run on the device's own SMs and stream through its memory while
  the backward kernels run beside them, so the backward pass slows down while an all-reduce is in flight
  (Rashidi et al., "Enabling Compute-Communication Overlap in Distributed Deep Learning Training
  Platforms", ISCA 2021, Sec. 2-3: the collective's kernels compete with the compute kernels for SMs and
  memory bandwidth; Jangda et al., CoCoNet, ASPLOS 2022, Sec. 2). Modelled as a fixed fraction
  `slowdown` of the backward throughput lost for every second an all-reduce overlaps it.
* The exposed tail. Gradients are all-reduced in buckets in reverse layer order (PyTorch DDP, Li et al.,
  VLDB 2020, Sec. 3.2.3); the last bucket (the first layers' gradients) is ready only when the backward
  pass ends, so its all-reduce is never hidden.

`best_case=True` keeps the old max(backward, all-reduce) bound: perfect overlap, no tail, no contention.
Units: seconds, bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.cost.dp_buckets import DDP_BUCKET_BYTES
from planner.spec.hardware import Device

# The default fraction of compute throughput lost while an all-reduce runs beside it, for a device whose
# spec gives no `collective_overlap_slowdown` (planner.spec.hardware.Device; the sourced per-GPU values are
# in hardware/devices/*.yaml). A system figure, not fitted to any validation case: NCCL's kernels hold
# whole SMs (one CTA per channel; "NCCL CTAs won't share an SM with compute kernels", NCCL maintainer,
# github.com/NVIDIA/nccl issue 689), and an all-reduce on an H100 launched 24 blocks on its 132 SMs =
# 0.18 (Nsight Systems; NVIDIA developer forum, "Compute-Communication Overlap Causes Severe GEMM
# Performance Degradation because of Tail Effect", 2025). confidence: recalled for any other device; the
# collective's memory-bandwidth share, which can be larger for memory-bound layers, is not added.
OVERLAP_COMPUTE_SLOWDOWN = 0.18

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Overlap:
    """How gradient all-reduces overlap the backward pass (module doc)."""

    slowdown: float = OVERLAP_COMPUTE_SLOWDOWN  # backward throughput lost while an all-reduce runs
    bucket_bytes: float = DDP_BUCKET_BYTES  # gradient bucket; the last one is the exposed tail
    best_case: bool = False  # the perfect-overlap bound max(backward, all-reduce)

    def __post_init__(self) -> None:
        if not 0.0 <= self.slowdown < 1.0:
            raise ValueError(f"overlap slowdown must be in [0, 1), got {self.slowdown}")
        if not self.bucket_bytes > 0:
            raise ValueError(f"overlap bucket_bytes must be > 0, got {self.bucket_bytes}")


BEST_CASE = Overlap(slowdown=0.0, best_case=True)


def compute_slowdown(device: Device | None) -> float:
    """The device's `collective_overlap_slowdown`, or OVERLAP_COMPUTE_SLOWDOWN when it gives none (or when
    there is no device: measured times on a cluster built from bandwidths alone)."""
    if device is None or device.collective_overlap_slowdown is None:
        return OVERLAP_COMPUTE_SLOWDOWN
    return device.collective_overlap_slowdown


def device_overlap(device: Device | None, bucket_bytes: float = DDP_BUCKET_BYTES) -> Overlap:
    """How an all-reduce overlaps compute on `device` (its contention slowdown, gradient buckets)."""
    return Overlap(slowdown=compute_slowdown(device), bucket_bytes=bucket_bytes)


def backward_phase(backward: Any, sync: Any, tail: Any, overlap: Overlap) -> Array:
    """Seconds from the start of the backward pass to the end of the last all-reduce.

    `sync` is the whole gradient's all-reduce time, `tail` that of its last bucket (<= sync). The part
    sync - tail can run under the backward pass, which it slows by `slowdown` per second overlapped;
    the tail starts when both the backward pass and the earlier buckets are done:
    max(B + s · min(sync - tail, B), sync - tail) + tail. Best case: max(B, sync).
    """
    b = np.asarray(backward, dtype=float)
    total = np.asarray(sync, dtype=float)
    if overlap.best_case:
        return np.maximum(b, total)
    last = np.minimum(np.asarray(tail, dtype=float), total)
    head = total - last
    return np.maximum(b + overlap.slowdown * np.minimum(head, b), head) + last
