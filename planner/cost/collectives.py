"""Cost of gradient synchronisation (all-reduce) by the classic algorithms, alpha-beta model: closed forms.

Units: message sizes in bytes, bandwidths in bytes/s (per direction), latencies and times in seconds.

The model (Hockney's alpha-beta, as used by Thakur, Rabenseifner & Gropp 2005, Sec. 3): sending a message
of m bytes over a link costs alpha + m / B. Links are full duplex (a device sends and receives at the same
time) and each device has one port: it sends one message and receives one message at a time, so a server
that receives N - 1 messages pays N - 1 latencies. Reduction arithmetic is not charged (gamma = 0).

Vectorised primitives over message size G and device count N (numpy arrays that broadcast), for N devices
joined by independent links of bandwidth B and latency alpha: ring, tree, halving-doubling, parameter
server, two-level hierarchical, and the all-reduce lower bound. Sweeps call these; the same algorithms on
the levels of a `Cluster` are in planner.cost.cluster_allreduce.

N = 1 costs nothing: a single device has nothing to synchronise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


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


def tree_share(units: ArrayLike) -> Array:
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
    return tree_share(n) * g


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


def power_of_two_below(n: ArrayLike) -> Array:
    return np.exp2(np.floor(np.log2(np.maximum(n, 1.0)) + 1e-12))


def halving_doubling_bytes_per_device(message_bytes: ArrayLike, devices: ArrayLike) -> Array:
    """Most bytes a device sends in Rabenseifner's halving-doubling all-reduce.

    Power-of-two N: 2(N-1)/N * G. Otherwise (p' the largest power of two <= N): 2(p'-1)/p' * G plus G for
    the devices that also return the result to a device that left (Thakur et al. 2005, Sec. 4.4).
    """
    g, n = _arrays(message_bytes, devices)
    p = power_of_two_below(n)
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
    p = power_of_two_below(n)
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


def pairwise_alltoall_time(
    bytes_per_device: ArrayLike,
    devices: ArrayLike,
    bandwidth: ArrayLike,
    latency: ArrayLike = 0.0,
    peers: ArrayLike | None = None,
) -> Array:
    """All-to-all time (s) among N devices, each holding S bytes of which S/N go to every device (itself
    included), by pairwise exchange: N - 1 steps, in each a device sends S/N to one peer and receives S/N
    from another, (N-1)·(alpha + S/(N·B)) (Thakur, Rabenseifner & Gropp 2005, MPI_Alltoall for long
    messages). `peers`: only that many of the N - 1 steps, those on this link (default all)."""
    s, n, b, a = _arrays(bytes_per_device, devices, bandwidth, latency)
    steps = n - 1.0 if peers is None else np.asarray(peers, dtype=np.float64)
    return np.where(n > 1, steps * (a + s / (np.maximum(n, 1.0) * b)), 0.0)
