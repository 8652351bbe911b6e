"""Communication of 3D-parallel LLM training on a cluster: tensor-parallel all-reduces, data-parallel
gradient all-reduces, pipeline point-to-point transfers and mixture-of-experts all-to-alls.

Rank order (Megatron-LM's default): tensor-parallel ranks innermost (consecutive devices), then data parallel,
then pipeline stages outermost. So a tensor-parallel group of t devices sits inside one server when t <=
devices per server and spans t / dps whole servers otherwise; the d members of a data-parallel group are t
devices apart (so are those of an expert-parallel group, e consecutive members of a data-parallel group:
Megatron-core's layout, planner.optimize.llm_setup); adjacent pipeline stages are t·d devices apart. Devices
fill servers in order (planner.cost.collective_layout.layout).

All-reduces use planner.cost.cluster_allreduce.allreduce_on_cluster (alpha-beta model over the cluster's
levels) and take the fastest of the algorithms NCCL implements (`llm_algorithms`: ring, tree and
hierarchical; NCCL picks between ring and tree per size, hierarchical is the topology-aware variant).
The server's outer link (its NICs) is shared by every group crossing it at once: a data-parallel group
with k members per server shares it with dps/k - 1 others (Megatron runs all data-parallel groups'
all-reduces at the same time).

For clusters of more than two levels, the innermost link stands for "inside a server" and the outermost
for "between servers"; middle levels are not modelled. Units: bytes, seconds.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner.cost.cluster_allreduce import allreduce_on_cluster
from planner.cost.collective_registry import algorithm_names
from planner.cost.collectives import pairwise_alltoall_time, ring_allgather_time
from planner.spec.hardware import Cluster, Level, Link

FloatArray = NDArray[np.float64]


def llm_algorithms() -> tuple[str, ...]:
    """The registered all-reduce algorithms NCCL implements (planner.cost.collective_registry), which
    Megatron-LM's all-reduces choose among."""
    return algorithm_names(lambda a: a.nccl)


def _links(cluster: Cluster) -> tuple[Link, Link]:
    """(inside a server, between servers): the innermost and the outermost level's links."""
    return cluster.levels[0].link, cluster.levels[-1].link


def _best(
    cluster: Cluster, message_bytes: float, devices: int, algorithms: tuple[str, ...] | None = None
) -> float:
    """Fastest all-reduce of `message_bytes` among the first `devices` devices of `cluster` by `algorithms`
    (default: NCCL's, llm_algorithms) (s)."""
    if devices <= 1 or message_bytes <= 0:
        return 0.0
    return min(
        allreduce_on_cluster(cluster, message_bytes, algorithm, devices=devices).time_s
        for algorithm in algorithms or llm_algorithms()
    )


def tp_allreduce_time(cluster: Cluster, tensor: int, message_bytes: float) -> float:
    """One tensor-parallel all-reduce of `message_bytes` (b·s·h activations) among t consecutive devices:
    inside a server on its GPU link when t <= devices per server, across servers otherwise (s)."""
    if tensor > cluster.total_devices:
        raise ValueError(
            f"tensor-parallel degree {tensor} exceeds the cluster's {cluster.total_devices} devices"
        )
    return _best(cluster, message_bytes, tensor)


