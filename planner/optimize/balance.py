"""GPipe balance: the optimal contiguous K-way split of a chain of layers, and micro-batch advice.

Objective: minimise the largest stage sum (the bottleneck) over all splits of n layers with non-negative
weights into K contiguous, non-empty stages (K <= n). The weight is a layer's time (forward + backward:
the slowest stage sets a pipeline's pace, GPipe Sec. 2.3) or its memory (parameter bytes). This is the
"chains-on-chains" partitioning problem; we solve it exactly with Nicol's algorithm (D. M. Nicol,
"Rectilinear partitioning of irregular data parallel computations", JPDC 1994; survey: Pinar & Aykanat,
JPDC 2004), not a heuristic:

- probe(B): the greedy that ends each stage as late as its sum stays <= B (a binary search over the
  prefix sums) needs at most K stages iff bottleneck B is achievable. O(K log n).
- The first stage of an optimal split ends at the crossing of its own sum (non-decreasing in its end)
  and the optimal bottleneck of the rest with K - 1 stages (non-increasing): a binary search over the
  end with probe finds the crossing e, and the optimum is min(sum[0, e), opt(rest from e - 1, K - 1)).
  Recursing once per stage gives O(K² log² n) time after an O(n) prefix sum, O(n) memory.

Sums are differences of prefix sums, so integer weights are exact; with float weights every candidate
is compared as the same prefix-sum difference, exact up to the round-off of those prefix sums.

Tie-breaking (several splits often reach the optimum): we return the left-greedy one, each stage ending
as late as possible in order (earlier stages as long as the bottleneck allows) while leaving at least one
layer for every later stage. So no stage is ever empty, and the same inputs always give the same split.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planner.spec.profile import ModelProfile


@dataclass(frozen=True)
class Balance:
    """An optimal split: stage i holds layers [boundaries[i], boundaries[i+1]), boundaries[0] = 0."""

    boundaries: tuple[int, ...]
    stage_sums: tuple[float, ...]
    bottleneck: float

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layers per stage (torchgpipe's `balance` list)."""
        return tuple(b - a for a, b in pairwise(self.boundaries))

    @property
    def ranges(self) -> tuple[tuple[int, int], ...]:
        """[start, end) layer range of each stage."""
        return tuple(pairwise(self.boundaries))


def _prefix(weights: Sequence[float]) -> list[float]:
    values = list(weights)
    for w in values:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"weights must be finite numbers >= 0, got {w!r}")
    return [0, *accumulate(values)]


def _stage_end(prefix: list[float], start: int, bound: float) -> int:
    """The largest end e >= start with prefix[e] - prefix[start] <= bound (start if one layer exceeds it)."""
    e = bisect.bisect_right(prefix, prefix[start] + bound, lo=start) - 1
    n = len(prefix) - 1
    # prefix[start] + bound may round differently from the difference: settle on the difference itself
    while e > start and prefix[e] - prefix[start] > bound:
        e -= 1
    while e < n and prefix[e + 1] - prefix[start] <= bound:
        e += 1
    return e


def _feasible(prefix: list[float], start: int, stages: int, bound: float) -> bool:
    """Can layers [start, n) be split into at most `stages` stages of sum <= bound? (probe)"""
    n = len(prefix) - 1
    position = start
    for _ in range(stages):
        if position == n:
            return True
        end = _stage_end(prefix, position, bound)
        if end == position:
            return False
        position = end
    return position == n


def _optimal_bottleneck(prefix: list[float], stages: int) -> float:
    """Nicol's exact search: min over splits into `stages` non-empty stages of the largest stage sum."""
    n = len(prefix) - 1
    start, best = 0, math.inf
    for remaining in range(stages, 1, -1):
        # smallest end e in (start, n - remaining + 1] of the first stage whose own sum lets the rest fit
        # in remaining - 1 stages (the condition is monotone in e)
        lo, hi = start + 1, n - remaining + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if _feasible(prefix, mid, remaining - 1, prefix[mid] - prefix[start]):
                hi = mid
            else:
                lo = mid + 1
        if _feasible(prefix, lo, remaining - 1, prefix[lo] - prefix[start]):
            best = min(best, prefix[lo] - prefix[start])  # first stage [start, lo) is the bottleneck
            if lo - 1 == start:  # no shorter first stage: every other split is no better
                return best
            start = lo - 1  # else the first stage [start, lo - 1), the rest decides: one stage fewer
        else:  # even the longest first stage is below the rest's optimum: take it, the rest decides
            start = lo
    return min(best, prefix[n] - prefix[start])


