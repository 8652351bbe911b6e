"""The bottleneck search's feasibility check with the replica-aware cut terms, exact, compiled.

planner.optimize.bottleneck_kernel keeps the fewest devices per (cut, residue): enough when a cut's term
depends on the cut and the residue alone. The replica-aware term (planner.cost.cut_links) also depends on
the replicas r_A of the stage before the cut, so this check keeps the fewest devices per (cut i, residue
c, r_A): the state after a stage of r_A replicas ending at state i on a device offset of residue c. A
state with fewer devices is never worse than the same (i, c, r_A) with more (every later term depends
on i, c, r_A and the later stages alone; idle devices are allowed), so the check is exact for the native
model with idle devices allowed and no memory limit.

Work per candidate bottleneck τ. From state i, each entry e = (c, r_B) takes the fewest devices among
the states (i, c, r_A) whose cut onto r_B replicas passes τ (the states sorted by devices: the first
that passes), and reaches every j up to J(i, e), found as in bottleneck_kernel (J is the same: it
depends on the stage term alone). The states at j then come from intervals (i, J(i, e)]: J never
decreases with i for a fixed entry, so a monotone queue per entry gives the fewest devices of the
intervals covering j in O(1) amortised (an interval leaves the queue when J < j; a later one with no
more devices replaces those before it). The cut term is computed here in closed form with the same
integer numerators, the one division and the same float operations as planner.cost.cut_links (links
that are not a shared medium: the caller checks), so a test here agrees with the model bit for bit.

Inputs (the caller builds them; bottleneck_kernel describes stage, entry_c, entry_r, low, high): sizes
(n + 1,) the activation bytes moved at each cut (after compression); links, a tuple (units, parents,
places, bandwidth, latency): units, parents (L,) int64 devices per unit and per parent unit of each
level (parent 0: the whole cluster, the outermost level), places (2, L, M) each residue's place in its
level-k parent and unit (M, the residues, a multiple of every inner parent), bandwidth (bytes/s, after
efficiency) and latency (s) (L,);
value, chosen, reach (n, E) int16 and queue (E, n) int16: scratch, the devices after each interval and
the r_A it came from (for the plan), its J, the intervals of each entry's queue.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from planner.optimize.bottleneck_kernel import reach_end

NONE = np.int16(-1)


@njit(cache=True, inline="always")
def _numerator(unit, parent, position, inside, before, after):  # type: ignore[no-untyped-def]
    """The largest integer numerator of planner.cost.cut_links' share over one level's units, for the cut
    onto `after` replicas from `before`: only units in the parent holding both sides of the cut carry it
    (parent 0: the whole cluster; `position` the offset's place in its parent, 0: a parent boundary,
    no term); of those, the unit holding both sides (`inside`: the offset's place in its unit, 0: none)
    and the units of A or B alone nearest the cut (the most devices of each)."""
    if parent == 0:
        a_par, b_par = before, after
    elif position == 0:
        return 0
    else:
        a_par, b_par = min(before, position), min(after, parent - position)
    if inside:
        a_in, b_in = min(a_par, inside), min(b_par, unit - inside)
        mixed = a_in * (b_par - b_in) + b_in * (a_par - a_in)
        a_alone = min(unit, a_par - inside) if a_par > inside else 0
        b_alone = min(unit, b_par - unit + inside) if b_par > unit - inside else 0
    else:
        mixed = 0
        a_alone, b_alone = min(unit, a_par), min(unit, b_par)
    return max(a_alone * b_par, mixed, b_alone * a_par)


@njit(cache=True)
def cut_term(size, residue, before, after, links):  # type: ignore[no-untyped-def]
    """The replica-aware cut term (s) for `size` bytes onto `after` replicas at an offset of residue
    `residue` (mod the devices of one outermost unit, a multiple of every inner parent) from `before`
    replicas (planner.cost.cut_links.CutLinks.term, non-shared links); `links` as the module doc says."""
    units, parents, places, bandwidth, latency = links
    term = 0.0
    for k in range(units.shape[0]):
        position, inside = places[0, k, residue], places[1, k, residue]
        numerator = _numerator(units[k], parents[k], position, inside, before, after)
        doubled = 2.0 * (numerator / (before * after))
        term = max(term, size * (doubled / bandwidth[k]) + doubled * latency[k])
    return term


@njit(cache=True, inline="always")
def _outer_alone(size, residue, replicas, after, links):  # type: ignore[no-untyped-def]
    """A lower bound on cut_term that depends on one side alone: the outermost level's term from that
    side's nearest unit without the other side (`after`: B's, else A's). The outermost parent is the
    whole cluster, so that numerator over r_A · r_B is the same rational, and float, as devices / r."""
    units, _, places, bandwidth, latency = links
    k = units.shape[0] - 1
    unit, inside = units[k], places[1, k, residue]
    if after:
        inside = unit - inside if inside else 0
    alone = min(unit, replicas - inside) if replicas > inside else 0
    doubled = 2.0 * (alone / replicas)
    return size * (doubled / bandwidth[k]) + doubled * latency[k]


@njit(cache=True)
def check_replicas(  # type: ignore[no-untyped-def]
    tau, stage, entry_c, entry_r, sizes, links, modulus, devices, low, high, value, chosen, queue, reach
):
    """Whether some plan keeps every stage and replica-aware cut term <= tau on at most `devices`.

    Returns (the fewest devices reaching state n, its end residue, the replicas of its last stage, the
    smallest term above tau among the tests made). `value[i, e]` receives the devices after the
    interval of entry e from state i (-1: none), `chosen[i, e]` the r_A of the state it left;
    planner.optimize.pipeline_bottleneck reads the plan back from them. The ends found become `high`
    (feasible) or `low` (infeasible) for the entries tested, as in bottleneck_kernel.check."""
    cum, update = stage[0], stage[7]
    n = cum.shape[1] - 1
    count, m = entry_c.shape[0], modulus
    per_residue = count // m
    levels = devices // m + 2  # the devices of a state at residue c: c + k·M, k < levels
    head = np.zeros(count, dtype=np.int64)
    tail = np.zeros(count, dtype=np.int64)
    front_end = np.full(count, -1, dtype=np.int64)  # J and devices of each queue's front (-1: empty)
    front_used = np.zeros(count, dtype=np.int64)
    back_used = np.zeros(count, dtype=np.int64)  # devices of each queue's last interval
    pointer = np.zeros(count, dtype=np.int64)
    reach[:, :] = -1
    value[:, :] = NONE
    found_r = np.zeros((m, per_residue + 1), dtype=np.int64)  # the states at i per residue: r_A
    found_d = np.zeros((m, per_residue + 1), dtype=np.int64)  # and devices
    found = np.zeros(m, dtype=np.int64)
    sorted_r = np.zeros(per_residue + 1, dtype=np.int64)  # one residue's states by devices
    sorted_d = np.zeros(per_residue + 1, dtype=np.int64)
    tally = np.zeros(levels + 1, dtype=np.int64)
    total = cum[0, n] + cum[1, n] + cum[2, n] * update
    event = math.inf
    for i in range(n + 1):
        found[:] = 0
        if i == 0:
            found[0], found_r[0, 0], found_d[0, 0] = 1, 0, 0  # no stage yet: r_A = 0, no devices
        for e in range(count if i > 0 else 0):
            if front_end[e] < i and front_end[e] >= 0:  # intervals ending before i leave the queue
                h = head[e] + 1
                while h < tail[e] and reach[queue[e, h], e] < i:
                    h += 1
                head[e] = h
                front_end[e] = reach[queue[e, h], e] if h < tail[e] else -1
                front_used[e] = value[queue[e, h], e] if h < tail[e] else 0
            if front_end[e] >= i:
                c = (entry_c[e] + entry_r[e]) % m
                found_r[c, found[c]] = entry_r[e]
                found_d[c, found[c]] = front_used[e]
                found[c] += 1
        if i == n:
            break
        remaining = total - (cum[0, i] + cum[1, i] + cum[2, i] * update)
        room = devices + 1e-6 - remaining / tau  # every stage term >= its compute / replicas
        for c in range(m):
            k = found[c]
            if k == 0:
                continue
            tally[:] = 0  # counting sort by devices (all = c mod M), stable; past `room`: pruned
            for s in range(k):
                tally[found_d[c, s] // m + 1] += 1
            for b in range(levels):
                tally[b + 1] += tally[b]
            for s in range(k):
                b = found_d[c, s] // m
                sorted_r[tally[b]], sorted_d[tally[b]] = found_r[c, s], found_d[c, s]
                tally[b] += 1
            kept = 0
            while kept < k and sorted_d[kept] <= room and sorted_d[kept] <= devices:
                kept += 1
            if kept < k and sorted_d[kept] <= devices:
                event = min(event, remaining / (devices + 1e-6 - sorted_d[kept]))  # where it stops pruning
            passing = 0  # drop the states whose side of the cut alone exceeds tau, whatever r_B
            for s in range(kept):
                alone = _outer_alone(sizes[i], c, sorted_r[s], False, links) if i > 0 else 0.0
                if alone > tau:
                    event = min(event, alone)
                    continue
                sorted_r[passing], sorted_d[passing] = sorted_r[s], sorted_d[s]
                passing += 1
            kept = passing
            if kept == 0:
                continue
            for e in range(c * per_residue, (c + 1) * per_residue):
                r = entry_r[e]
                if sorted_d[0] + r > devices:
                    break
                alone = _outer_alone(sizes[i], c, r, True, links) if i > 0 else 0.0
                if alone > tau:  # B's side of the cut alone exceeds tau, whatever r_A
                    event = min(event, alone)
                    continue
                # the interval's states (j <= J, r, the devices + r) are pruned when even the rest after
                # J does not fit (J <= the bound `high`): skip the entry, or the states with too many
                cap = min(n, np.int64(high[i, e]))
                rest = total - (cum[0, cap] + cum[1, cap] + cum[2, cap] * update)
                if sorted_d[0] + r + rest / tau > devices + 1e-6:
                    event = min(event, rest / (devices + 1e-6 - sorted_d[0] - r))
                    continue
                J, above = reach_end(stage, e, i, max(pointer[e], i, np.int64(low[i, e])), cap, tau)
                event = min(event, above)
                pointer[e] = J
                reach[i, e] = J
                if i == J:
                    continue
                rest = total - (cum[0, J] + cum[1, J] + cum[2, J] * update)
                came, before = -1, 0
                for s in range(kept):
                    used = sorted_d[s]
                    if used + r > devices:
                        break
                    if used + r + rest / tau > devices + 1e-6:
                        event = min(event, rest / (devices + 1e-6 - used - r))
                        break
                    if i == 0:
                        came = 0
                        break
                    cut = cut_term(sizes[i], c, sorted_r[s], r, links)
                    if cut <= tau:
                        came, before = used, sorted_r[s]
                        break
                    event = min(event, cut)
                if came < 0:
                    continue
                v = came + r
                value[i, e], chosen[i, e] = v, before
                t = tail[e]
                if t > head[e] and back_used[e] >= v:  # no fewer devices, leaving no later: drop
                    t -= 1
                    while t > head[e] and value[queue[e, t - 1], e] >= v:
                        t -= 1
                queue[e, t] = i
                tail[e], back_used[e] = t + 1, v
                if t == head[e]:
                    front_end[e], front_used[e] = J, v
    best, residue, last = np.int64(1) << 40, 0, 0
    for c in range(m):
        for s in range(found[c]):
            if found_d[c, s] < best:
                best, residue, last = found_d[c, s], c, found_r[c, s]
    bound = high if best <= devices else low
    for i in range(n):  # row views and a select: the loop vectorises (a branch here costs 30x)
        found_row, bound_row = reach[i], bound[i]
        for e in range(count):
            end = found_row[e]
            bound_row[e] = end if end >= 0 else bound_row[e]
    return best, residue, last, event
