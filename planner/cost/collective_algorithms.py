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


def _step(
    plan: Layout, src: NDArray[np.int64], dst: NDArray[np.int64], size: float
) -> tuple[float, dict[str, float]]:
    """Time (s) of one step in which device src[i] sends `size` bytes to dst[i], all at once, and the load
    (bytes, per direction) of the busiest unit link of each level (`step_flows`)."""
    latency, flows = step_flows(plan, src, dst)
    time_bw, loads = 0.0, {}
    for level in plan.crossed:
        if level.name in flows:
            loads[level.name] = flows[level.name] * size
            time_bw = max(time_bw, loads[level.name] / level.bandwidth)
    return latency + time_bw, loads


def step_flows(
    plan: Layout, src: NDArray[np.int64], dst: NDArray[np.int64]
) -> tuple[float, dict[str, float]]:
    """(latency s, flows on the busiest unit link of each level crossed) of one step in which device
    src[i] sends to dst[i], all at once (`steps_flows` for one step)."""
    latency, flows = steps_flows(plan, src[None, :], dst[None, :])
    return float(latency[0]), {name: float(count[0]) for name, count in flows.items() if count[0] > 0}


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


def halving_doubling_on_cluster(plan: Layout, g: float) -> CollectiveResult:
    """Rabenseifner's algorithm on the placed devices; the exchange distance doubles from 1, so the big
    halves cross the innermost (fastest) links. Each step's pairs are costed exactly (`_step`)."""
    n = plan.devices
    p = int(power_of_two_below(n))
    rest = n - p
    # MPICH's numbering: of the first 2r devices the odd ones stay (virtual ranks 0..r-1), the rest follow
    virtual = np.arange(p, dtype=np.int64)
    physical = np.where(virtual < rest, 2 * virtual + 1, virtual + rest)
    time, steps = 0.0, 0
    totals: dict[str, float] = {}

    def add(src: NDArray[np.int64], dst: NDArray[np.int64], size: float, times: int) -> None:
        nonlocal time, steps
        t, loads = _step(plan, src, dst, size)
        time += times * t
        steps += times
        for name, load in loads.items():
            totals[name] = totals.get(name, 0.0) + times * load

    if rest:
        evens = np.arange(0, 2 * rest, 2, dtype=np.int64)
        add(evens, evens + 1, g, 1)  # hand the whole vector to the odd neighbour
    distance = 1
    while distance < p:
        # once in the reduce-scatter (halves of the current part), once in the all-gather
        add(physical, physical[virtual ^ distance], g / (2 * distance), 2)
        distance *= 2
    if rest:
        evens = np.arange(0, 2 * rest, 2, dtype=np.int64)
        add(evens + 1, evens, g, 1)  # return the result
    per_device = float(halving_doubling_bytes_per_device(g, n))
    odd = f"; N not a power of two: {rest} devices hand their vector to a neighbour first" if rest else ""
    return collective_result(
        "halving-doubling",
        plan,
        g,
        time,
        per_device,
        2.0 * (p - 1) * g + 2.0 * rest * g,
        totals,
        steps,
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
