"""Cost terms of a pipeline stage placed on a block of devices: gradient sync, transfers, memory.

Used by the native stage partitioner (planner.optimize.pipeline_native, whose module doc states the
model and its assumptions). Units: seconds, bytes, bytes/s.

* Placement: devices fill the cluster innermost first; a block is devices [o, o + r). Its gradient
  all-reduce is costed on the packed sub-cluster of its shape (per level, the units it spans and
  ceil(devices below / units) per unit) by planner.cost.cluster_allreduce.allreduce_on_cluster, the fastest of
  the affine peer-to-peer algorithms (`sync_algorithms`: ring, halving-doubling, hierarchical). Each costs
  alpha + beta · P on a fixed placement (the alpha-beta model is affine in the message size; tests check
  it), so (alpha, beta) are read once per block shape at two sizes and any P is costed vectorised.
* A stage's term per minibatch is (F + phase(B, sync, tail) + U) / r: r replicas take minibatches
  round-robin (PipeDream, SOSP 2019, §3.2); the all-reduce overlaps the backward pass as in DDP (Li et
  al., "PyTorch Distributed", VLDB 2020, §3.2.3), slowing it while they overlap and leaving the last
  bucket's all-reduce (`tail`, the all-reduce of min(P, bucket) bytes) exposed (planner.cost.overlap;
  max(B, sync) is its best-case bound); U is the replica's optimizer step on the stage's parameters.
* The cut between devices o-1 and o carries 2 · a / R bytes per minibatch (activations forward,
  gradients backward) over the link of the lowest level containing both devices.
* Memory per device: model states plus PipeDream's stashed weight versions and in-flight activations
  (SOSP 2019 §3.3), v = ceil(D / r) minibatches in flight for D devices from the stage to the last.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.cost.overlap import Overlap, backward_phase
from planner.spec.hardware import Cluster, Level, Link

_PROBE_BYTES = (2.0**20, 2.0**21)  # message sizes at which the affine all-reduce coefficients are read

Array = NDArray[np.float64]


def sync_algorithms() -> tuple[str, ...]:
    """The registered algorithms a stage's replicas may synchronise by: peer-to-peer (no parameter servers)
    and affine in the message size (planner.cost.collective_registry)."""
    from planner.cost.collective_registry import algorithm_names

    return algorithm_names(lambda a: a.affine and a.servers is None)


class Topology:
    """Where a block of devices sits on a cluster, and what its gradient sync and boundary transfers cost.

    Devices fill the cluster innermost first; `groups[l]` devices make one unit of level l+1 (one server
    for l = 0), `groups[-1]` is the whole cluster.
    """

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.counts = tuple(level.count for level in cluster.levels)
        self.groups = tuple(math.prod(self.counts[: k + 1]) for k in range(len(self.counts)))
        self.total = self.groups[-1]
        self._coefficients: dict[tuple[int, ...], tuple[Array, Array]] = {}

    def block_counts(self, replicas: int, offset: int) -> tuple[int, ...]:
        """Level counts of the packed sub-cluster shaped like devices [offset, offset + replicas): per
        level, the units it spans and ceil(devices below / units) per unit."""
        last = offset + replicas - 1
        counts = []
        below = replicas
        for group in self.groups:
            spanned = last // group - offset // group + 1
            counts.append(math.ceil(below / spanned))
            below = spanned
        return tuple(counts)

    @property
    def patterns(self) -> int:
        """Block shapes whose all-reduce coefficients have been computed so far."""
        return len(self._coefficients)

    def sync_coefficients(self, replicas: int, offset: int) -> tuple[Array, Array]:
        """(alpha s, beta s/byte) of each of `sync_algorithms()` for the block: time alpha + beta·P."""
        counts = self.block_counts(replicas, offset)
        key = (replicas, *counts)
        cached = self._coefficients.get(key)
        if cached is None:
            cached = self._coefficients[key] = _affine_coefficients(self.cluster, counts, replicas)
        return cached

    def sync_time(self, parameter_bytes: Any, replicas: int, offset: int) -> Array:
        """Fastest all-reduce of `parameter_bytes` (array) over the block, seconds (0 for P = 0 or r = 1)."""
        size = np.asarray(parameter_bytes, dtype=float)
        if replicas == 1:
            return np.zeros_like(size)
        alpha, beta = self.sync_coefficients(replicas, offset)
        return sync_time(size, alpha, beta)

    def sync_tail_time(self, parameter_bytes: Any, replicas: int, offset: int, bucket_bytes: float) -> Array:
        """The last bucket's all-reduce over the block, seconds (0 for P = 0 or r = 1)."""
        return self.sync_time(
            np.minimum(np.asarray(parameter_bytes, dtype=float), bucket_bytes), replicas, offset
        )

    def sync_algorithm(self, parameter_bytes: float, replicas: int, offset: int) -> str | None:
        """The fastest algorithm for one message (None when nothing is synchronised)."""
        if replicas == 1 or parameter_bytes <= 0:
            return None
        alpha, beta = self.sync_coefficients(replicas, offset)
        return sync_algorithms()[int(np.argmin(alpha + beta * parameter_bytes))]

    def cut_link(self, offset: int) -> Link:
        """The link joining devices offset-1 and offset: that of the lowest level containing both."""
        for level, group in zip(self.cluster.levels, self.groups, strict=True):
            if (offset - 1) // group == offset // group:
                return level.link
        raise AssertionError("the outermost level contains every device")

    def transfer_time(self, activation_bytes: Any, offset: int, compression: float = 1.0) -> Array:
        """Activations forward and gradients backward across the cut before device `offset`, seconds:
        2 · (a / R) / (bandwidth · efficiency) + 2 · latency (alpha-beta, planner.cost.pipeline)."""
        from planner.cost.pipeline import activation_transfer_time

        link = self.cut_link(offset)
        size = np.asarray(activation_bytes, dtype=float) / compression
        return 2.0 * np.asarray(
            activation_transfer_time(size, link.bandwidth, link.efficiency, link.latency), dtype=float
        )


