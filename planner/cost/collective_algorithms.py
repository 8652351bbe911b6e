"""Ring, double binary tree, halving-doubling and hierarchical all-reduce on the levels of a `Cluster`.

Each takes the placed devices (`Layout`) and the gradient G (bytes) and costs every level's link: the
closed forms of planner.cost.collectives where all hops look alike, step by step where they do not (the
halving-doubling pairs). Sources: Patarasuk & Yuan 2009 (ring), Sanders, Speck & Traeff 2009 and NCCL 2.4
(double binary trees), Thakur, Rabenseifner & Gropp 2005 (Rabenseifner's algorithm), Goyal et al. 2017
(hierarchical).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planner.cost.collective_layout import (
    CollectiveResult,
    Layout,
    busiest_level,
    collective_result,
    link_share,
    path_to,
)
from planner.cost.collectives import (
    ceil_log2,
    halving_doubling_bytes_per_device,
    pipelined_time,
    power_of_two_below,
    ring_allreduce_time,
    tree_share,
)


def ring_on_cluster(plan: Layout, g: float) -> CollectiveResult:
    """Flat ring over the devices in placement order: each unit's link carries one flow per direction."""
    n = plan.devices
    crossed = plan.crossed
    alpha = max(level.latency for level in crossed)
    # the slowest hop of a step: one G/N chunk per unit link (every unit of a shared medium at once)
    bandwidth = min(level.bandwidth / link_share(level, 1) for level in crossed)
    time = float(ring_allreduce_time(g, n, bandwidth, alpha))
    per_link = 2.0 * (n - 1) / n * g
    totals = {level.name: per_link * link_share(level, 1) for level in crossed}
    return collective_result(
        "ring",
        plan,
        g,
        time,
        per_link,
        2.0 * (n - 1) * g,
        totals,
        2 * (n - 1),
        "reduce-scatter + all-gather, 2(N-1) steps of G/N; per device 2(N-1)/N G; each step waits for its "
        "slowest hop (the ring crosses every level the devices span)",
    )


def tree_on_cluster(plan: Layout, g: float) -> CollectiveResult:
    """NCCL-style: chains inside the inner levels, a double binary tree across the outermost level."""
    crossed = plan.crossed
    top = plan.top
    depth = 2.0 * (sum(level.spanned - 1 for level in crossed if level is not top) + ceil_log2(top.spanned))
    totals = {}
    for i, level in enumerate(crossed):
        if level.shared:
            totals[level.name] = 2.0 * (level.spanned - 1) * g
        else:
            # the unit that hosts the chain's head (or the tree node) above also carries that traffic; a
            # node sends at most 2G per direction
            above = sum(float(tree_share(lv.spanned)) for lv in crossed[i:])
            totals[level.name] = min(2.0, above) * g
    busy, _ = busiest_level(totals, plan)
    alpha = max(level.latency for level in crossed)
    time = float(pipelined_time(depth, alpha, busy))
    per_device = min(2.0, sum(float(tree_share(lv.spanned)) for lv in crossed)) * g
    return collective_result(
        "tree",
        plan,
        g,
        time,
        per_device,
        2.0 * (plan.devices - 1) * g,
        totals,
        int(depth),
        "double binary tree across the outermost level, chains inside (NCCL 2.4); reduce and broadcast "
        "pipelined with the best chunk count; a link carries up to 2G per direction (G between 2 units)",
    )


