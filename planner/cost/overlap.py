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

# Fraction of the backward pass's throughput lost while an all-reduce runs beside it. A system figure,
# not fitted to any validation case. Source: the share of the SMs NCCL's kernels occupy during a
# collective, 24 thread blocks (one per SM) of an H100's 132 SMs = 0.18, observed with Nsight Systems
# (NVIDIA developer forum, "Compute-Communication Overlap Causes Severe GEMM Performance Degradation
# because of Tail Effect", 2025); the same order as the SM share NCCL takes on V100 by its default channel
# count. confidence: recalled (no V100 / P100 measurement at hand); the memory-bandwidth share of the
# collective, which can be larger for memory-bound layers, is not added.
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
