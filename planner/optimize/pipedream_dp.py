"""The dynamic program of PipeDream's optimizer (planner.optimize.pipedream, whose docstring states the
recurrence; Narayanan et al., SOSP 2019, §3.1): one table per level, filled vectorised.

Search and speed. PipeDream evaluates every candidate in Python loops: O(N^2 · p · n^2) scalar steps
per level below the outermost (N states, p the mean number of predecessors of a state, n the level's
count) and O(N · p · n^2) at the outermost (one row), 38 s for ResNet-50 and over 40 minutes for GNMT-16
at 4 × 4 on one core. Here the table is filled column by column (j ascending; a split reads only
earlier columns), each column's rows at once, and a candidate split is evaluated only where it can reach
an entry (planner.optimize.pipedream_relax): an entry's bound is the value of a candidate (one stage, or
the split it chose in the previous column), and a split whose last stage, or on a chain the lower bound
of its prefix, exceeds it is skipped (a candidate is never below either, so the result is exact, ties
included). The worst case is still O(N · p · N · n^2) per level (planner.optimize.limits bounds it); on
a chain the bounds leave a few candidates per entry: 1,000 layers on 8 × 128 devices solve in about 3 s,
and the whole run on PipeDream's profiles at 4 × 4 (bench/bench_pipedream.py) takes about 0.05-0.1 s for
ResNet-50 and 2-3 s for GNMT-16, whose branches leave only the last-stage bound.

Back-pointers. Beside each table the fill stores every entry's arg-min (`LevelTable.choices`): one stage
(`BASE`), the entry on one machine fewer (`FEWER`), or a split (k, m') as an integer code whose order is
the tie-break order, so that among equal candidates the smallest code wins: a single stage, then fewer
machines, then a split after a successor of state r-1 (a "genuine" split), then a last stage with some
compute, then fewer replicas for the last stage, then a later split point (ties come from zero-cost
layers; the optimal time is unique). Candidates tying with an entry's current value are therefore
evaluated too. Entries that stay +inf keep no meaningful choice; the reconstruction
(planner.optimize.pipedream_reconstruct) never reads them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.optimize.chain_view import ChainView
from planner.optimize.pipedream_relax import NONE, Column, Floor, Pairs, relax
from planner.optimize.pipedream_types import PipeDreamOptions

INF = math.inf
BASE = -2  # choice: one stage replicated on m+1 units
FEWER = -1  # choice: the same range on one machine fewer (use_fewer_machines)


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

    def split_of(self, code: int) -> tuple[int, int]:
        """(k, m') of a split's code."""
        count = self.view.num_states
        return count - 1 - code % count, (code // count) % self.radix


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
    monotone = bool(np.all(np.diff(cum_c) >= 0) and np.all(np.diff(cum_p) >= 0))
    tables = []
    inner = below = 1
    for index, (machines, bandwidth) in enumerate(levels):
        last = index == len(levels) - 1
        level = LevelTerms(view, machines, bandwidth, inner, options)
        rows = 1 if last else count
        floor = Floor(cum_c, below) if monotone else None
        tables.append(_fill(level, compute, parameters, activations, rows, late, floor))
        compute = tables[-1].values[machines - 1]
        inner = machines
        below *= machines
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


def _fill(
    level: LevelTerms,
    compute: np.ndarray,
    parameters: np.ndarray,
    activations: np.ndarray,
    rows: int,
    late: np.ndarray,
    floor: Floor | None,
) -> LevelTable:
    """One level's table [m, j, r] and its choices, column by column (j ascending: a split only reads
    earlier columns), each column's rows in chunks (_relax)."""
    view, machines = level.view, level.machines
    count = view.num_states
    table = np.empty((machines, count, rows))
    choices = np.full((machines, count, rows), NONE, dtype=np.int64)
    table[level.max_m :] = INF
    choices[: level.max_m] = BASE
    for m in range(level.max_m):
        level.base(compute[:, :rows], parameters[:, :rows], activations[:, :rows], m, out=table[m])
    pairs = Pairs.of(level)
    for j in range(1, count):
        split = view.predecessors[j]
        top = min(j, rows)  # rows r < j take splits (and fewer machines)
        width = min(top, int(split[-1]) + 1) if len(split) and len(pairs.m) else 0  # rows r <= max k
        if width:
            column = Column(level, pairs, j, compute, parameters, activations)
            relax(table, choices, column, np.arange(width), late, floor)
        if (
            level.options.use_fewer_machines
        ):  # A[r][j][m] also takes A[r][j][m-1] (PipeDream: after the splits)
            for m in range(1, machines):
                _merge(table[m, j, :top], choices[m, j, :top], table[m - 1, j, :top], FEWER)
    return LevelTable(table, choices)


def _merge(values: np.ndarray, choices: np.ndarray, offered: np.ndarray, codes: Any) -> None:
    """Take, in place, each offered (value, code) that is smaller: a lower value, or the same value and a
    code earlier in the tie-break order."""
    better = (offered < values) | ((offered == values) & (codes < choices))
    np.copyto(values, offered, where=better)
    np.copyto(choices, codes, where=better)
