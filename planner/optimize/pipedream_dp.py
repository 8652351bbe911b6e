"""The dynamic program of PipeDream's optimizer (planner.optimize.pipedream, whose docstring states the
recurrence; Narayanan et al., SOSP 2019, §3.1): one table per level, filled vectorised.

Search and speed. PipeDream evaluates every candidate in Python loops: O(N^2 · p · n^2) scalar steps
per level below the outermost (N states, p the mean number of predecessors of a state, n the level's
count) and O(N · p · n^2) at the outermost (one row), 38 s for ResNet-50 and over 40 minutes for GNMT-16
at 4 × 4 on one core. Here the table is filled column by column (j ascending; a split reads only
earlier columns) and each column for all rows at once. At the outermost level every (k, m, m') of a
column is one array operation. Below it, for each m and each chunk of ROW_CHUNK rows the candidates form
a block over (k, r): max(A[r][k][m-m'], last stage of k+1..j on m'), then min over k. Candidates before
the chunk's first row are skipped (those entries are +inf); with more than SAMPLE_MIN candidates every
SAMPLE_STEP-th goes first to tighten the bound; then a candidate is evaluated only if its last-stage
time is below the chunk's worst current value (a candidate is never below its last stage, so dropping
the others is exact). The worst case is the same count, O(N · p · N · n^2) per level, now in array
operations; on PipeDream's profiles at 4 × 4 the whole run (load, chain view, solve, stages) takes about
0.05 s for ResNet-50 and 1.2-2 s for GNMT-16 (bench/bench_pipedream.py). The chosen split of each
entry is recovered afterwards by re-evaluating the candidates of only the entries on the optimal path,
with the same arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from planner.optimize.chain_view import ChainView
from planner.optimize.pipedream_types import PipeDreamOptions

INF = math.inf


class LevelTerms:
    """One level's cost terms, shared by the table fill and the reconstruction (identical arithmetic)."""

    def __init__(
        self,
        view: ChainView,
        machines: int,
        bandwidth: float,
        inner: int,
        options: PipeDreamOptions,
    ):
        self.view = view
        self.machines = machines
        self.bandwidth = bandwidth
        self.inner = inner
        self.options = options
        self.last_state = view.num_states - 1
        self.max_m = 1 if options.straight else machines

    def base(
        self,
        compute: np.ndarray,
        parameters: np.ndarray,
        activations: np.ndarray,
        m: int,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """One stage of states r..j on m+1 units: (T + 4·m·P / (B·(m+1)) / n_in) / (m+1)."""
        time = np.multiply(parameters, 4 * m, out=out)
        time /= self.bandwidth * (m + 1)
        time /= self.inner
        time += compute
        time /= m + 1
        limit = self.options.memory_limit_bytes
        if limit is not None:
            stashed = math.ceil((self.machines - (m + 1)) / (m + 1)) * (activations + parameters)
            time[stashed > limit] = INF
        return time

    def last_stage(
        self, compute: np.ndarray, parameters: np.ndarray, split: np.ndarray, j: int, replicas: Any
    ) -> np.ndarray:
        """Time of the last stage k+1..j on m' units (per split point k; `replicas` an int or a column of
        them), with its activation transfers when they are counted."""
        time = (compute + (4 * (replicas - 1) * parameters) / (self.bandwidth * replicas)) / replicas
        ratio = self.options.activation_compression_ratio
        if ratio is not None:
            out = self.view.output_activation_bytes
            time = np.maximum(time, (2.0 * out[split]) / (self.bandwidth * replicas) / ratio)
            if j < self.last_state:
                time = np.maximum(time, (2.0 * out[j]) / (self.bandwidth * replicas) / ratio)
        return time

    def stash_fits(
        self, activations: np.ndarray, parameters: np.ndarray, m: int, replicas: int
    ) -> np.ndarray:
        """Whether a last stage on m' units of a prefix on m+1 units passes the memory check:
        ceil((n - (m+1)) / m') · (A' + P') <= limit (always, without a limit)."""
        limit = self.options.memory_limit_bytes
        if limit is None:
            return np.ones(np.shape(parameters), dtype=bool)
        return (activations + parameters) * math.ceil((self.machines - (m + 1)) / replicas) <= limit

    def pairs(self) -> list[tuple[int, int]]:
        """The (m, m') pairs a split considers, m ascending: m' in 1..m (1 for a straight pipeline)."""
        return [
            (m, replicas)
            for m in range(1, self.machines)
            for replicas in ([1] if self.options.straight else range(1, m + 1))
        ]


def solve_tables(
    view: ChainView, levels: Sequence[tuple[int, float]], options: PipeDreamOptions
) -> list[np.ndarray]:
    """Every level's table, shaped (n, N, rows): table[m, j, r] = A[r][j][m]; +inf where PipeDream has
    None. The outermost level has one row (r = 0)."""
    count = view.num_states
    cum_c, cum_p, cum_a = view.cum_compute_s, view.cum_parameter_bytes, view.cum_activation_bytes
    upper = np.tril(np.ones((count, count), dtype=bool))  # [j, r]: r <= j
    compute = np.where(upper, cum_c[1:, None] - cum_c[None, :-1], INF)  # compute[j, r] = T of r..j
    parameters = cum_p[1:, None] - cum_p[None, :-1]
    activations = cum_a[1:, None] - cum_a[None, :-1]
    tables = []
    inner = 1
    for index, (machines, bandwidth) in enumerate(levels):
        last = index == len(levels) - 1
        level = LevelTerms(view, machines, bandwidth, inner, options)
        rows = 1 if last else count
        tables.append(_fill(level, compute, parameters, activations, rows))
        compute = tables[-1][machines - 1]
        inner = machines
    return tables


ROW_CHUNK = 128  # rows filled together: candidates k < the chunk's first row are skipped (they are +inf)
SAMPLE_MIN = 256  # with more candidates than this, every SAMPLE_STEP-th is tried first (a tighter bound)
SAMPLE_STEP = 16


def _fill(
    level: LevelTerms, compute: np.ndarray, parameters: np.ndarray, activations: np.ndarray, rows: int
) -> np.ndarray:
    """One level's table [m, j, r], column by column (j ascending: a split only reads earlier columns).

    For each column j the last-stage times of every split point k and every (m, m') are one array. With
    one row (the outermost level) all (m, m') are then evaluated in one block. With many rows, for each m
    and each chunk of rows, the candidates k (predecessors of j, k >= the chunk's first row: earlier ones
    are +inf there) are evaluated as a block: max(A[r][k][m-m'], last stage of k+1..j on m'), then the
    minimum over k. A sample of the candidates goes first; then only the candidates whose last stage is
    below the chunk's worst current value are evaluated (the others cannot improve any row: a candidate
    is never below its last stage), so the result is exact.
    """
    view, machines = level.view, level.machines
    count = view.num_states
    options = level.options
    table = np.empty((machines, count, rows))
    table[level.max_m :] = INF
    for m in range(level.max_m):
        level.base(compute[:, :rows], parameters[:, :rows], activations[:, :rows], m, out=table[m])
    pairs = level.pairs()
    pair_m = np.array([m for m, _ in pairs])
    pair_prev = np.array([m - replicas for m, replicas in pairs])
    replica_column = np.array(sorted({replicas for _, replicas in pairs}))[:, None]
    pair_row = np.searchsorted(replica_column[:, 0], [replicas for _, replicas in pairs])
    group_start = np.flatnonzero(np.r_[True, pair_m[1:] != pair_m[:-1]]) if pairs else pair_m
    for j in range(1, count):
        split = view.predecessors[j]
        top = min(j, rows)  # rows r < j take splits (and fewer machines)
        width = min(top, int(split[-1]) + 1) if len(split) and pairs else 0  # rows r <= max k
        if width:
            stage = level.last_stage(
                compute[j, split + 1], parameters[j, split + 1], split, j, replica_column
            )
            stage = stage[pair_row]  # (pairs, k)
            if options.memory_limit_bytes is not None:
                for index, (m, replicas) in enumerate(pairs):
                    fits = level.stash_fits(activations[j, split + 1], parameters[j, split + 1], m, replicas)
                    stage[index] = np.where(fits, stage[index], INF)
            if rows == 1:
                block = np.maximum(table[pair_prev][:, split, 0], stage)
                best = np.minimum.reduceat(block.min(axis=1), group_start)
                np.minimum(table[1:, j, 0], best, out=table[1:, j, 0])
            else:
                for m in range(1, machines):
                    chosen = np.flatnonzero(pair_m == m)
                    candidates = [(table[pair_prev[i]], stage[i]) for i in chosen]
                    if options.use_fewer_machines:  # tighter bounds before the splits (same result)
                        np.minimum(table[m, j, :top], table[m - 1, j, :top], out=table[m, j, :top])
                    current = table[m, j, :width]
                    for low in range(0, width, ROW_CHUNK):
                        head = current[low : min(width, low + ROW_CHUNK)]
                        first = int(np.searchsorted(split, low))
                        _relax(
                            head,
                            split[first:],
                            [(prefix, times[first:]) for prefix, times in candidates],
                            low,
                        )
        if options.use_fewer_machines:  # A[r][j][m] also takes A[r][j][m-1] (PipeDream: after the splits)
            for m in range(1, machines):
                np.minimum(table[m, j, :top], table[m - 1, j, :top], out=table[m, j, :top])
    return table


def _relax(
    head: np.ndarray, ks: np.ndarray, candidates: list[tuple[np.ndarray, np.ndarray]], low: int
) -> None:
    """head[r] = min(head[r], min over k, (prefix, stage) of max(prefix[k, low + r], stage[k]))."""
    high = low + len(head)
    if len(ks) > SAMPLE_MIN:
        sample = slice(None, None, SAMPLE_STEP)
        for prefix, stage in candidates:
            block = prefix[ks[sample], low:high]
            np.maximum(block, stage[sample][:, None], out=block)
            np.minimum(head, block.min(axis=0), out=head)
    for prefix, stage in candidates:
        keep = stage < head.max()
        if not keep.any():
            continue
        block = prefix[ks[keep], low:high]
        np.maximum(block, stage[keep][:, None], out=block)
        np.minimum(head, block.min(axis=0), out=head)