def data_parallel_group(cluster: Cluster, tensor: int, data: int) -> Cluster:
    """A cluster whose devices, filled in order, stand for one data-parallel group (members t apart).

    k = min(d, max(1, dps / t)) members share a server; when the group fits in one server it is one level
    of d devices on the inner link, else k devices per server over ceil(d / k) servers, each server's
    outer link scaled by k / dps because the dps / k groups of that server all-reduce at the same time.
    """
    inner, outer = _links(cluster)
    dps = cluster.devices_per_server
    k = min(data, max(1, dps // tensor))
    first, last = cluster.levels[0], cluster.levels[-1]
    levels: tuple[Level, ...]
    if tensor * data <= dps:
        levels = (
            Level(name=first.name, count=data, link=inner),
            Level(name=last.name, count=1, link=outer),
        )
    else:
        share = dataclasses.replace(outer, bandwidth=outer.bandwidth * k / dps)
        levels = (
            Level(name=first.name, count=k, link=inner),
            Level(name=last.name, count=math.ceil(data / k), link=share),
        )
    if len(cluster.levels) == 1:  # one device per "server": the only link is per device, never shared
        levels = (Level(name=first.name, count=data, link=inner),)
    return dataclasses.replace(cluster, name=f"{cluster.name}-dp-group", levels=levels)


def dp_allreduce_time(
    cluster: Cluster, tensor: int, data: int, message_bytes: float, algorithms: tuple[str, ...] | None = None
) -> float:
    """One data-parallel all-reduce of `message_bytes` (the gradient a model-parallel rank holds) among d
    replicas t devices apart, all groups at once, by the fastest of `algorithms` (default NCCL's) (s).
    ZeRO's reduce-scatter + all-gather move the same bytes (Rajbhandari et al. 2020, Sec. 7.2.1); NCCL
    runs those two only as rings (its tree algorithm serves all-reduce alone; NVIDIA/nccl issue #790):
    `algorithms=("ring",)`."""
    if data <= 1:
        return 0.0
    group = data_parallel_group(cluster, tensor, data)
    return _best(group, message_bytes, data, algorithms)


def ep_alltoall_time(cluster: Cluster, tensor: int, expert: int, message_bytes: float) -> float:
    """One expert-parallel all-to-all (a dispatch or a combine) among e ranks t devices apart, each sending
    `message_bytes` in all (its tokens' rows, S/e to each rank), every group of the cluster at once: the
    group's layout as a data-parallel group's (data_parallel_group: k members per server, the server's
    outer link shared by its dps / k groups), by pairwise exchange
    (planner.cost.collectives.pairwise_alltoall_time): the k - 1 steps to peers inside the server on the
    inner link, the e - k to peers outside on the group's share of the outer link, which the k members
    cross in the same steps (k times the bytes) (s)."""
    if expert <= 1 or message_bytes <= 0:
        return 0.0
    group = data_parallel_group(cluster, tensor, expert)
    first, last = group.levels[0], group.levels[-1]
    k = first.count
    inner, outer = first.link, last.link
    inside = pairwise_alltoall_time(message_bytes, expert, inner.effective_bandwidth, inner.latency, k - 1)
    across = pairwise_alltoall_time(
        k * message_bytes, expert, outer.effective_bandwidth, outer.latency, max(0, expert - k)
    )
    return float(inside + across)


def p2p_time(
    cluster: Cluster,
    tensor: ArrayLike,
    data: ArrayLike,
    pipeline: ArrayLike,
    message_bytes: ArrayLike,
) -> FloatArray:
    """One pipeline point-to-point transfer of a stage boundary's activation (`message_bytes` = b·s·h in
    the training dtype) on the slowest boundary (s).

    Scatter/gather (SC'21 Sec. 4.1): each of the t devices of a stage sends 1/t of the tensor, and the
    receiving stage all-gathers it over its inner link. Stages are t·d devices apart; when the t·d·p
    devices of a pipeline span servers, some boundary crosses the outer link, which carries the flows of
    min(dps, t·d) devices at once: alpha + min(dps, t·d)·(bytes/t) / B_out, then a ring all-gather of the
    pieces inside (planner.cost.collectives.ring_allgather_time). Otherwise alpha + (bytes/t) / B_in.
    Bandwidths are sustained (bandwidth × efficiency), per direction.
    """
    inner, outer = _links(cluster)
    t = np.asarray(tensor, dtype=np.float64)
    d = np.asarray(data, dtype=np.float64)
    p = np.asarray(pipeline, dtype=np.float64)
    piece = np.asarray(message_bytes, dtype=np.float64) / t
    dps = float(cluster.devices_per_server)
    inside = inner.latency + piece / inner.effective_bandwidth
    flows = np.minimum(dps, t * d)
    gather = ring_allgather_time(piece, t, inner.effective_bandwidth, inner.latency)
    across = outer.latency + flows * piece / outer.effective_bandwidth + gather
    return np.where(t * d * p > dps, across, inside)
