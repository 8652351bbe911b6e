"""GPipe costed with GPipe's own partition: the layers split by planner.optimize.balance (exact min-max
stage), then the GPipe schedule's closed form (planner.cost.pipeline.gpipe_time).

Huang et al., GPipe, NeurIPS 2019, Sec. 2.2: "the partitioning algorithm minimizes the variance in the
estimated costs of all cells", i.e. it balances the per-layer cost estimates across the K partitions;
with re-materialisation (Sec. 2.3) a layer's cost per micro-batch is its forward, its backward and its
forward again, and that sum is what the balance weighs. Objective 'memory' balances parameter bytes
instead (torchgpipe's balance_by_size). Units: seconds, bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from planner.cost.pipeline import gpipe_time
from planner.optimize.balance import Balance, balance

OBJECTIVES = ("time", "memory")


@dataclass(frozen=True)
class GPipeCost:
    """One GPipe configuration: its balance and per-stage times per micro-batch (backward including the
    recomputed forward when re-materialising), and the time per minibatch."""

    balance: Balance
    microbatches: int
    forward_s: tuple[float, ...]
    backward_s: tuple[float, ...]
    time_s: float


def layer_weights(
    forward: Sequence[float],
    backward: Sequence[float],
    rematerialise: bool = True,
    memory: Sequence[float] | None = None,
) -> list[float]:
    """The balance's per-layer weights: f + b (+ f re-materialised), or `memory` (bytes) when given."""
    if memory is not None:
        return [float(m) for m in memory]
    return [f + b + (f if rematerialise else 0.0) for f, b in zip(forward, backward, strict=True)]


def gpipe_cost(
    forward: Sequence[float],
    backward: Sequence[float],
    stages: int,
    microbatches: int,
    rematerialise: bool = True,
    memory: Sequence[float] | None = None,
    transfer: Sequence[float] | float = 0.0,
) -> GPipeCost:
    """GPipe over `stages` balanced stages: per-layer `forward`/`backward` seconds of ONE micro-batch;
    `memory` (bytes per layer) balances by memory instead of time; `transfer` per boundary, seconds.
    ValueError for more stages than layers or a bad weight (planner.optimize.balance)."""
    split = balance(layer_weights(forward, backward, rematerialise, memory), stages)
    f = tuple(float(sum(forward[a:b])) for a, b in split.ranges)
    recompute = f if rematerialise else (0.0,) * len(f)
    b = tuple(float(sum(backward[a:e])) + r for (a, e), r in zip(split.ranges, recompute, strict=True))
    return GPipeCost(split, microbatches, f, b, gpipe_time(f, b, microbatches, transfer))


def normalised_throughput(
    layer_times: Callable[[int], tuple[Sequence[float], Sequence[float]]],
    stages: int,
    microbatches: int,
    reference: tuple[int, int],
    rematerialise: bool = True,
) -> float:
    """Throughput at (stages, microbatches) over throughput at reference (K0, M0), the same minibatch in
    both: layer_times(M) gives the per-layer forward/backward seconds of ONE micro-batch when the
    minibatch is split in M (a micro-batch is 1/M of it; fixed per-kernel costs do not shrink with it)."""

    def time(k: int, m: int) -> float:
        forward, backward = layer_times(m)
        return gpipe_cost(forward, backward, k, m, rematerialise).time_s

    return time(*reference) / time(stages, microbatches)
