"""A plain-loop transcription of PipeDream's hierarchical recurrence, for cross-checking the fast one.

It evaluates every candidate of every table entry one at a time, in the loop order of PipeDream's
`compute_partitioning` (rows, then machines, then range ends, then split points and replica counts),
with the same cost terms as planner.optimize.pipedream (which documents them). It is slow on purpose —
O(levels · N^2 · |preds| · n^2) scalar steps — and is used by the tests and the benchmark to confirm the
vectorised solver's tables entry by entry on small and medium inputs. Infeasible entries are +inf
(PipeDream's None).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from planner.optimize.chain_view import ChainView

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

INF = math.inf


def reference_tables(
    view: ChainView,
    levels: Sequence[tuple[int, float]],
    *,
    memory_limit_bytes: float | None = None,
    straight: bool = False,
    use_fewer_machines: bool = False,
    activation_compression_ratio: float | None = None,
) -> list[list[list[list[float]]]]:
    """Every level's table A[r][j][m]: the best time of the states r..j (inclusive) on m+1 machines of
    that level; the answer is the last table's A[0][N-1][n-1]."""
    count = view.num_states
    cum_c, cum_p, cum_a = view.cum_compute_s, view.cum_parameter_bytes, view.cum_activation_bytes
    out = view.output_activation_bytes
    preds = [set(int(k) for k in p) for p in view.predecessors]

    def raw(cum: FloatArray, r: int, j: int) -> float:
        return float(cum[j + 1] - cum[r])

    compute = [[raw(cum_c, r, j) if j >= r else INF for j in range(count)] for r in range(count + 1)]
    tables = []
    inner = 1
    for level, (machines, bandwidth) in enumerate(levels):
        final = level == len(levels) - 1
        table = [[[INF] * machines for _ in range(count)] for _ in range(count + 1)]
        for r in range(count + 1):
            for j in range(r, count):
                parameters = raw(cum_p, r, j)
                activations = raw(cum_a, r, j)
                for m in range(1 if straight else machines):
                    stashed = math.ceil((machines - (m + 1)) / (m + 1)) * (activations + parameters)
                    if memory_limit_bytes is not None and stashed > memory_limit_bytes:
                        continue
                    dp = (4 * m * parameters) / (bandwidth * (m + 1)) / inner
                    table[r][j][m] = (compute[r][j] + dp) / (m + 1)
        for r in range(1 if final else count + 1):
            for m in range(1, machines):
                for j in range(r + 1, count):
                    best = table[r][j][m]
                    if use_fewer_machines:
                        best = min(best, table[r][j][m - 1])
                    for k in preds[j]:
                        if r > 0 and k in preds[r - 1]:
                            continue
                        for replicas in range(1, 2 if straight else m + 1):
                            last = compute[k + 1][j]
                            parameters = raw(cum_p, k + 1, j)
                            stashed = raw(cum_a, k + 1, j) + parameters
                            stashed *= math.ceil((machines - (m + 1)) / replicas)
                            if memory_limit_bytes is not None and stashed > memory_limit_bytes:
                                continue
                            last = (
                                last + (4 * (replicas - 1) * parameters) / (bandwidth * replicas)
                            ) / replicas
                            time = max(table[r][k][m - replicas], last)
                            if activation_compression_ratio is not None:
                                time = max(
                                    time,
                                    (2.0 * out[k]) / (bandwidth * replicas) / activation_compression_ratio,
                                )
                                if j < count - 1:
                                    time = max(
                                        time,
                                        (2.0 * out[j])
                                        / (bandwidth * replicas)
                                        / activation_compression_ratio,
                                    )
                            best = min(best, time)
                    table[r][j][m] = best
        compute = [[table[r][j][machines - 1] for j in range(count)] for r in range(count + 1)]
        tables.append(table)
        inner = machines
    return tables


def check_entries(
    view: ChainView,
    levels: Sequence[tuple[int, float]],
    tables: Sequence[FloatArray],
    entries: Sequence[tuple[int, int, int, int]],
    *,
    memory_limit_bytes: float | None = None,
    straight: bool = False,
    use_fewer_machines: bool = False,
    activation_compression_ratio: float | None = None,
) -> None:
    """Recompute table entries (level, r, j, m) with plain loops from the other entries of `tables`
    (shaped [m, j, r], as planner.optimize.pipedream_dp.solve_tables returns them) and raise AssertionError
    on a mismatch. An entry is consistent when it equals the recurrence applied to the entries it reads;
    checking a sample of a table too large for reference_tables is a spot check of the whole table."""
    count = view.num_states
    cum_c, cum_p, cum_a = view.cum_compute_s, view.cum_parameter_bytes, view.cum_activation_bytes
    out = view.output_activation_bytes
    preds = [set(int(k) for k in p) for p in view.predecessors]

    def raw(cum: FloatArray, r: int, j: int) -> float:
        return float(cum[j + 1] - cum[r])

    def entry(level: int, m: int, j: int, r: int) -> float:
        return float(tables[level][m, j, r])

    def compute(level: int, r: int, j: int) -> float:
        if j < r:
            return INF
        if level == 0:
            return raw(cum_c, r, j)
        return entry(level - 1, levels[level - 1][0] - 1, j, r)

    for level, r, j, m in entries:
        machines, bandwidth = levels[level]
        inner = levels[level - 1][0] if level else 1
        best = INF
        parameters, activations = raw(cum_p, r, j), raw(cum_a, r, j)
        stashed = math.ceil((machines - (m + 1)) / (m + 1)) * (activations + parameters)
        fits = memory_limit_bytes is None or stashed <= memory_limit_bytes
        if m < (1 if straight else machines) and j >= r and fits:
            best = (compute(level, r, j) + (4 * m * parameters) / (bandwidth * (m + 1)) / inner) / (m + 1)
        if m >= 1 and j > r:
            if use_fewer_machines:
                best = min(best, entry(level, m - 1, j, r))
            for k in preds[j]:
                if k < r:
                    continue
                for replicas in range(1, 2 if straight else m + 1):
                    parameters = raw(cum_p, k + 1, j)
                    stashed = (raw(cum_a, k + 1, j) + parameters) * math.ceil((machines - (m + 1)) / replicas)
                    if memory_limit_bytes is not None and stashed > memory_limit_bytes:
                        continue
                    last = compute(level, k + 1, j)
                    last = (last + (4 * (replicas - 1) * parameters) / (bandwidth * replicas)) / replicas
                    time = max(entry(level, m - replicas, k, r), last)
                    if activation_compression_ratio is not None:
                        scale = bandwidth * replicas
                        time = max(time, (2.0 * out[k]) / scale / activation_compression_ratio)
                        if j < count - 1:
                            time = max(time, (2.0 * out[j]) / scale / activation_compression_ratio)
                    best = min(best, time)
        got = entry(level, m, j, r)
        assert got == best, f"level {level} entry A[{r}][{j}][{m}] is {got}, the recurrence gives {best}"