def sync_time(parameter_bytes: Any, alpha: Any, beta: Any) -> Array:
    """min over the algorithms k of alpha[k] + beta[k]·P, 0 where P = 0 (seconds). alpha[k] and beta[k]
    are scalars or arrays broadcasting against P (one block pattern per entry)."""
    size = np.asarray(parameter_bytes, dtype=float)
    positive = (size > 0).astype(float)
    best = alpha[0] * positive + beta[0] * size
    for a, b in zip(alpha[1:], beta[1:], strict=True):
        best = np.minimum(best, a * positive + b * size)
    return best


def sync_tail(parameter_bytes: Any, alpha: Any, beta: Any, bucket_bytes: float) -> Array:
    """The all-reduce of the last gradient bucket, min(P, bucket) bytes, seconds (0 where P = 0)."""
    return sync_time(np.minimum(np.asarray(parameter_bytes, dtype=float), bucket_bytes), alpha, beta)


def stage_time(
    forward: Any,
    backward: Any,
    sync: Any,
    replicas: Any,
    *,
    overlap: Overlap,
    tail: Any = 0.0,
    update: Any = 0.0,
) -> Array:
    """A stage's pipeline term per minibatch, seconds: (F + phase(B, sync, tail) + U) / r, the backward
    phase as planner.cost.overlap.backward_phase has it."""
    phase = backward_phase(backward, sync, tail, overlap)
    return (np.asarray(forward, dtype=float) + phase + np.asarray(update, dtype=float)) / replicas


def _affine_coefficients(cluster: Cluster, counts: tuple[int, ...], replicas: int) -> tuple[Array, Array]:
    """Each algorithm's (alpha, beta) on the packed sub-cluster: from its step structure where
    planner.cost.sync_coefficients has it, else read from two probe messages."""
    from planner.cost.collective_layout import layout
    from planner.cost.sync_coefficients import COEFFICIENTS

    levels = tuple(replace(level, count=count) for level, count in zip(cluster.levels, counts, strict=True))
    sub = replace(cluster, levels=levels)
    plan = layout(sub, replicas)
    alpha, beta = [], []
    for algorithm in sync_algorithms():
        direct = COEFFICIENTS.get(algorithm)
        a, b = direct(plan) if direct is not None else _probe(sub, replicas, algorithm)
        alpha.append(a)
        beta.append(b)
    return np.array(alpha), np.array(beta)


def _probe(sub: Cluster, replicas: int, algorithm: str) -> tuple[float, float]:
    from planner.cost.cluster_allreduce import allreduce_on_cluster

    small, large = _PROBE_BYTES
    t_small = allreduce_on_cluster(sub, small, algorithm, devices=replicas).time_s
    t_large = allreduce_on_cluster(sub, large, algorithm, devices=replicas).time_s
    slope = (t_large - t_small) / (large - small)
    return max(t_small - slope * small, 0.0), max(slope, 0.0)  # clamp round-off: costs never fall with P


def cluster_from_levels(levels: Sequence[tuple[int, float]], name: str = "levels") -> Cluster:
    """A cluster from (count, bandwidth bytes/s) per level, innermost first (PipeDream's -n/-b), with the
    catalog-free defaults: latency 0, efficiency 1, no device (measured times need none). Levels are
    named gpu, server, then level2, level3..."""
    names = ["gpu", "server"]
    built = tuple(
        Level(
            name=names[k] if k < len(names) else f"level{k}",
            count=int(count),
            link=Link(bandwidth=float(bandwidth), latency=0.0, efficiency=1.0, name="from levels"),
        )
        for k, (count, bandwidth) in enumerate(levels)
    )
    return Cluster(spec="cluster", name=name, device="(none: measured times)", levels=built)


def in_flight(devices_from_stage: int, replicas: int) -> int:
    """Minibatches a replica holds in flight: ceil(D / r), D the devices from this stage to the last
    (PipeDream SOSP'19 §3.3; K - k for stage k of a straight pipeline of K)."""
    return -(-devices_from_stage // replicas)


def stage_memory_bytes(
    parameter_bytes: Any, activation_bytes: Any, versions: int, state_factor: float
) -> Array:
    """Bytes per device: model states (state_factor × P: weights, gradients, optimizer state), the
    v - 1 stashed weight versions and v minibatches of the stage's activations."""
    p = np.asarray(parameter_bytes, dtype=float)
    return state_factor * p + (versions - 1) * p + versions * np.asarray(activation_bytes, dtype=float)
