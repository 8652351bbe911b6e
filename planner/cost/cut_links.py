"""The activation transfer at a pipeline cut, charged on the links the two stages' replicas actually use.

Stage A runs on devices [first, offset), stage B on [offset, end) (devices fill the cluster innermost
first, planner.cost.stage_costs.Topology). PipeDream's replicas take minibatches round-robin (Narayanan
et al., "PipeDream", SOSP 2019, Sec. 3.2), so minibatch k goes from A's replica k mod r_A to B's replica
k mod r_B: over many minibatches each replica of A sends 1 / r_A of them and each replica of B receives
1 / r_B. Approximation: the sender and the receiver of a minibatch are taken as independent uniform picks
(exact when r_A and r_B are coprime; otherwise round-robin pairs only some replicas, spread just as
evenly).

A minibatch's activations (a bytes) go from x in A to y in B and their gradients (a bytes) come back, over
the link of the lowest level containing both devices (the level-k link of x's and y's level-k units: a
GPU's intra-server link, a server's NIC). Each unit's link carries its own traffic (per direction, the
bandwidth is per unit: planner.spec.hardware.Link); the units work concurrently, so the cut's pipeline
term is its busiest link's occupancy per minibatch:

    max over levels k and level-k units u of 2 · f(k, u) · (a / (bandwidth_k · efficiency_k) + latency_k)

f(k, u) = P(x in u, y in x's level-k+1 unit but not in u) + P(y in u, x in y's level-k+1 unit but not
in u): the share of minibatches whose transfer crosses u's level-k link. The factor 2 (the activations
forward and their gradients backward) is the straight pipeline's term (planner.cost.pipeline
.activation_transfer_time, twice), which this reproduces for r_A = r_B = 1. On a shared medium
(`Link.shared`) the transfers of all units of the level serialise: f is the level's total share.
`boundary=True` keeps the older approximation: the whole transfer on the link joining devices offset-1
and offset (f = 1 on that link alone), whatever the replicas. Units: seconds, bytes.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.typing import NDArray

from planner.spec.hardware import Cluster

Array = NDArray[np.float64]


class CutLinks:
    """The cut terms of a cluster, as lines: each link a cut loads costs slope · a + intercept seconds
    for a bytes of activations (after compression), and the term is the largest of them."""

    def __init__(self, cluster: Cluster, boundary: bool = False):
        self.boundary = boundary
        self.links = tuple(level.link for level in cluster.levels)
        self.counts = tuple(level.count for level in cluster.levels)  # level-k units per level-k+1 unit
        self.unit = tuple(math.prod(self.counts[:k]) for k in range(len(self.counts)))  # devices per unit
        self.lines = cache(self._lines)

    def term(self, activation_bytes: object, first: int, offset: int, end: int) -> Array:
        """The cut's pipeline term, seconds, for each activation size (array, bytes)."""
        size = np.asarray(activation_bytes, dtype=float)
        slopes, intercepts = self.lines(first, offset, end)
        if not len(slopes):
            return np.zeros_like(size)
        return np.max(np.multiply.outer(size, slopes) + intercepts, axis=-1)

    def busiest(self, activation_bytes: float, first: int, offset: int, end: int) -> str | None:
        """The name of the link the cut's term comes from (None when the cut loads no link)."""
        slopes, intercepts = self.lines(first, offset, end)
        if not len(slopes):
            return None
        level = self._levels(first, offset, end)[int(np.argmax(slopes * activation_bytes + intercepts))]
        return self.links[level].name or None

    def _levels(self, first: int, offset: int, end: int) -> list[int]:
        return [k for k, _, _ in self._shares(first, offset, end)]

    def _lines(self, first: int, offset: int, end: int) -> tuple[Array, Array]:
        slopes, intercepts = [], []
        for k, share, _ in self._shares(first, offset, end):
            link = self.links[k]
            slopes.append(2.0 * share / (link.bandwidth * link.efficiency))
            intercepts.append(2.0 * share * link.latency)
        return np.array(slopes), np.array(intercepts)

    def _shares(self, first: int, offset: int, end: int) -> list[tuple[int, float, int]]:
        """(level, share f, unit) of every loaded link, the largest share per level (or the level's sum on a
        shared medium)."""
        if not first < offset < end:
            raise ValueError(
                f"a cut needs devices on both sides, got [{first}, {offset}) | [{offset}, {end})"
            )
        if self.boundary:
            level = next(
                k
                for k, size in enumerate(self.unit)
                if (offset - 1) // (size * self.counts[k]) == offset // (size * self.counts[k])
            )
            return [(level, 1.0, -1)]
        r_a, r_b = offset - first, end - offset
        found = []
        for k, link in enumerate(self.links):
            size = self.unit[k]
            parent = size * self.counts[k]
            shares: dict[int, float] = {}
            for u in range(first // size, (end - 1) // size + 1):
                lo, hi = u * size, (u + 1) * size
                p_lo = (lo // parent) * parent
                a_in, b_in = _overlap(first, offset, lo, hi), _overlap(offset, end, lo, hi)
                a_par = _overlap(first, offset, p_lo, p_lo + parent)
                b_par = _overlap(offset, end, p_lo, p_lo + parent)
                share = (a_in * (b_par - b_in) + b_in * (a_par - a_in)) / (r_a * r_b)
                if share > 0:
                    shares[u] = share
            if not shares:
                continue
            if link.shared:
                found.append((k, sum(shares.values()) / 2.0, -1))  # each message counted at both ends
            else:
                unit = max(shares, key=shares.__getitem__)
                found.append((k, shares[unit], unit))
        return found


def _overlap(lo: int, hi: int, start: int, stop: int) -> int:
    """Devices in both [lo, hi) and [start, stop)."""
    return max(0, min(hi, stop) - max(lo, start))