def steps_flows(
    plan: Layout, src: NDArray[np.int64], dst: NDArray[np.int64]
) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Per step (a row: device src[row, i] sends to dst[row, i], all at once): its latency (s) and the flows
    on the busiest unit link of each level some step crosses (0 in a step that does not cross it).

    A transfer crosses the links of every level whose units differ between its ends; a unit link carries
    all the flows leaving (entering) the unit at once, a shared medium every flow leaving or entering its
    group. A step pays the latency of the outermost level it crosses. Pairs with src = dst cross nothing
    (rows of different lengths are padded with them).
    """
    rows = src.shape[0]
    row = np.broadcast_to(np.arange(rows, dtype=np.int64)[:, None], src.shape)
    latency, flows = np.zeros(rows), {}
    for level in plan.crossed:
        unit = level.unit_devices
        crossing = src // unit != dst // unit
        if not crossing.any():
            continue
        latency = np.where(crossing.any(axis=1), np.maximum(latency, level.latency), latency)
        if level.shared:
            group = unit * level.spanned
            ga, gb = src // group, dst // group
            width = int(max(ga.max(), gb.max())) + 1
            uses = _row_counts(row, ga, crossing, width) + _row_counts(row, gb, crossing & (gb != ga), width)
        else:
            a, b = src // unit, dst // unit
            width = int(max(a.max(), b.max())) + 1
            uses = np.maximum(_row_counts(row, a, crossing, width), _row_counts(row, b, crossing, width))
        flows[level.name] = uses.max(axis=1).astype(float)
    return latency, flows


def _row_counts(
    row: NDArray[np.int64], ids: NDArray[np.int64], mask: NDArray[np.bool_], width: int
) -> NDArray[np.int64]:
    """Per row and id (< width), the masked entries with that id (np.bincount row by row)."""
    counts = np.bincount((row * width + ids)[mask], minlength=row.shape[0] * width)
    return counts.reshape(row.shape[0], width)


def rabenseifner_steps(n: int) -> tuple[NDArray[np.int64], NDArray[np.int64], list[int], list[int]]:
    """Rabenseifner's steps on n devices, in order, one row each (src[row, i] sends to dst[row, i]; rows
    padded with pairs that stay put): with n not a power of two, the first 2r devices' even ones hand their
    vector to the odd neighbour (MPICH's numbering: the odd ones stay as virtual ranks 0..r-1, the rest
    follow); one exchange per distance 1, 2, 4, ... (its half of the current part); the result handed
    back. Also what each step sends, G / part (a hand-over all of G, an exchange at distance d G / 2d), and
    how often it runs (an exchange twice: reduce-scatter and all-gather)."""
    p = int(power_of_two_below(n))
    rest = n - p
    virtual = np.arange(p, dtype=np.int64)
    physical = np.where(virtual < rest, 2 * virtual + 1, virtual + rest)
    distances = 1 << np.arange(p.bit_length() - 1, dtype=np.int64)
    odd = 1 if rest else 0
    src = np.zeros((len(distances) + 2 * odd, p), dtype=np.int64)
    dst = np.zeros_like(src)
    src[odd : odd + len(distances)] = physical
    dst[odd : odd + len(distances)] = physical[virtual[None, :] ^ distances[:, None]]
    parts = [1] * odd + [2 * int(d) for d in distances] + [1] * odd
    if rest:
        evens = np.arange(0, 2 * rest, 2, dtype=np.int64)
        src[0, :rest], dst[0, :rest] = evens, evens + 1
        src[-1, :rest], dst[-1, :rest] = evens + 1, evens
    return src, dst, parts, [1] * odd + [2] * len(distances) + [1] * odd


def halving_doubling_on_cluster(plan: Layout, g: float) -> CollectiveResult:
    """Rabenseifner's algorithm on the placed devices; the exchange distance doubles from 1, so the big
    halves cross the innermost (fastest) links. Each step's pairs are costed exactly (`steps_flows`)."""
    n = plan.devices
    rest = n - int(power_of_two_below(n))
    src, dst, parts, times = rabenseifner_steps(n)
    latency, flows = steps_flows(plan, src, dst)
    time, totals = 0.0, dict[str, float]()
    for row, repeat in enumerate(times):
        size, time_bw = g / parts[row], 0.0
        for level in plan.crossed:
            if level.name in flows and flows[level.name][row] > 0:
                load = float(flows[level.name][row]) * size
                totals[level.name] = totals.get(level.name, 0.0) + repeat * load
                time_bw = max(time_bw, load / level.bandwidth)
        time += repeat * (float(latency[row]) + time_bw)
    per_device = float(halving_doubling_bytes_per_device(g, n))
    odd = f"; N not a power of two: {rest} devices hand their vector to a neighbour first" if rest else ""
    return collective_result(
        "halving-doubling",
        plan,
        g,
        time,
        per_device,
        2.0 * (int(power_of_two_below(n)) - 1) * g + 2.0 * rest * g,
        totals,
        sum(times),
        "recursive halving reduce-scatter + recursive doubling all-gather (Rabenseifner), distance 1 "
        "first so the large halves cross the fastest links" + odd,
    )


def hierarchical_on_cluster(plan: Layout, g: float) -> CollectiveResult:
    """Reduce-scatter level by level outwards, all-reduce at the top, all-gather back in."""
    crossed = plan.crossed
    time = 0.0
    totals = dict.fromkeys((level.name for level in crossed), 0.0)
    steps = 0
    for level in crossed:
        m = level.spanned
        busy = 0.0
        for inner in path_to(plan, level):
            # each device holds G / U of this level; a unit link of `inner` carries U_inner of them at once
            load = link_share(inner, inner.unit_devices) * g / (level.unit_devices * m)
            totals[inner.name] += 2.0 * (m - 1) * load
            busy = max(busy, load / inner.bandwidth)
        time += 2.0 * (m - 1) * (level.latency + busy)
        steps += 2 * (m - 1)
    n = plan.devices
    per_device = sum(2.0 * (lv.spanned - 1) * g / (lv.unit_devices * lv.spanned) for lv in crossed)
    names = " -> ".join(level.name for level in crossed)
    return collective_result(
        "hierarchical",
        plan,
        g,
        time,
        per_device,
        n * per_device,
        totals,
        steps,
        f"ring reduce-scatter level by level ({names}), all-reduce of the shard at the top, all-gather "
        "back; partly filled units are costed as full",
    )
