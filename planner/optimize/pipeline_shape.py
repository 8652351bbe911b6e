"""The best native partition of a given configuration shape: the stages' replica counts are fixed (the
configuration a paper ran, "15-1", or a straight pipeline on K devices), only the layer split is searched.

Objective and costs are planner.optimize.pipeline_native's (pipeline time = the largest stage or transfer
term, stages on devices 0, 1, ... in order); scope: the k stages with replicas r_1..r_k on the first
r_1 + ... + r_k devices of the cluster, data parallelism on all of them as the baseline. Exact over the
split points: a dynamic program over (stage s, end state j), best[s][j] = min over valid (i, j) of
max(best[s-1][i], transfer into stage s at cut i, stage term of states [i, j) on r_s replicas);
O(k · valid pairs) time, O(k · states) memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from planner.errors import InfeasibleError
from planner.optimize.native_types import NativeResult
from planner.optimize.pipeline_native import INF, NativePlanner


def partition_shape(planner: NativePlanner, replicas: Sequence[int]) -> NativeResult:
    """The best split of the planner's model into len(replicas) consecutive stages, stage s on
    replicas[s] devices. ValueError for an empty shape, a count below 1 or more devices than the
    cluster has; InfeasibleError when no split fits (too few states, or the memory limit)."""
    counts = [int(r) for r in replicas]
    total = sum(counts)
    if not counts or min(counts) < 1 or total > planner.topology.total:
        raise ValueError(
            f"a shape is one or more replica counts >= 1 on at most {planner.topology.total} devices, "
            f"got {list(replicas)}"
        )
    pairs, n = planner.pairs, planner.costs.num_states
    best = np.full(n + 1, INF)
    best[0] = 0.0
    choices: list[np.ndarray] = []  # per stage, per end state: the start state of the best split
    offset = 0
    for s, r in enumerate(counts):
        prefix = best.copy()
        if s > 0:
            cuts = np.arange(1, n)
            transfer = planner.transfer_time(cuts, offset - counts[s - 1], offset, offset + r)
            prefix[1:n] = np.maximum(best[1:n], transfer)
            prefix[0] = prefix[n] = INF
        values = np.maximum(prefix[pairs.i], planner.stage_terms(slice(None), r, offset, total))
        order = np.lexsort((values, pairs.j))  # by end state, the smallest value first
        ends = pairs.j[order]
        first = np.flatnonzero(np.r_[True, ends[1:] != ends[:-1]])
        best = np.full(n + 1, INF)
        start = np.full(n + 1, -1)
        best[ends[first]] = values[order[first]]
        start[ends[first]] = pairs.i[order[first]]
        choices.append(start)
        offset += r
    if not np.isfinite(best[n]):
        raise InfeasibleError(f"no split of {n} states into the shape {counts} fits")
    bounds, j = [], n
    for s in range(len(counts) - 1, -1, -1):
        i = int(choices[s][j])
        bounds.append((i, j, counts[s]))
        j = i
    return planner.evaluate(list(reversed(bounds)))
