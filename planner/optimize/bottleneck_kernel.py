"""The feasibility check of the bottleneck search (planner.optimize.pipeline_bottleneck), compiled.

Why compiled (numba): the check walks O(n · M · N) (cut, residue, replicas) entries per candidate
bottleneck, each a dozen scalar operations and a branch on the result; as numpy calls per cut (the
previous version) that was 13 s of gathers and 8 s of bisection steps for 1,000 layers on 1,024 GPUs,
and a compiled loop does the same tests in well under a second. The stage term is evaluated with the
same operations in the same order as planner.cost.stage_costs.stage_time (IEEE double, no fast-math),
so a test here agrees with the dynamic program's figure bit for bit.

Inputs (the caller builds them): stage, the stage terms' figures as one tuple (cum, alpha, beta,
replicas, slowdown, bucket bytes, best_case, update s per parameter byte): cum (3, n + 1) prefix sums
of forward s, backward s, parameter bytes; alpha, beta (K, E) per entry e = (residue c, replicas r) the
K algorithms' affine coefficients (zeros for r = 1); replicas (E,) as floats; the rest the overlap's
(planner.cost.overlap.Overlap) and the options'. transfer (n + 1, M) the cut term before state i onto
residue c (zeros: no cut terms); cut_share (E,), cut_cost (n + 1,) a lower bound on the cut term
before state i onto entry e, cut_share[e] · cut_cost[i] (zeros: none;
planner.optimize.bottleneck_cuts.outer_link_bound); low, high (n, E) int16 the per-entry bounds on J
kept between checks (J at the last infeasible and the last feasible bottleneck; -1 and n + 1 when
unknown); reach (n, E) int16 scratch, allocated once per search (fresh pages per check cost system time).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

BIG = np.int64(1) << 40
BLOCK = 64  # positions per block of the suffix minima


@njit(cache=True, inline="always")
def _term(stage, e, i, j):  # type: ignore[no-untyped-def]
    cum, alpha, beta, replicas, slowdown, bucket, best_case, update = stage
    forward = cum[0, j] - cum[0, i]
    backward = cum[1, j] - cum[1, i]
    parameters = cum[2, j] - cum[2, i]
    positive = 1.0 if parameters > 0 else 0.0
    last_bytes = min(parameters, bucket)
    last_positive = 1.0 if last_bytes > 0 else 0.0
    sync = alpha[0, e] * positive + beta[0, e] * parameters
    tail = alpha[0, e] * last_positive + beta[0, e] * last_bytes
    for k in range(1, alpha.shape[0]):
        sync = min(sync, alpha[k, e] * positive + beta[k, e] * parameters)
        tail = min(tail, alpha[k, e] * last_positive + beta[k, e] * last_bytes)
    if best_case:
        phase = max(backward, sync)
    else:
        last = min(tail, sync)
        head = sync - last
        phase = max(backward + slowdown * min(head, backward), head) + last
    return (forward + phase + parameters * update) / replicas[e]


@njit(cache=True, inline="always")
def reach_end(stage, e, i, start, cap, tau):  # type: ignore[no-untyped-def]
    """(the largest j in [start, cap] whose stage term from state i on entry e is <= tau, the first term
    above tau met or inf): the stage terms grow with j, and start's is known to pass (or start = i)."""
    end = start
    while cap > end:
        term = _term(stage, e, i, end + 1)
        if term > tau:
            return end, term
        end += 1
    return end, math.inf


@njit(cache=True)
def stage_terms(stage, entries, starts, ends):  # type: ignore[no-untyped-def]
    """The stage terms of a plan's stages (entry, start, end), as the check computes them."""
    terms = np.empty(entries.shape[0])
    for s in range(entries.shape[0]):
        terms[s] = _term(stage, entries[s], starts[s], ends[s])
    return terms


