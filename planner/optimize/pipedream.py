"""PipeDream's stage-partitioning optimizer (`cost_model="pipedream"`): same cost terms, same search.

Source: Narayanan et al., "PipeDream: Generalized Pipeline Parallelism for DNN Training", SOSP 2019,
§3.1 (the dynamic program over layers and workers of a hierarchical topology), as implemented in its
public optimizer (msr-fiddle/pipedream, `optimizer/optimizer_graph_hierarchical.py`). This is our own,
vectorised code for that recurrence; on the same profile and settings it finds the same optimal time
("Time per stage in pipeline"), and the same data-parallel and single-machine times.

Model (units: seconds, bytes, bytes/s). The profile is linearised into PipeDream's chain of antichain
states (planner.optimize.chain_view); a range of states r..j (inclusive) has compute T, parameter bytes
P and activation bytes A, differences of down-set sums. Levels are given innermost first as
(n, B): n units of the level below joined by links of B bytes/s (PipeDream's -n and -b). For each level,
A[r][j][m] is the best time per minibatch of the states r..j on m+1 units of this level:

* one stage replicated on m+1 units: (T + 4·m·P / (B·(m+1)) / n_in) / (m+1), where n_in is the
  number of units inside one unit of this level (the count of the level below; 1 at the innermost
  level) — this division appears only here, not in the split below;
* or a split after state k (k a predecessor of j in the antichain DAG; for a row r > 0, k not a
  predecessor of state r-1 and not before r in the chain) with m' units for the last stage k+1..j:
  max(A[r][k][m-m'], (T' + 4·(m'-1)·P' / (B·m')) / m', transfers), T' and P' the figures of k+1..j;
  `transfers` are 2·a_k / (B·m') / c for the input and, unless j is the last state, 2·a_j / (B·m') / c
  for the output (a_s the output activation of state s), counted only when an activation compression
  ratio c is given (PipeDream ignores transfers otherwise);
* with `use_fewer_machines`, also A[r][j][m-1] (for j > r).

A candidate whose stashed data, ceil((n - (m+1)) / m') · (A' + P') (m' = m+1 for one stage), exceeds the
memory limit is skipped (only with a memory limit). `straight` allows one unit per stage. At the
innermost level T is the profile's compute; at every higher level T[r][j] is the lower level's best time
A[r][j][n-1] of that range. Only row r = 0 is needed at the outermost level; the answer is
A[0][N-1][n-1] there. Data parallelism on all devices: t = C, then per level, innermost first,
t = (t + 4·(n-1)·P_total / (B·n) / n_in) / n; the single-machine time is C, the total compute.

Checks: planner.optimize.pipedream_reference transcribes the recurrence in plain loops (the tests compare
whole tables bit for bit) and re-derives sampled entries of tables too large for it; the tests also
enumerate PipeDream's search space by brute force on small random profiles. The chain order of a
branchy graph is one depth-first order of the antichain DAG; on PipeDream's ResNet-50, GNMT-8 and GNMT-16
profiles random re-orderings of the edges gave the same optima in every multi-level setting tried.

API: `partition_pipedream(profile, levels, ...)` -> PartitionResult (stages, config, times, speedups);
`levels_from_cluster(cluster)` and `parse_levels("4:10GB/s,4:1.25GB/s")` (planner.optimize.pipedream_levels)
build levels; `solve_tables` (planner.optimize.pipedream_dp) exposes the raw tables; `data_parallel_time`
PipeDream's data-parallel time. Search, speed, back-pointers and ties: planner.optimize.pipedream_dp; the
stages from the back-pointers: planner.optimize.pipedream_reconstruct.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from planner.errors import InfeasibleError, SpecError
from planner.optimize.chain_view import ChainView, build_chain_view
from planner.optimize.limits import check_pipedream
from planner.optimize.pipedream_dp import solve
from planner.optimize.pipedream_levels import check_levels
from planner.optimize.pipedream_reconstruct import Reconstruction
from planner.optimize.pipedream_types import PartitionResult, PipeDreamOptions

if TYPE_CHECKING:
    from planner.spec.profile import ModelProfile


def partition_pipedream(
    profile: ModelProfile | ChainView,
    levels: Sequence[tuple[int, float]],
    *,
    memory_limit_bytes: float | None = None,
    straight: bool = False,
    use_fewer_machines: bool = False,
    activation_compression_ratio: float | None = None,
) -> PartitionResult:
    """PipeDream's optimal partition of `profile` on `levels` ((count, bytes/s) innermost first).

    Raises SpecError for bad levels or options and InfeasibleError when no partition fits (memory limit,
    or a straight pipeline with more devices than states and no `use_fewer_machines`).
    """
    checked = check_levels(levels)
    options = _options(memory_limit_bytes, straight, use_fewer_machines, activation_compression_ratio)
    view = profile if isinstance(profile, ChainView) else build_chain_view(profile)
    check_pipedream(view.num_states, checked, options.straight)
    tables = solve(view, checked, options)
    count = view.num_states
    best = float(tables[-1].values[checked[-1][0] - 1, count - 1, 0])
    if not math.isfinite(best):
        raise InfeasibleError(
            "no PipeDream partition fits: every candidate exceeds the memory limit or a straight pipeline "
            f"needs at least as many states ({count}) as devices"
        )
    stages = Reconstruction(view, checked, options, tables).stages()
    return PartitionResult(
        pipeline_time_s=best,
        single_stage_time_s=float(view.cum_compute_s[-1]),
        data_parallel_time_s=data_parallel_time(view, checked),
        stages=tuple(stages),
        levels=tuple(checked),
        num_states=count,
        options=options,
    )


def data_parallel_time(view: ChainView, levels: Sequence[tuple[int, float]]) -> float:
    """PipeDream's data-parallel time: per level, t = (t + 4(n-1)·P / (B·n) / n_in) / n, from t = C."""
    time = float(view.cum_compute_s[-1])
    parameters = float(view.cum_parameter_bytes[-1])
    inner = 1
    for machines, bandwidth in levels:
        sync = (4 * (machines - 1) * parameters) / (bandwidth * machines) / inner
        time = (time + sync) / machines
        inner = machines
    return time


def _options(
    memory_limit_bytes: float | None, straight: bool, use_fewer_machines: bool, ratio: float | None
) -> PipeDreamOptions:
    if memory_limit_bytes is not None and not (math.isfinite(memory_limit_bytes) and memory_limit_bytes >= 0):
        raise SpecError(
            "options", "memory_limit_bytes", "expected a finite memory limit >= 0", memory_limit_bytes
        )
    if ratio is not None and not (math.isfinite(ratio) and ratio > 0):
        raise SpecError("options", "activation_compression_ratio", "expected a finite ratio > 0", ratio)
    return PipeDreamOptions(
        memory_limit_bytes=None if memory_limit_bytes is None else float(memory_limit_bytes),
        straight=bool(straight),
        use_fewer_machines=bool(use_fewer_machines),
        activation_compression_ratio=None if ratio is None else float(ratio),
    )