def balance(weights: Sequence[float], stages: int) -> Balance:
    """The optimal contiguous split of `weights` into `stages` non-empty stages (min of the max stage sum).

    Exact (Nicol's algorithm, see the module docstring), O(n + K² log² n); ties broken left-greedy.
    ValueError if stages < 1 or stages > len(weights) (a stage would be empty) or a weight is negative.
    """
    n = len(weights)
    if isinstance(stages, bool) or not isinstance(stages, int) or stages < 1:
        raise ValueError(f"stages must be a whole number >= 1, got {stages!r}")
    if stages > n:
        raise ValueError(f"cannot split {n} layers into {stages} non-empty stages")
    prefix = _prefix(weights)
    bottleneck = _optimal_bottleneck(prefix, stages)
    boundaries = [0]
    for i in range(stages - 1):
        end = min(_stage_end(prefix, boundaries[-1], bottleneck), n - (stages - 1 - i))
        boundaries.append(max(end, boundaries[-1] + 1))
    boundaries.append(n)
    sums = tuple(float(prefix[b] - prefix[a]) for a, b in pairwise(boundaries))
    return Balance(tuple(boundaries), sums, float(bottleneck))


def profile_weights(profile: ModelProfile, by: str = "time") -> list[float]:
    """Per-layer weights of a profile in its layer order: 'time' = forward + backward time (s), 'memory' =
    parameter bytes. ValueError when a computing layer lacks a time."""
    layers = profile.layers
    if by == "memory":
        return [float(profile.layer_parameter_bytes(layer)) for layer in layers]
    if by != "time":
        raise ValueError(f"by must be 'time' or 'memory', got {by!r}")
    out = []
    for layer in layers:
        if layer.forward_time is None and not layer.is_input:
            raise ValueError(
                f"layer '{layer.name}' has no forward_time; balance by time needs measured times"
            )
        out.append(float(layer.forward_time or 0.0) + float(layer.backward_time or 0.0))
    return out


@dataclass(frozen=True)
class MicrobatchAdvice:
    """How many micro-batches to use for K stages (GPipe Sec. 2.3: the bubble is negligible for M >= 4K)."""

    stages: int
    minimum_microbatches: int
    microbatches: int
    microbatch_size: int | None
    bubble_fraction: float
    note: str


def microbatch_advice(stages: int, minibatch: int | None = None, factor: int = 4) -> MicrobatchAdvice:
    """GPipe's rule M >= 4K (Huang et al. NeurIPS'19 Sec. 2.3), with the bubble (K-1)/(M+K-1) it leaves.

    With a minibatch size B the advice is the smallest divisor M of B with M >= factor·K, so micro-batches
    are equal; if none exists, M = B (micro-batches of one sample) and the note says the rule is missed.
    """
    if stages < 1 or factor < 1 or (minibatch is not None and minibatch < 1):
        raise ValueError("stages, factor and minibatch must be >= 1")
    minimum = factor * stages
    note = f"M >= {factor}K keeps the bubble fraction at or below {(stages - 1) / (minimum + stages - 1):.3g}"
    if minibatch is None:
        m, size = minimum, None
    else:
        m = next((d for d in range(minimum, minibatch + 1) if minibatch % d == 0), minibatch)
        size = minibatch // m
        if m < minimum:
            note = f"a minibatch of {minibatch} cannot make {minimum} micro-batches; one sample each"
    return MicrobatchAdvice(stages, minimum, m, size, (stages - 1) / (m + stages - 1), note)
