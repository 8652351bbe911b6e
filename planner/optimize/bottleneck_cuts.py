"""The cut terms of the bottleneck search (planner.optimize.pipeline_bottleneck) under the replica-aware
cut model (planner.cost.cut_links): a lower bound on each term that fits the search's (cut, residue)
state, and the inputs of the exact search over (cut, residue, replicas before the cut).

The outer-link bound depends on the cut, the residue and the replicas after the cut alone, so the plain
search keeps its state and its optimum is a proven lower bound (planner.optimize.pipeline_scale); the
exact search (planner.optimize.replica_cut_kernel) computes the terms themselves from the levels'
units, parents and links gathered here. Units: seconds, bytes, bytes/s.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from planner.optimize.pipeline_native import NativePlanner


def outer_link_bound(
    planner: NativePlanner, entry_c: NDArray[np.int64], entry_r: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(share per entry, cost per cut): share[e] · cost[i] <= the replica-aware cut term
    (planner.cost.cut_links) before state i onto a stage of r replicas at an offset of residue c, whatever
    the stage before it. Only the outermost level's links are counted (a lower bound: the term is their
    maximum), and only the units the stage after the cut touches. With M devices per outermost unit and
    the parent the whole cluster, unit u carries (a_u (r_B - b_u) + b_u (r_A - a_u)) / (r_A r_B): a unit
    of B's past the first (a_u = 0) carries b_u / r_B for every r_A; B's first unit (b = min(r_B, M - c),
    a = min(r_A, c)) carries (r_B - b) / r_B when r_A <= c, and past c a value monotone in r_A, so at
    least min(its value at c + 1, b / r_B). Zeros for one level, one unit or a shared medium."""
    topology, costs = planner.topology, planner.costs
    m, n = topology.groups[-2] if len(topology.groups) > 1 else 0, costs.num_states
    share, cost = np.zeros(len(entry_c)), np.zeros(n + 1)
    link = topology.cluster.levels[-1].link
    if not m or topology.total <= m or link.shared:
        return share, cost
    r, c = entry_r.astype(float), entry_c.astype(float)
    first = np.minimum(r, m - c)  # B's devices in its first outer unit
    later = np.minimum(float(m), r - first) / r  # its next unit's share (0 when B fits in the first)
    inside = (r - first) / r  # A within B's first unit (r_A <= c)
    beyond = (c * (r - first) + first) / ((c + 1) * r)  # r_A = c + 1
    head = np.where(c == 0, first / r, np.minimum(np.minimum(inside, beyond), first / r))
    share = np.maximum(head, later) * (1 - 1e-9)  # below the cut term's own rounding
    moved = costs.output_activation_bytes[: n - 1] / planner.options.activation_compression_ratio
    cost[1:n] = 2.0 * (moved / (link.bandwidth * link.efficiency) + link.latency)
    return share, cost


class ExactCuts:
    """The replica-aware cut terms' inputs and scratch for planner.optimize.replica_cut_kernel (links
    that are not a shared medium: ValueError otherwise)."""

    def __init__(self, planner: NativePlanner, entries: int):
        levels, n = planner.topology.cluster.levels, planner.costs.num_states
        if planner.options.cut_links != "replicas" or any(level.link.shared for level in levels):
            raise ValueError("the exact cut search needs replica-aware cuts on links that are not shared")
        counts = [level.count for level in levels]
        units = np.array([math.prod(counts[:k]) for k in range(len(counts))], dtype=np.int64)
        parents = np.array([*(math.prod(counts[: k + 1]) for k in range(len(counts) - 1)), 0])
        residues = np.arange(planner.topology.groups[-2] if len(levels) > 1 else planner.topology.total)
        places = np.stack(
            [
                [residues % parent if parent else residues * 0 for parent in parents],
                [residues % unit for unit in units],
            ]
        )
        bandwidth = np.array([level.link.bandwidth * level.link.efficiency for level in levels])
        latency = np.array([level.link.latency for level in levels])
        self.links = (units, parents, places, bandwidth, latency)  # as replica_cut_kernel reads them
        self.sizes = np.zeros(n + 1)
        moved = planner.costs.output_activation_bytes[: n - 1]
        self.sizes[1:n] = moved / planner.options.activation_compression_ratio
        self.value = np.empty((n, entries), dtype=np.int16)
        self.chosen = np.zeros((n, entries), dtype=np.int16)
        self.queue = np.empty((entries, n), dtype=np.int16)
