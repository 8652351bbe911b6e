"""The splits of one column of PipeDream's tables (planner.optimize.pipedream_dp), evaluated only where
they can reach an entry: each entry's candidates are bounded from above by a candidate's value, and only
those whose last stage (and, on a chain, a lower bound of their prefix) is within the bound are
evaluated, by direct gathers from the table. Every candidate that could equal an entry's value is
evaluated, so the values and the tie-broken choices are those of the full recurrence.

Two evaluators. On a chain whose cumulative compute and parameter bytes never decrease (_Floor), each
(row, m, m') has one interval of split points k that can reach its bound, found by binary search, and
its candidates are evaluated one by one (`_relax_flat`): a few per entry. Otherwise (a branchy graph's
chain order) the candidates are ranked by last-stage time, and a chunk of rows shares the candidates
within the chunk's largest bound, evaluated as one block over those rows (`_relax_block`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from planner.optimize.pipedream_dp import LevelTerms

INF = math.inf
NONE = np.iinfo(np.int64).max  # choice: no candidate yet (the entry is +inf)
ROW_CHUNK = 128  # rows of a branchy chain's block: they share its candidates
FLAT_COST = 8  # a candidate evaluated alone costs about as much as 8 in a dense block
BATCH = 1 << 20  # candidates (times rows) evaluated together: bounds the arrays to about 100 MB
SLACK = 1e-9  # the floor's margin for rounding, relative to the bound and to the total compute


@dataclass(frozen=True)
class Pairs:
    """A level's split pairs (m, m'), m in 1..n-1 ascending, m' in 1..m ascending (1 for a straight
    pipeline), as arrays: m, the replicas m' of the last stage, the machines m - m' of the prefix, the
    last-stage row of m', and the stash factor ceil((n - (m+1)) / m') of the memory check."""

    m: np.ndarray
    replicas: np.ndarray
    prefix: np.ndarray
    stage_row: np.ndarray
    stash: np.ndarray
    replica_rows: np.ndarray  # the distinct m', ascending: one row of last-stage times each
    row_of: np.ndarray  # [m']: the last-stage row of m' (-1 where m' never ends a split)

    @classmethod
    def of(cls, level: LevelTerms) -> Pairs:
        sizes = np.arange(1, level.machines, dtype=np.int64)  # m' in 1..m for each m
        if level.options.straight:
            m, replicas = sizes, np.ones_like(sizes)
        else:
            m = np.repeat(sizes, sizes)
            replicas = np.arange(1, len(m) + 1) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        distinct = np.unique(replicas)
        row_of = np.full(level.radix, -1, dtype=np.int64)
        row_of[distinct] = np.arange(len(distinct))
        stash = -(-(level.machines - (m + 1)) // replicas)
        return cls(m, replicas, m - replicas, row_of[replicas], stash, distinct, row_of)


@dataclass(frozen=True)
class Floor:
    """Lower bounds of a level's entries, valid when the chain's cumulative compute C and parameter bytes
    never decrease (every range then has compute and parameters >= 0): A[r][k][q] >= C(r..k) / (D·(q+1))
    and a last stage k+1..j on m' units takes at least C(k+1..j) / (D·m'), D the devices in one unit of
    the level. By induction on the recurrence: one stage takes at least its compute over its units
    (synchronisation and transfers add to it); the slower of two parts takes at least their sum over
    their units (max(a/x, b/y) >= (a+b)/(x+y)); a unit of a higher level at least C / D. So for a bound
    U a split after k is evaluated only if C(0..k) lies in [C(0..j) - U·D·m', C(0..r-1) + U·D·(q+1)], an
    interval of k found by binary search (widened by SLACK for rounding)."""

    cum_compute: np.ndarray
    devices: int


class Column:
    """What the splits of column j share: the last-stage times [m' row, position of k among the
    predecessors of j] (+inf where the memory check fails is applied per pair), and each split's
    tie-break code without its replicas (LevelTerms.split_of)."""

    def __init__(
        self,
        level: LevelTerms,
        pairs: Pairs,
        j: int,
        compute: np.ndarray,
        parameters: np.ndarray,
        activations: np.ndarray,
    ):
        view, count = level.view, level.view.num_states
        self.level, self.pairs, self.j = level, pairs, j
        self.split = split = view.predecessors[j]
        after = split + 1
        self.stage = level.last_stage(
            compute[j, after], parameters[j, after], split, j, pairs.replica_rows[:, None]
        )
        self.rising = -np.minimum.accumulate(self.stage, axis=1)  # ascending: -(min up to k)
        self.stashed = activations[j, after] + parameters[j, after]  # A' + P' of the last stage
        cum = view.cum_compute_s
        idle = (cum[j + 1] - cum[after] <= 0).astype(np.int64)
        self.code = idle * level.radix * count + (count - 1 - split)
        self.position = np.full(count, -1, dtype=np.int64)
        self.position[split] = np.arange(len(split))

    def stage_of(self, pair: np.ndarray, position: np.ndarray) -> np.ndarray:
        """The last stage's time of each (pair, position of k); +inf where the memory check fails."""
        stage = self.stage[self.pairs.stage_row[pair], position]
        limit = self.level.options.memory_limit_bytes
        if limit is None:
            return stage
        return np.where(self.stashed[position] * self.pairs.stash[pair] <= limit, stage, INF)


def relax(
    table: np.ndarray,
    choices: np.ndarray,
    column: Column,
    rows: np.ndarray,
    late: np.ndarray,
    floor: Floor | None,
) -> None:
    """Merge every split of column j into the entries (m, j, r), r in `rows` (ascending): each takes its
    smallest (value, code)."""
    level = column.level
    bound = table[:, column.j, rows]  # one stage: a candidate, hence an upper bound
    if level.options.use_fewer_machines:  # A[r][j][m] <= A[r][j][m-1]
        bound = np.minimum.accumulate(bound, axis=0)
    bound = np.minimum(bound, _previous_split(table, choices, column, rows))
    if floor is None and len(rows) > 1:
        _relax_blocks(table, choices, column, rows, late, bound)
        return
    low, length = _intervals(column, rows, floor, bound)
    if length.sum() * FLAT_COST <= len(length) * len(column.split):
        _relax_flat(table, choices, column, rows, late, low, length)
    elif len(rows) == 1:  # the bounds leave most candidates: every one, densely
        _relax_row(table, choices, column)
    else:
        _relax_blocks(table, choices, column, rows, late, bound)


def _relax_blocks(
    table: np.ndarray,
    choices: np.ndarray,
    column: Column,
    rows: np.ndarray,
    late: np.ndarray,
    bound: np.ndarray,
) -> None:
    """The rows in chunks of ROW_CHUNK, each chunk's candidates within its rows' largest bound per m."""
    for low in range(0, len(rows), ROW_CHUNK):
        chunk = slice(low, low + ROW_CHUNK)
        _relax_block(table, choices, column, rows[chunk], late, bound[:, chunk].max(axis=1))


def _intervals(
    column: Column, rows: np.ndarray, floor: Floor | None, bound: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per query (row, pair), flat by row then pair: the first position of k to evaluate and how many.
    The interval of k the floor allows (k >= r too: earlier k are +inf; all of them without a floor),
    from the first k whose last stage (a running minimum) is within the bound."""
    pairs, split, count = column.pairs, column.split, len(column.pairs.m)
    low: np.ndarray = np.repeat(np.searchsorted(split, rows)[:, None], count, axis=1)
    high: np.ndarray = np.full((len(rows), count), len(split))
    if floor is not None:
        cum, reach = floor.cum_compute, bound[pairs.m].T * ((1 + SLACK) * floor.devices)  # [row, pair]
        after, margin = cum[split + 1], SLACK * cum[-1]
        low = np.maximum(low, np.searchsorted(after, cum[column.j + 1] - reach * pairs.replicas - margin))
        high = np.searchsorted(after, cum[rows][:, None] + reach * (pairs.prefix + 1) + margin, "right")
    low, high = low.ravel(), high.ravel()
    queries = np.flatnonzero(high > low)
    pair = queries % count
    within = bound.T.ravel()[queries // count * len(bound) + pairs.m[pair]]
    low[queries] = _first_within(column.rising, pairs.stage_row[pair], within, low[queries], high[queries])
    return low, np.maximum(high - low, 0)


def _relax_row(table: np.ndarray, choices: np.ndarray, column: Column) -> None:
    """Every split of column j into row 0 (the top level), as dense blocks [pair, k] of direct gathers
    from the table (row 0 has no late splits)."""
    pairs, split = column.pairs, column.split
    positions = np.arange(len(split))
    step = max(1, BATCH // len(split))
    for begin in range(0, len(pairs.m), step):
        p = np.arange(begin, min(begin + step, len(pairs.m)))
        value = table[pairs.prefix[p][:, None], split, 0]
        np.maximum(value, column.stage_of(p[:, None], positions), out=value)
        code = column.code + (pairs.replicas[p] * column.level.view.num_states)[:, None]
        m = pairs.m[p]
        start = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])
        best = np.minimum.reduceat(value.min(axis=1), start)  # per m
        tied = value == np.repeat(best, np.diff(np.r_[start, len(m)]))[:, None]
        code = np.minimum.reduceat(np.where(tied, code, NONE).min(axis=1), start)
        _take(table, choices, column.j, m[start], np.zeros(len(start), dtype=np.int64), best, code)


def _relax_flat(
    table: np.ndarray,
    choices: np.ndarray,
    column: Column,
    rows: np.ndarray,
    late: np.ndarray,
    low: np.ndarray,
    length: np.ndarray,
) -> None:
    """The candidates of the queries' intervals (_intervals), one by one, in batches."""
    pairs, split, count = column.pairs, column.split, len(column.pairs.m)
    queries = np.flatnonzero(length)  # by row, then by pair: each entry (row, m) is one run
    ends = np.cumsum(length[queries])
    if len(ends) == 0:
        return
    for part in np.split(queries, np.searchsorted(ends, np.arange(BATCH, ends[-1], BATCH))):
        if len(part) == 0:
            continue
        size = length[part]
        position = np.repeat(low[part] - (np.cumsum(size) - size), size) + np.arange(size.sum())
        row, pair = np.divmod(np.repeat(part, size), count)
        k, r = split[position], rows[row]
        value = np.maximum(table[pairs.prefix[pair], k, r], column.stage_of(pair, position))
        code = column.code[position] + pairs.replicas[pair] * column.level.view.num_states
        code += column.level.not_genuine * late[k, r]
        entry = row * column.level.machines + pairs.m[pair]
        start = np.flatnonzero(np.r_[True, entry[1:] != entry[:-1]])
        best, code = _run_minima(value, code, start)
        row, m = np.divmod(entry[start], column.level.machines)
        _take(table, choices, column.j, m, rows[row], best, code)


def _relax_block(
    table: np.ndarray,
    choices: np.ndarray,
    column: Column,
    rows: np.ndarray,
    late: np.ndarray,
    limit: np.ndarray,
) -> None:
    """The candidates (pair, k >= the first row) whose last stage is within the limit of their m (the
    rows' largest bound), per m one block [candidate, row] (contiguous rows of the table) in the
    tie-break order but for the lateness (which depends on the row): a row's first minimum is its choice
    unless that split is late for the row, and only then are the row's ties compared in full."""
    pairs, split, count = column.pairs, column.split, column.level.view.num_states
    first = np.searchsorted(split, rows[0])
    stage = column.stage[pairs.stage_row, first:]  # [pair, position - first]
    pair, position = np.nonzero((stage <= limit[pairs.m][:, None]) & (stage < INF))
    if len(pair) == 0:
        return
    position += first
    code = column.code[position] + pairs.replicas[pair] * count
    order = np.lexsort((code, pairs.m[pair]))
    pair, position, code = pair[order], position[order], code[order]
    ms = pairs.m[pair]
    runs = [0, *(np.flatnonzero(ms[1:] != ms[:-1]) + 1).tolist(), len(ms)]
    low, high, step = int(rows[0]), int(rows[-1]) + 1, column.level.not_genuine
    flat = table.reshape(-1, table.shape[2])  # [q·N + k, r]
    for begin, end in itertools.pairwise(runs):
        p, s, c = pair[begin:end], position[begin:end], code[begin:end]
        k = split[s]
        block = flat[pairs.prefix[p] * count + k, low:high]
        np.maximum(block, column.stage_of(p, s)[:, None], out=block)
        winner = block.argmin(axis=0)  # the first minimum
        best = block[winner, np.arange(len(rows))]
        m = ms[begin]
        reached = np.flatnonzero((best <= table[m, column.j, low:high]) & (best < INF))
        if len(reached) == 0:
            continue
        winner, best, r = winner[reached], best[reached], rows[reached]
        chosen = c[winner] + step * late[k[winner], r]
        fix = np.flatnonzero(chosen >= step)  # a late first minimum: a later tie may be genuine
        if len(fix):
            candidate, row = np.nonzero(block[:, reached[fix]] == best[fix])
            tied = np.full(len(fix), NONE, dtype=np.int64)
            np.minimum.at(tied, row, c[candidate] + step * late[k[candidate], r[fix][row]])
            chosen[fix] = tied
        _take(table, choices, column.j, np.full(len(r), m), r, best, chosen)


def _run_minima(value: np.ndarray, code: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run of candidates (starting at `start` along axis 0): the smallest value and the smallest code
    among the candidates that reach it."""
    best = np.minimum.reduceat(value, start, axis=0)
    tied = value == np.repeat(best, np.diff(np.r_[start, len(value)]), axis=0)
    return best, np.minimum.reduceat(np.where(tied, code, NONE), start, axis=0)


def _take(
    table: np.ndarray,
    choices: np.ndarray,
    j: int,
    m: np.ndarray,
    r: np.ndarray,
    best: np.ndarray,
    code: np.ndarray,
) -> None:
    """Entries (m, j, r) take the offered (best, code) where it is smaller: a lower value, or the same
    value and a code earlier in the tie-break order (+inf offers are left out)."""
    values, chosen = table[m, j, r], choices[m, j, r]
    better = (best < INF) & ((best < values) | ((best == values) & (code < chosen)))
    table[m[better], j, r[better]] = best[better]
    choices[m[better], j, r[better]] = code[better]


def _previous_split(table: np.ndarray, choices: np.ndarray, column: Column, rows: np.ndarray) -> np.ndarray:
    """[m, row]: the value in column j of the split each entry chose in column j-1 where it is still a
    candidate (an upper bound on the entry; neighbouring columns' optima are close, so it prunes far more
    than one stage's time), +inf otherwise."""
    level, pairs = column.level, column.pairs
    count = level.view.num_states
    code = choices[1:, column.j - 1, rows]
    split = (code >= 0) & (code < NONE)
    code = np.where(split, code % level.not_genuine, 0)
    k, replicas = count - 1 - code % count, (code // count) % level.radix
    m = np.arange(1, level.machines)[:, None]
    position = column.position[k]
    usable = split & (position >= 0) & (k >= rows) & (replicas <= m) & (pairs.row_of[replicas] >= 0)
    value = table[np.where(usable, m - replicas, 0), k, rows]
    stage = column.stage[pairs.row_of[replicas], position]
    limit = level.options.memory_limit_bytes
    if limit is not None:
        stash = -(-(level.machines - (m + 1)) // np.maximum(replicas, 1))
        usable &= column.stashed[position] * stash <= limit
    found = np.where(usable, np.maximum(value, stage), INF)
    return np.vstack([np.full((1, len(rows)), INF), found])


def _first_within(
    rising: np.ndarray, row: np.ndarray, bound: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Per query i, the first position p in [low[i], high[i]] whose running minimum of last-stage times
    (-rising[row[i], p], each row of rising ascending) is <= bound[i] (high[i] if none): a vectorised
    np.searchsorted by bisection."""
    width = rising.shape[1]
    flat, base = rising.ravel(), row * width
    for _ in range(int(np.max(high - low, initial=0)).bit_length()):
        middle = (low + high) >> 1
        above = (flat.take(base + np.minimum(middle, width - 1)) < -bound) & (middle < high)
        low = np.where(above, middle + 1, low)
        high = np.where(above, high, middle)
    return low