@njit(cache=True)
def check(  # type: ignore[no-untyped-def]
    tau,
    stage,
    entry_c,
    entry_r,
    transfer,
    cut_share,
    cut_cost,
    devices,
    low,
    high,
    came,
    reach,
):
    """Whether some plan keeps every term <= tau on at most `devices` devices.

    Returns (the fewest devices reaching state n, its end residue, the smallest term above tau among the
    tests made). Every bottleneck in [tau, min(that, the last feasible tau)) is just as infeasible: an
    entry left untested has its end fixed by its bounds there. `came` (n + 1, M, 2) receives the (start,
    replicas) of the stage reaching each (state, residue). The ends found become `high` (feasible) or
    `low` (infeasible) for the entries tested."""
    cum, update = stage[0], stage[7]
    n = cum.shape[1] - 1
    m = transfer.shape[1]
    count = entry_c.shape[0]
    blocks = (n + BLOCK) // BLOCK + 1
    ends = np.full((m, n + 1), BIG, dtype=np.int64)  # fewest devices of an interval ending at J
    end_i = np.zeros((m, n + 1), dtype=np.int64)
    end_r = np.zeros((m, n + 1), dtype=np.int64)
    block_min = np.full((m, blocks), BIG, dtype=np.int64)
    pointer = np.zeros(count, dtype=np.int64)
    fewest = np.full(m, BIG, dtype=np.int64)
    reach[:, :] = -1  # J per tested entry, to keep as a bound
    total = cum[0, n] + cum[1, n] + cum[2, n] * update
    event = math.inf
    per_residue = count // m
    for i in range(n):
        for c in range(m):
            if i == 0:
                fewest[c] = 0 if c == 0 else BIG
                continue
            best, at = BIG, -1
            first_block = i // BLOCK
            for J in range(i, min(n + 1, (first_block + 1) * BLOCK)):
                if ends[c, J] < best:
                    best, at = ends[c, J], J
            for b in range(first_block + 1, blocks):
                if block_min[c, b] < best:
                    best = block_min[c, b]
                    for J in range(b * BLOCK, min(n + 1, (b + 1) * BLOCK)):
                        if ends[c, J] == best:
                            at = J
                            break
            fewest[c] = best
            if at >= 0:
                came[i, c, 0] = end_i[c, at]
                came[i, c, 1] = end_r[c, at]
        remaining = total - (cum[0, i] + cum[1, i] + cum[2, i] * update)
        for c in range(m):
            used = fewest[c]
            if used > devices:
                continue
            if i > 0 and transfer[i, c] > tau:
                event = min(event, transfer[i, c])
                continue
            if used + remaining / tau > devices + 1e-6:  # every stage term >= its compute / replicas
                event = min(event, remaining / (devices + 1e-6 - used))  # where this stops pruning
                continue
            for e in range(c * per_residue, (c + 1) * per_residue):
                r = entry_r[e]
                if used + r > devices:
                    break
                if i > 0 and cut_share[e] * cut_cost[i] > tau:
                    event = min(event, cut_share[e] * cut_cost[i])
                    continue
                start, cap = max(pointer[e], i, np.int64(low[i, e])), min(n, np.int64(high[i, e]))
                J, above = reach_end(stage, e, i, start, cap, tau)
                event = min(event, above)
                pointer[e] = J
                reach[i, e] = J
                if i < J:
                    target = (c + r) % m
                    value = used + r
                    if value < ends[target, J]:
                        ends[target, J] = value
                        end_i[target, J] = i
                        end_r[target, J] = r
                        b = J // BLOCK
                        if value < block_min[target, b]:
                            block_min[target, b] = value
    best, residue = BIG, 0
    for c in range(m):
        if ends[c, n] < best:
            best, residue = ends[c, n], c
    feasible = best <= devices
    if feasible:
        came[n, residue, 0] = end_i[residue, n]
        came[n, residue, 1] = end_r[residue, n]
    bound = high if feasible else low  # J at a feasible tau bounds J from above below it, and vice versa
    for i in range(n):  # row views and a select: the loop vectorises (a branch here costs 30x)
        found_row, bound_row = reach[i], bound[i]
        for e in range(count):
            end = found_row[e]
            bound_row[e] = end if end >= 0 else bound_row[e]
    return best, residue, event
