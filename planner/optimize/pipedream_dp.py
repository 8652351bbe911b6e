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
time is at most the chunk's worst bound (a candidate is never below its last stage, so dropping the
others is exact, ties included). The worst case is the same count, O(N · p · N · n^2) per level, now in array
operations; on PipeDream's profiles at 4 × 4 the whole run (load, chain view, solve, stages) takes about
0.05-0.1 s for ResNet-50 and 2-3 s for GNMT-16 (bench/bench_pipedream.py; storing the back-pointers
below added about 60 % CPU time on GNMT-16, 1.75 -> 2.8 s, and nothing measurable on ResNet-50).

Back-pointers. Beside each table the fill stores every entry's arg-min (`LevelTable.choices`): one stage
(`BASE`), the entry on one machine fewer (`FEWER`), or a split (k, m') as an integer code whose order is
the tie-break order, so that among equal candidates the smallest code wins: a single stage, then fewer
machines, then a split after a successor of state r-1 (a "genuine" split), then a last stage with some
compute, then fewer replicas for the last stage, then a later split point (ties come from zero-cost
layers; the optimal time is unique). Candidates tying with an entry's current value are therefore
evaluated too. Below the outermost level a block's candidates are ordered by (idle, -k), so a row's first
minimum is its choice unless that split is not genuine for the row (then the row's ties are compared in
full). Entries that stay +inf keep no meaningful choice; the reconstruction
(planner.optimize.pipedream_reconstruct) never reads them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.optimize.chain_view import ChainView
from planner.optimize.pipedream_types import PipeDreamOptions

INF = math.inf
BASE = -2  # choice: one stage replicated on m+1 units
FEWER = -1  # choice: the same range on one machine fewer (use_fewer_machines)
NONE = np.iinfo(np.int64).max  # choice: no candidate yet (the entry is +inf)


@dataclass(frozen=True)
class LevelTable:
    """One level's table [m, j, r] (+inf where PipeDream has None) and each entry's arg-min choice."""

    values: np.ndarray
    choices: np.ndarray


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
        self.radix = machines + 1  # replicas m' < radix
        self.not_genuine = (
            2 * self.radix * view.num_states
        )  # what a split that is not genuine adds to its code

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

    def split_codes(self, split: np.ndarray, j: int, replicas: np.ndarray) -> np.ndarray:
        """Codes [replicas, k] of the genuine splits of column j after states `split` with `replicas` units
        for the last stage: ((idle·radix + m')·N + N-1-k), ascending in the tie-break order."""
        count = self.view.num_states
        cum = self.view.cum_compute_s
        idle = (cum[j + 1] - cum[split + 1] <= 0).astype(np.int64)
        return (idle[None, :] * self.radix + replicas[:, None]) * count + (count - 1 - split)[None, :]

    def split_of(self, code: int) -> tuple[int, int]:
        """(k, m') of a split's code."""
        count = self.view.num_states
        return count - 1 - code % count, (code // count) % self.radix

    def pairs(self) -> list[tuple[int, int]]:
        """The (m, m') pairs a split considers, m ascending: m' in 1..m (1 for a straight pipeline)."""
        return [
            (m, replicas)
            for m in range(1, self.machines)
            for replicas in ([1] if self.options.straight else range(1, m + 1))
        ]


def solve(
    view: ChainView, levels: Sequence[tuple[int, float]], options: PipeDreamOptions
) -> list[LevelTable]:
    """Every level's table and choices, shaped (n, N, rows): values[m, j, r] = A[r][j][m]; +inf where
    PipeDream has None. The outermost level has one row (r = 0)."""
    count = view.num_states
    cum_c, cum_p, cum_a = view.cum_compute_s, view.cum_parameter_bytes, view.cum_activation_bytes
    upper = np.tril(np.ones((count, count), dtype=bool))  # [j, r]: r <= j
    compute = np.where(upper, cum_c[1:, None] - cum_c[None, :-1], INF)  # compute[j, r] = T of r..j
    parameters = cum_p[1:, None] - cum_p[None, :-1]
    activations = cum_a[1:, None] - cum_a[None, :-1]
    # rows r > 0 exist only below the outermost level
    late = _not_genuine(view) if len(levels) > 1 else np.zeros((count, 1), dtype=bool)
    tables = []
    inner = 1
    for index, (machines, bandwidth) in enumerate(levels):
        last = index == len(levels) - 1
        level = LevelTerms(view, machines, bandwidth, inner, options)
        rows = 1 if last else count
        tables.append(_fill(level, compute, parameters, activations, rows, late))
        compute = tables[-1].values[machines - 1]
        inner = machines
    return tables


def solve_tables(
    view: ChainView, levels: Sequence[tuple[int, float]], options: PipeDreamOptions
) -> list[np.ndarray]:
    """Every level's table of `solve`, without the choices."""
    return [table.values for table in solve(view, levels, options)]


def _not_genuine(view: ChainView) -> np.ndarray:
    """[k, r]: whether a split after state k, in row r > 0, is not genuine (r-1 is no predecessor of k)."""
    count = view.num_states
    late = np.ones((count, count), dtype=bool)
    late[:, 0] = False
    for k in range(count):
        late[k, np.asarray(view.predecessors[k], dtype=np.int64) + 1] = False
    return late


ROW_CHUNK = 128  # rows filled together: candidates k < the chunk's first row are skipped (they are +inf)
SAMPLE_MIN = 256  # with more candidates than this, every SAMPLE_STEP-th is tried first (a tighter bound)
SAMPLE_STEP = 16


def _fill(
    level: LevelTerms,
    compute: np.ndarray,
    parameters: np.ndarray,
    activations: np.ndarray,
    rows: int,
    late: np.ndarray,
) -> LevelTable:
    """One level's table [m, j, r] and its choices, column by column (j ascending: a split only reads
    earlier columns).

    For each column j the last-stage times of every split point k and every (m, m') are one array. With
    one row (the outermost level) all (m, m') are then evaluated in one block. With many rows, for each m
    and each chunk of rows, the candidates k (predecessors of j, k >= the chunk's first row: earlier ones
    are +inf there) are evaluated as a block: max(A[r][k][m-m'], last stage of k+1..j on m'), then the
    minimum over k. A sample of the candidates first bounds the rows' values; then only the candidates
    whose last stage is at most the chunk's worst bound are evaluated (the others cannot reach any row: a
    candidate is never below its last stage), so the result and the choices are exact.
    """
    view, machines = level.view, level.machines
    count = view.num_states
    options = level.options
    table = np.empty((machines, count, rows))
    choices = np.full((machines, count, rows), NONE, dtype=np.int64)
    table[level.max_m :] = INF
    choices[: level.max_m] = BASE
    for m in range(level.max_m):
        level.base(compute[:, :rows], parameters[:, :rows], activations[:, :rows], m, out=table[m])
    pairs = level.pairs()
    pair_m = np.array([m for m, _ in pairs])
    pair_prev = np.array([m - replicas for m, replicas in pairs])
    pair_replicas = np.array([replicas for _, replicas in pairs], dtype=np.int64)
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
            codes = level.split_codes(split, j, pair_replicas)  # (pairs, k)
            if rows == 1:
                block = np.maximum(table[pair_prev][:, split, 0], stage)
                best = np.minimum.reduceat(block.min(axis=1), group_start)  # per m, ascending from 1
                tied = block == best[pair_m - 1][:, None]
                code = np.minimum.reduceat(np.where(tied, codes, NONE).min(axis=1), group_start)
                _merge(table[1:, j, 0], choices[1:, j, 0], best, code)
            else:
                # candidates in the tie-break order (but for the lateness, which depends on the row), so
                # that the first minimum of a block is the preferred one unless it is late; per chunk of
                # rows only k >= the chunk's first row (earlier ones are +inf there)
                order = np.argsort(codes[0], kind="stable")
                split, stage, codes = split[order], stage[:, order], codes[:, order]
                chunks = [
                    (low, np.flatnonzero(split >= low), late[:, low : low + ROW_CHUNK])
                    for low in range(0, width, ROW_CHUNK)
                ]
                for m in range(1, machines):
                    chosen = np.flatnonzero(pair_m == m)
                    if options.use_fewer_machines:  # tighter bounds before the splits (same result)
                        _merge(table[m, j, :top], choices[m, j, :top], table[m - 1, j, :top], FEWER)
                    for low, near, rows_late in chunks:
                        high = min(width, low + ROW_CHUNK)
                        candidates = [(table[pair_prev[i]], stage[i, near], codes[i, near]) for i in chosen]
                        head = (table[m, j, low:high], choices[m, j, low:high])
                        _relax(head, split[near], candidates, low, (level.not_genuine, rows_late))
        if options.use_fewer_machines:  # A[r][j][m] also takes A[r][j][m-1] (PipeDream: after the splits)
            for m in range(1, machines):
                _merge(table[m, j, :top], choices[m, j, :top], table[m - 1, j, :top], FEWER)
    return LevelTable(table, choices)


def _merge(values: np.ndarray, choices: np.ndarray, offered: np.ndarray, codes: Any) -> None:
    """Take, in place, each offered (value, code) that is smaller: a lower value, or the same value and a
    code earlier in the tie-break order."""
    better = (offered < values) | ((offered == values) & (codes < choices))
    np.copyto(values, offered, where=better)
    np.copyto(choices, codes, where=better)


Head = tuple[np.ndarray, np.ndarray]  # the values and choices of one chunk of one column's rows
# (what a split that is not genuine adds to its code, [state k, row]: whether a split after k is not genuine)
Lateness = tuple[int, np.ndarray]


def _relax(
    head: Head,
    ks: np.ndarray,
    candidates: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    low: int,
    lateness: Lateness,
) -> None:
    """head[r] = min(head[r], min over k, (prefix, stage, code) of max(prefix[k, low + r], stage[k])), the
    choices following (a split's code grows by the lateness of its row)."""
    bound = head[0].copy()  # an upper bound on the rows' final values, for pruning
    if len(ks) > SAMPLE_MIN:
        sample = slice(None, None, SAMPLE_STEP)
        for prefix, stage, _ in candidates:
            block = prefix[ks[sample], low : low + len(bound)]
            np.maximum(block, stage[sample][:, None], out=block)
            np.minimum(bound, block.min(axis=0), out=bound)
    for prefix, stage, codes in candidates:
        np.minimum(bound, head[0], out=bound)
        keep = (stage <= bound.max()) & (stage < INF)
        if keep.any():
            _offer(head, ks[keep], prefix, stage[keep], codes[keep], low, lateness)


def _offer(
    head: Head,
    ks: np.ndarray,
    prefix: np.ndarray,
    stage: np.ndarray,
    codes: np.ndarray,
    low: int,
    lateness: Lateness,
) -> None:
    """Merge the splits after ks (last stage `stage`, prefix table `prefix`; in the tie-break order but for
    the lateness) into rows low.. of a column."""
    values, choices = head
    block = prefix[ks, low : low + len(values)]
    np.maximum(block, stage[:, None], out=block)
    best = block.min(axis=0)
    rows = np.flatnonzero((best <= values) & (best < INF))  # rows some candidate reaches
    if len(rows) == 0:
        return
    best = best[rows]
    hits = block.T[rows] == best[:, None]  # [row, k]
    winner = hits.argmax(axis=1)  # the first minimum
    step, late = lateness
    code = codes[winner] + step * late[ks[winner], rows]
    fix = np.flatnonzero(code >= step)  # a late first minimum: a later tie may be genuine
    if len(fix):
        row, k = np.nonzero(hits[fix])
        tied = np.full(len(fix), NONE, dtype=np.int64)
        np.minimum.at(tied, row, codes[k] + step * late[ks[k], rows[fix][row]])
        code[fix] = tied
    better = (best < values[rows]) | (code < choices[rows])  # best <= values on these rows
    values[rows[better]] = best[better]
    choices[rows[better]] = code[better]
