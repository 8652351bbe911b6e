"""Cost of gradient synchronisation (all-reduce) by the classic algorithms, alpha-beta model.

Units: message sizes in bytes, bandwidths in bytes/s (per direction), latencies and times in seconds.

The model (Hockney's alpha-beta, as used by Thakur, Rabenseifner & Gropp 2005, Sec. 3): sending a message
of m bytes over a link costs alpha + m / B. Links are full duplex (a device sends and receives at the same
time) and each device has one port: it sends one message and receives one message at a time, so a server
that receives N - 1 messages pays N - 1 latencies. Reduction arithmetic is not charged (gamma = 0).

Two layers:

* vectorised primitives over message size G and device count N (numpy arrays that broadcast), for
  N devices joined by independent links of bandwidth B and latency alpha: ring, tree, halving-doubling,
  parameter server, two-level hierarchical, and the all-reduce lower bound. Sweeps call these.
* `allreduce_on_cluster`: one algorithm on the devices of a `Cluster`, whose levels (innermost first)
  each have their own link: per GPU inside a server, per server NIC between servers. Devices fill servers
  innermost first. A level's link is shared by every flow that leaves one of its units at once (the GPUs
  of a server share its NIC); a shared medium (`Link.shared`, Wi-Fi) serialises every transfer of the
  level. The result says which link is the bottleneck and how far the time is from the lower bound.

N = 1 costs nothing: a single device has nothing to synchronise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner.spec.hardware import Cluster

ALGORITHMS: tuple[str, ...] = ("ps", "ps-sharded", "ring", "tree", "halving-doubling", "hierarchical")

Array = NDArray[np.float64]


@dataclass(frozen=True)
class CollectiveResult:
    """One all-reduce of a `message_bytes` gradient on `devices` devices (SI units).

    `bytes_sent_per_device` is the largest amount any one participant sends (dedicated parameter servers
    included); `total_traffic_bytes` sums what every participant sends; `busiest_link` names the level
    (and, for a parameter server, which side) whose link carries the bottleneck traffic and
    `busiest_link_bytes` what one such link carries in one direction (a shared medium: in total).
    `link_bytes` gives that per level (level name, bytes). `lower_bound_s` is the all-reduce lower bound on
    the same devices and links (`allreduce_lower_bound` generalised to the cluster's levels).
    """

    algorithm: str
    devices: int
    message_bytes: float
    time_s: float
    lower_bound_s: float
    bytes_sent_per_device: float
    total_traffic_bytes: float
    busiest_link: str
    busiest_link_bytes: float
    steps: int
    notes: str
    link_bytes: tuple[tuple[str, float], ...] = ()

    @property
    def times_lower_bound(self) -> float:
        """time_s / lower_bound_s (1.0 when both are zero)."""
        if self.lower_bound_s <= 0:
            return 1.0 if self.time_s <= 0 else math.inf
        return self.time_s / self.lower_bound_s

    def to_dict(self) -> dict[str, object]:
        """Plain values with units in the key names."""
        return {
            "algorithm": self.algorithm,
            "devices": self.devices,
            "message_bytes": self.message_bytes,
            "time_s": self.time_s,
            "lower_bound_s": self.lower_bound_s,
            "times_lower_bound": self.times_lower_bound,
            "bytes_sent_per_device": self.bytes_sent_per_device,
            "total_traffic_bytes": self.total_traffic_bytes,
            "busiest_link": self.busiest_link,
            "busiest_link_bytes": self.busiest_link_bytes,
            "link_bytes": {name: value for name, value in self.link_bytes},
            "steps": self.steps,
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------------------------------------
# Vectorised primitives: N devices, independent full-duplex links of bandwidth B (bytes/s), latency alpha (s)
# ---------------------------------------------------------------------------------------------------------


def _arrays(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def ceil_log2(n: ArrayLike) -> Array:
    """ceil(log2 n) for n >= 1 (0 for n <= 1), elementwise."""
    (n,) = _arrays(n)
    return np.ceil(np.log2(np.maximum(n, 1.0)) - 1e-12)


def allreduce_lower_bound(
    message_bytes: ArrayLike, devices: ArrayLike, bandwidth: ArrayLike, latency: ArrayLike = 0.0
) -> Array:
    """Lower bound on any all-reduce of G bytes among N devices (s).

    Bandwidth: every element needs N - 1 transfers to be reduced and N - 1 to be spread (two spanning
    trees), so the total traffic is at least 2(N-1)G and some device sends at least 2(N-1)/N * G:
    time >= 2(N-1)/N * G / B (Patarasuk & Yuan 2009, Sec. 3). Latency: with one port per device the
    number of devices whose data a device holds at most doubles per round, so >= ceil(log2 N) rounds of
    alpha (Thakur et al. 2005, Sec. 4; Chan et al. 2007, Table 1 list the same two terms). The sum of the
    two terms is the conventional bound; every algorithm here pays at least each term.
    """
    g, n, b, a = _arrays(message_bytes, devices, bandwidth, latency)
    bound = ceil_log2(n) * a + 2.0 * (n - 1.0) / np.maximum(n, 1.0) * g / b
    return np.where(n > 1, bound, 0.0)


def ring_allreduce_bytes_per_device(message_bytes: ArrayLike, devices: ArrayLike) -> Array:
    """Bytes each device sends in a ring all-reduce: 2(N-1)/N * G (and receives the same).

    Reduce-scatter then all-gather, each N - 1 steps of G/N (Patarasuk & Yuan 2009; Thakur et al. 2005).
    """
    g, n = _arrays(message_bytes, devices)
    return np.where(n > 1, 2.0 * (n - 1.0) / np.maximum(n, 1.0) * g, 0.0)


def ring_allreduce_time(
    message_bytes: ArrayLike, devices: ArrayLike, bandwidth: ArrayLike, latency: ArrayLike = 0.0
) -> Array:
    """Ring all-reduce time (s): 2(N-1) * (alpha + G / (N B)).

    Reduce-scatter (N - 1 steps) then all-gather (N - 1 steps); in every step each device sends a G/N
    chunk to its successor and receives one from its predecessor at once (full duplex). Bandwidth-optimal:
    it meets the 2(N-1)/N * G / B bound (Patarasuk & Yuan 2009, Sec. 4), but its latency term grows with N.
    """
    g, n, b, a = _arrays(message_bytes, devices, bandwidth, latency)
    t = 2.0 * (n - 1.0) * (a + g / (np.maximum(n, 1.0) * b))
    return np.where(n > 1, t, 0.0)


def ring_allgather_time(
    bytes_per_device: ArrayLike, devices: ArrayLike, bandwidth: ArrayLike, latency: ArrayLike = 0.0
) -> Array:
    """Ring all-gather time (s) when each of N devices contributes S bytes: (N-1) * (alpha + S / B).

    Every device must receive the (N-1) S bytes of the others (Thakur et al. 2005, Sec. 4.1, ring
    allgather). Used for sparse gradients, which cannot be summed in place (planner.cost.compression).
    """
    s, n, b, a = _arrays(bytes_per_device, devices, bandwidth, latency)
    return np.where(n > 1, (n - 1.0) * (a + s / b), 0.0)


def pipelined_time(depth: ArrayLike, latency: ArrayLike, busy_s: ArrayLike) -> Array:
    """Time (s) to stream `busy_s` seconds of bottleneck traffic through a pipeline `depth` steps deep.

    With the message cut into k chunks, T(k) = (depth - 1 + k) * (alpha + busy / k); the best k is
    sqrt((depth - 1) * busy / alpha), at least 1, giving T = (sqrt((depth-1) alpha) + sqrt(busy))^2 when
    k >= 1 (the classic pipelined-broadcast analysis; Sanders, Speck & Traeff 2009, Sec. 2). k is treated as
    continuous. depth 0 costs nothing.
    """
    d, a, x = _arrays(depth, latency, busy_s)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = np.sqrt(np.maximum(d - 1.0, 0.0) * x / a)
    k = np.where(np.isfinite(k), np.maximum(k, 1.0), np.inf)
    with np.errstate(invalid="ignore"):
        t = np.where(np.isinf(k), x + np.maximum(d - 1.0, 0.0) * a, (d - 1.0 + k) * (a + x / k))
    return np.where(d > 0, t, 0.0)


def _tree_share(units: ArrayLike) -> Array:
    """Bytes one unit sends in a double-binary-tree all-reduce, per byte of G: 2 (units > 2), 1 (2), 0."""
    u = np.asarray(units, dtype=float)
    return np.where(u > 2, 2.0, np.where(u > 1, 1.0, 0.0))


def tree_allreduce_bytes_per_device(message_bytes: ArrayLike, devices: ArrayLike) -> Array:
    """Bytes a device sends in a double-binary-tree all-reduce: 2G for N > 2 (G for N = 2).

    Each of the two trees carries half of G; a device is interior in at most one of them, where it sends
    G/2 up in the reduction and G/2 to each of two children in the broadcast, and a leaf in the other, where
    it sends G/2 up: 2G in all (Sanders, Speck & Traeff 2009; NCCL 2.4's double binary trees).
    """
    g, n = _arrays(message_bytes, devices)
    return _tree_share(n) * g


def tree_allreduce_time(
    message_bytes: ArrayLike, devices: ArrayLike, bandwidth: ArrayLike, latency: ArrayLike = 0.0
) -> Array:
    """Double-binary-tree all-reduce time (s), reduction and broadcast pipelined together (NCCL 2.4).

    Depth 2 ceil(log2 N) steps (up one tree and down again); the bottleneck port streams 2G bytes (G for
    N = 2; `tree_allreduce_bytes_per_device`), chunked optimally (`pipelined_time`). Latency grows as
    log N instead of the ring's N, at the price of twice the ring's bandwidth term for large N
    (Sanders, Speck & Traeff 2009, two-tree collectives).
    """
    g, n, b, a = _arrays(message_bytes, devices, bandwidth, latency)
    return pipelined_time(2.0 * ceil_log2(n), a, tree_allreduce_bytes_per_device(g, n) / b)


def _power_of_two_below(n: ArrayLike) -> Array:
    return np.exp2(np.floor(np.log2(np.maximum(n, 1.0)) + 1e-12))


def halving_doubling_bytes_per_device(message_bytes: ArrayLike, devices: ArrayLike) -> Array:
    """Most bytes a device sends in Rabenseifner's halving-doubling all-reduce.

    Power-of-two N: 2(N-1)/N * G. Otherwise (p' the largest power of two <= N): 2(p'-1)/p' * G plus G for
    the devices that also return the result to a device that left (Thakur et al. 2005, Sec. 4.4).
    """
    g, n = _arrays(message_bytes, devices)
    p = _power_of_two_below(n)
    return np.where(n > 1, 2.0 * (p - 1.0) / p * g + np.where(n > p, g, 0.0), 0.0)


def halving_doubling_allreduce_time(
    message_bytes: ArrayLike, devices: ArrayLike, bandwidth: ArrayLike, latency: ArrayLike = 0.0
) -> Array:
    """Recursive halving (reduce-scatter) + recursive doubling (all-gather) all-reduce time (s).

    Rabenseifner's algorithm (Thakur, Rabenseifner & Gropp 2005, Sec. 4.4): for N = p' a power of two,
    2 log2 p' steps exchanging G/2, G/4, ..., G/p' and back: 2 log2(p') alpha + 2(p'-1)/p' * G / B.
    Otherwise r = N - p' devices first hand their whole vector to a neighbour and get the result back at
    the end (MPICH's variant): 2 (alpha + G / B) more.
    """
    g, n, b, a = _arrays(message_bytes, devices, bandwidth, latency)
    p = _power_of_two_below(n)
    core = 2.0 * np.log2(p) * a + 2.0 * (p - 1.0) / p * g / b
    extra = np.where(n > p, 2.0 * (a + g / b), 0.0)
    return np.where(n > 1, core + extra, 0.0)


def ps_total_traffic(
    message_bytes: ArrayLike, devices: ArrayLike, dedicated: bool = False, backups: ArrayLike = 0
) -> Array:
    """Bytes a parameter-server synchronisation puts on the network (all senders together).

    Co-located (the seed's count; Li et al. OSDI'14): the server lives on one of the N nodes, N - 1
    workers push G and pull G: 2(N-1)G. Dedicated server(s) with N workers: 2NG. Sharding does not change
    the total (it spreads it over k links). Each backup replica receives the aggregated shard once
    (replication after aggregation, Li et al. 2014, Sec. 4.4): + backups * G.
    """
    g, n, r = _arrays(message_bytes, devices, backups)
    workers = n if dedicated else n - 1.0
    return np.where(n > 1, 2.0 * workers * g + r * g, 0.0)


def ps_bytes_per_device(
    message_bytes: ArrayLike,
    devices: ArrayLike,
    shards: ArrayLike = 1,
    dedicated: bool = False,
    backups: ArrayLike = 0,
) -> Array:
    """Most bytes one participant sends in a parameter-server synchronisation (a server usually).

    A worker pushes G (its shards hosted elsewhere). A server holding G/k answers the pulls of N - 1
    (co-located) or N (dedicated) workers, sends (k-1)/k G of its own gradient when co-located, and copies
    its shard to each backup.
    """
    g, n, k, r = _arrays(message_bytes, devices, shards, backups)
    if dedicated:
        server = (n + r) * g / k
        worker = g
    else:
        server = ((k - 1.0) + (n - 1.0) + r) * g / k
        worker = np.where(k < n, g, 0.0)
    return np.where(n > 1, np.maximum(server, worker), 0.0)


def ps_allreduce_time(
    message_bytes: ArrayLike,
    devices: ArrayLike,
    bandwidth: ArrayLike,
    latency: ArrayLike = 0.0,
    shards: ArrayLike = 1,
    dedicated: bool = False,
    backups: ArrayLike = 0,
) -> Array:
    """Synchronous parameter-server time (s): push, aggregate, (replicate), pull; no pipelining.

    Co-located (Li et al. OSDI'14; seed lecture): k server shards live on k of the N nodes, each holds G/k;
    each receives N - 1 pushes of G/k one at a time through its link, then answers N - 1 pulls:
    2 (N-1) (alpha + G / (k B)). k = 1 is the classic single server, bounded by its link (2(N-1) G / B);
    k = N equals the ring's bandwidth term. Dedicated: k servers outside the N workers each receive N
    pushes of G/k while each worker sends k messages of G/k: 2 (max(N, k) alpha + max(N/k, 1) G / B).
    Backups: after aggregation each server copies its shard to each of `backups` replicas before it
    answers pulls (Li et al. 2014, Sec. 4.4): + backups * (alpha + G / (k B)).
    """
    g, n, b, a, k, r = _arrays(message_bytes, devices, bandwidth, latency, shards, backups)
    if dedicated:
        phase = np.maximum(n, k) * a + np.maximum(n / k, 1.0) * g / b
    else:
        phase = (n - 1.0) * (a + g / (k * b))
    t = 2.0 * phase + r * (a + g / (k * b))
    return np.where(n > 1, t, 0.0)


def hierarchical_allreduce_time(
    message_bytes: ArrayLike,
    devices_per_server: ArrayLike,
    servers: ArrayLike,
    bandwidth_inside: ArrayLike,
    latency_inside: ArrayLike,
    bandwidth_between: ArrayLike,
    latency_between: ArrayLike,
) -> Array:
    """Two-level all-reduce time (s): reduce-scatter inside each server, all-reduce across, all-gather.

    g devices per server on per-device links (B_in, alpha_in); s servers on per-server links (B_out,
    alpha_out). Inside: a ring reduce-scatter and, at the end, a ring all-gather of G among g:
    2(g-1)(alpha_in + G/(g B_in)). Across: device i of every server all-reduces shard i (G/g) by a ring
    with its peers; the g rings share the server link, which carries G/s per step:
    2(s-1)(alpha_out + max(G/(s B_out), G/(g s B_in))). Per device 2(N-1)/N * G in all, as the flat
    ring, but only 2(s-1) latencies cross the slow level (Goyal et al. 2017, Sec. 4; NCCL / Horovod
    hierarchical all-reduce; Thakur et al. 2005 for the ring phases).
    """
    g, c, s, b1, a1, b2, a2 = _arrays(
        message_bytes, devices_per_server, servers, bandwidth_inside, latency_inside,
        bandwidth_between, latency_between,
    )  # fmt: skip
    inside = ring_allreduce_time(g, c, b1, a1)
    busy = np.maximum(g / (np.maximum(s, 1.0) * b2), np.where(c > 1, g / (c * s * b1), 0.0))
    across = np.where(s > 1, 2.0 * (s - 1.0) * (a2 + busy), 0.0)
    return inside + across


# ---------------------------------------------------------------------------------------------------------
# On a cluster: the levels a collective crosses, their links, and how flows share them
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelUse:
    """How the devices of a collective sit on one level of the cluster.

    `unit_devices` (U): devices in one unit of this level (1 for the innermost); `spanned` (m): most units of
    this level that hold devices inside one unit of the next level up; `units` (M): units holding devices
    in all; `present`: devices in the unit that holds device 0. `bandwidth` is the sustained rate
    (bandwidth x efficiency) of one unit's link per direction.
    """

    name: str
    unit_devices: int
    spanned: int
    units: int
    present: int
    bandwidth: float
    latency: float
    shared: bool

    @property
    def crossed(self) -> bool:
        return self.spanned > 1


@dataclass(frozen=True)
class Layout:
    """The levels that N devices filled innermost-first occupy on a cluster (innermost first)."""

    devices: int
    levels: tuple[LevelUse, ...]

    @property
    def crossed(self) -> tuple[LevelUse, ...]:
        return tuple(level for level in self.levels if level.crossed)

    @property
    def top(self) -> LevelUse:
        """The outermost level the devices span (the outermost level if they sit in one unit)."""
        crossed = self.crossed
        return crossed[-1] if crossed else self.levels[-1]


def layout(cluster: Cluster, devices: int | None = None) -> Layout:
    """Place `devices` devices (default: all) on `cluster`, filling units innermost first."""
    total = cluster.total_devices
    n = total if devices is None else int(devices)
    if n < 1:
        raise ValueError(f"devices must be >= 1, got {n}")
    if n > total:
        raise ValueError(f"{cluster.name} has {total} devices, {n} requested")
    uses = []
    unit = 1
    for level in cluster.levels:
        units = math.ceil(n / unit)
        uses.append(
            LevelUse(
                name=level.name,
                unit_devices=unit,
                spanned=min(level.count, units),
                units=units,
                present=min(unit, n),
                bandwidth=level.link.effective_bandwidth,
                latency=level.link.latency,
                shared=level.link.shared,
            )
        )
        unit *= level.count
    return Layout(n, tuple(uses))


def _busy(loads: dict[str, float], plan: Layout) -> tuple[float, str]:
    """Seconds the most loaded link needs for `loads` (bytes per unit link, per direction, by level)."""
    best, name = 0.0, ""
    for level in plan.levels:
        if level.name in loads:
            t = loads[level.name] / level.bandwidth
            if t > best or not name:
                best, name = t, level.name
    return best, name


def _share(level: LevelUse, flows: float) -> float:
    """How many equal flows a unit's link carries at once: on a shared medium every unit's flow."""
    return flows * level.spanned if level.shared else flows


def _lower_bound(plan: Layout, g: float) -> tuple[float, str]:
    """All-reduce lower bound on the cluster (s) and the level that sets its bandwidth term.

    Bandwidth: for each level the devices span, the M units holding devices must exchange at least
    2(M-1)G bytes (two spanning trees per element, Patarasuk & Yuan 2009), so one unit link carries
    2(M-1)/M * G; on a shared medium the 2(m-1)G of one group all cross it. Latency: ceil(log2 N) rounds
    of the fastest link, and at least one message over the outermost level spanned.
    """
    crossed = plan.crossed
    if plan.devices <= 1 or not crossed:
        return 0.0, ""
    bw, name = 0.0, ""
    for level in crossed:
        shared = 2.0 * (level.spanned - 1) * g
        need = shared if level.shared else 2.0 * (level.units - 1) / level.units * g
        t = need / level.bandwidth
        if t > bw or not name:
            bw, name = t, level.name
    alpha_min = min(level.latency for level in crossed)
    lat = max(float(ceil_log2(plan.devices)) * alpha_min, plan.top.latency)
    return lat + bw, name


def _path(plan: Layout, upto: LevelUse) -> list[LevelUse]:
    """The crossed levels a transfer between units of level `upto` goes through (innermost first)."""
    out = []
    for level in plan.levels:
        if level.crossed or level is upto:
            out.append(level)
        if level is upto:
            break
    return out


def _result(
    algorithm: str,
    plan: Layout,
    g: float,
    time: float,
    per_device: float,
    total: float,
    totals: dict[str, float],
    steps: int,
    notes: str,
    busiest: tuple[str, str] | None = None,
) -> CollectiveResult:
    """Assemble a result; the busiest link is the level whose total load / bandwidth is largest, unless
    `busiest` gives (level name, label)."""
    lower, _ = _lower_bound(plan, g)
    _, name = _busy(totals, plan)
    label = name
    if busiest is not None:
        name, label = busiest
    return CollectiveResult(
        algorithm=algorithm,
        devices=plan.devices,
        message_bytes=g,
        time_s=time,
        lower_bound_s=lower,
        bytes_sent_per_device=per_device,
        total_traffic_bytes=total,
        busiest_link=label,
        busiest_link_bytes=totals.get(name, 0.0),
        steps=steps,
        notes=notes,
        link_bytes=tuple((level.name, totals[level.name]) for level in plan.levels if level.name in totals),
    )


def _ring(plan: Layout, g: float) -> CollectiveResult:
    """Flat ring over the devices in placement order: each unit's link carries one flow per direction."""
    n = plan.devices
    crossed = plan.crossed
    alpha = max(level.latency for level in crossed)
    # the slowest hop of a step: one G/N chunk per unit link (every unit of a shared medium at once)
    bandwidth = min(level.bandwidth / _share(level, 1) for level in crossed)
    time = float(ring_allreduce_time(g, n, bandwidth, alpha))
    per_link = 2.0 * (n - 1) / n * g
    totals = {level.name: per_link * _share(level, 1) for level in crossed}
    return _result(
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


def _tree(plan: Layout, g: float) -> CollectiveResult:
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
            above = sum(float(_tree_share(lv.spanned)) for lv in crossed[i:])
            totals[level.name] = min(2.0, above) * g
    busy, _ = _busy(totals, plan)
    alpha = max(level.latency for level in crossed)
    time = float(pipelined_time(depth, alpha, busy))
    per_device = min(2.0, sum(float(_tree_share(lv.spanned)) for lv in crossed)) * g
    return _result(
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
    (bytes, per direction) of the busiest unit link of each level.

    A transfer crosses the links of every level whose units differ between its ends; a unit link carries
    all the flows leaving (entering) the unit at once, a shared medium every flow leaving or entering its
    group. The step waits for its slowest link and pays the latency of the outermost level crossed.
    """
    time_bw, alpha, loads = 0.0, 0.0, {}
    for level in plan.crossed:
        unit = level.unit_devices
        crossing = src // unit != dst // unit
        if not crossing.any():
            continue
        alpha = max(alpha, level.latency)
        a, b = src[crossing] // unit, dst[crossing] // unit
        if level.shared:
            group = unit * level.spanned
            ga, gb = src[crossing] // group, dst[crossing] // group
            uses = np.concatenate([ga, gb[gb != ga]])
            flows = np.bincount(uses).max()
        else:
            flows = max(np.bincount(a).max(), np.bincount(b).max())
        loads[level.name] = float(flows) * size
        time_bw = max(time_bw, loads[level.name] / level.bandwidth)
    return alpha + time_bw, loads


def _halving_doubling(plan: Layout, g: float) -> CollectiveResult:
    """Rabenseifner's algorithm on the placed devices; the exchange distance doubles from 1, so the big
    halves cross the innermost (fastest) links. Each step's pairs are costed exactly (`_step`)."""
    n = plan.devices
    p = int(_power_of_two_below(n))
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
    return _result(
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


def _hierarchical(plan: Layout, g: float) -> CollectiveResult:
    """Reduce-scatter level by level outwards, all-reduce at the top, all-gather back in."""
    crossed = plan.crossed
    time = 0.0
    totals = dict.fromkeys((level.name for level in crossed), 0.0)
    steps = 0
    for level in crossed:
        m = level.spanned
        busy = 0.0
        for inner in _path(plan, level):
            # each device holds G / U of this level; a unit link of `inner` carries U_inner of them at once
            load = _share(inner, inner.unit_devices) * g / (level.unit_devices * m)
            totals[inner.name] += 2.0 * (m - 1) * load
            busy = max(busy, load / inner.bandwidth)
        time += 2.0 * (m - 1) * (level.latency + busy)
        steps += 2 * (m - 1)
    n = plan.devices
    per_device = sum(2.0 * (lv.spanned - 1) * g / (lv.unit_devices * lv.spanned) for lv in crossed)
    names = " -> ".join(level.name for level in crossed)
    return _result(
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


def _ps(
    plan: Layout, g: float, shards: int, dedicated: bool, backups: int, algorithm: str
) -> CollectiveResult:
    """Synchronous parameter server on the cluster: push, aggregate, replicate, pull."""
    n = plan.devices
    k = shards
    crossed = plan.crossed
    top = plan.levels[-1] if dedicated else plan.top
    top_units = max(top.spanned, 1)
    hosts_per_top = math.ceil(k / top_units)  # shard hosts spread over the outermost units spanned
    levels = [lv for lv in plan.levels if lv.crossed or (dedicated and lv is top)]
    shard = g / k

    # One port: the busiest server receives its pushes one at a time (latency and bytes add up).
    def bandwidth_to(level: LevelUse) -> float:
        return min(lv.bandwidth for lv in _path(plan, level))

    def latency_to(level: LevelUse) -> float:
        return max(lv.latency for lv in _path(plan, level))

    serial_alpha = serial_busy = 0.0
    if dedicated:
        serial_alpha = max(n, k) * latency_to(top)
        serial_busy = n * shard / bandwidth_to(top)
        messages = n
    else:
        inside = 1  # devices already counted: those in the server's unit of the level below
        for level in crossed:
            count = min(level.unit_devices * level.spanned, n) - inside
            serial_alpha += count * latency_to(level)
            serial_busy += count * shard / bandwidth_to(level)
            inside += count
        messages = n - 1

    # Link loads of one phase (push; the pull is its mirror image), per unit link and direction; over both
    # phases a link carries inbound + outbound of the push in each direction.
    loads: dict[str, float] = {}
    totals: dict[str, float] = {}
    for level in levels:
        present = level.present
        if level.shared:
            loads[level.name] = (n if dedicated else n - 1) * g  # the whole push crosses the medium
            totals[level.name] = 2.0 * loads[level.name]
            continue
        if dedicated:
            # workers push all of G out; the servers' own links (sized like the outermost level's) take N G/k
            load = max(n * shard if level is top else 0.0, present * g)
            loads[level.name], totals[level.name] = load, load
            continue
        # the unit holding the most servers receives most; the one holding the fewest sends most
        most = min(hosts_per_top, level.unit_devices)
        fewest = present if k >= n else (k // top_units if level is top else 0)
        traffic = [  # (inbound, outbound) of the push for each of the two units
            (hosts * (n - present) * shard, present * g * (k - hosts) / k) for hosts in (most, fewest)
        ]
        loads[level.name] = max(max(pair) for pair in traffic)
        totals[level.name] = max(sum(pair) for pair in traffic)
    link_busy, link_name = _busy(loads, plan)
    phase = serial_alpha + max(serial_busy, link_busy)
    time = 2.0 * phase
    if backups:
        # after aggregation each server copies its shard to `backups` replicas over the outermost link; the
        # co-located servers of one unit do so at once through its link
        together = 1 if dedicated else _share(top, hosts_per_top)
        replicate = backups * shard * together
        time += backups * latency_to(top) + max(
            backups * shard / bandwidth_to(top), replicate / top.bandwidth
        )
        totals[top.name] = totals.get(top.name, 0.0) + replicate
    if serial_busy >= link_busy:
        port = crossed[0] if crossed else top
        busiest = (port.name, "ps-server port (one message at a time)")
    else:
        side = "PS server" if dedicated else "workers/PS server"
        busiest = (link_name, f"{link_name} ({side} link)")
    total = float(ps_total_traffic(g, n, dedicated, backups))
    per_device = float(ps_bytes_per_device(g, n, k, dedicated, backups))
    if dedicated:
        where = f"{k} dedicated PS server{'s' if k > 1 else ''} outside the N workers: 2NG total"
    elif k == 1:
        where = "PS co-located on one of the N nodes: 2(N-1)G total"
    else:
        where = f"PS sharded over {k} of the N nodes (G/{k} each): 2(N-1)G total, spread over {k} links"
    extra = f"; {backups} backup replica{'s' if backups > 1 else ''}: +{backups}G" if backups else ""
    result = _result(
        algorithm,
        plan,
        g,
        time,
        per_device,
        total,
        totals,
        2 * messages + backups,
        f"{where}{extra}; push then pull, no pipelining; each server receives one message at a time",
        busiest=busiest,
    )
    return result


def allreduce_on_cluster(
    cluster: Cluster,
    message_bytes: float,
    algorithm: str,
    *,
    devices: int | None = None,
    ps_shards: int = 1,
    ps_dedicated: bool = False,
    ps_backups: int = 0,
) -> CollectiveResult:
    """All-reduce `message_bytes` (G, the gradient each device holds) on a cluster by `algorithm`.

    `devices` (default: all) fill units innermost first. "ps" is one parameter server; "ps-sharded" splits
    G over `ps_shards` servers (default, when ps_shards is 1: one shard per device). `ps_dedicated` puts
    the servers outside the N devices, reached through the outermost level's link; `ps_backups` adds
    replicas. Raises ValueError for an unknown algorithm or impossible counts.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm '{algorithm}'; expected one of {', '.join(ALGORITHMS)}")
    g = float(message_bytes)
    if not math.isfinite(g) or g < 0:
        raise ValueError(f"message size must be a finite number of bytes >= 0, got {message_bytes}")
    plan = layout(cluster, devices)
    n = plan.devices
    if ps_shards < 1:
        raise ValueError(f"ps_shards must be >= 1, got {ps_shards}")
    if ps_backups < 0:
        raise ValueError(f"ps_backups must be >= 0, got {ps_backups}")
    k = 1 if algorithm == "ps" else (ps_shards if ps_shards > 1 else n)
    if algorithm.startswith("ps") and not ps_dedicated:
        if k > n:
            raise ValueError(f"{k} co-located PS shards need as many devices, only {n} take part")
        if ps_backups > n - 1:
            raise ValueError(f"{ps_backups} backups need as many other devices, only {n - 1} there")
    if n == 1 or g == 0:
        return CollectiveResult(algorithm, n, g, 0.0, 0.0, 0.0, 0.0, "", 0.0, 0, "nothing to synchronise", ())
    if algorithm == "ring":
        return _ring(plan, g)
    if algorithm == "tree":
        return _tree(plan, g)
    if algorithm == "halving-doubling":
        return _halving_doubling(plan, g)
    if algorithm == "hierarchical":
        return _hierarchical(plan, g)
    return _ps(plan, g, k, ps_dedicated, ps_backups, algorithm)


def ring_link(cluster: Cluster, devices: int | None = None) -> tuple[float, float]:
    """(latency s, bandwidth bytes/s) a flat ring step sees on the cluster: the slowest hop of a step."""
    plan = layout(cluster, devices)
    crossed = plan.crossed
    if not crossed:
        top = plan.levels[-1]
        return top.latency, top.bandwidth
    return (
        max(level.latency for level in crossed),
        min(level.bandwidth / _share(level, 1) for level in crossed),
    )
