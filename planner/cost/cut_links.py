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
from typing import Any

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
        return self.terms(activation_bytes, (first,), offset, end)[..., 0]

    def terms(self, activation_bytes: object, firsts: tuple[int, ...], offset: int, end: int) -> Array:
        """The terms of the cuts at `offset` from stages starting at each of `firsts` onto [offset, end):
        an array of the activation sizes' shape plus one axis over `firsts`. The DP costs the cuts of
        every stage before [offset, end) at once (one line set per (offset, end), not per first)."""
        size = np.asarray(activation_bytes, dtype=float)
        slopes, intercepts, _ = self.lines(firsts, offset, end)
        # a level no minibatch crosses has the line 0 · a + 0, which never exceeds a loaded level's term
        return np.max(np.multiply.outer(size, slopes) + intercepts, axis=-1)

    def busiest(self, activation_bytes: float, first: int, offset: int, end: int) -> str | None:
        """The name of the link the cut's term comes from (None when the cut loads no link)."""
        slopes, intercepts, loaded = self.lines((first,), offset, end)
        if not loaded[0].any():
            return None
        values = np.where(loaded[0], slopes[0] * activation_bytes + intercepts[0], -math.inf)
        return self.links[int(np.argmax(values))].name or None

    def _lines(
        self, firsts: tuple[int, ...], offset: int, end: int
    ) -> tuple[Array, Array, NDArray[np.bool_]]:
        """Slopes and intercepts (firsts x levels) and which levels each cut loads."""
        shares, loaded = self._shares(np.array(firsts, dtype=np.int64), offset, end)
        bandwidth = np.array([link.bandwidth * link.efficiency for link in self.links])
        latency = np.array([link.latency for link in self.links])
        return 2.0 * shares / bandwidth, 2.0 * shares * latency, loaded

    def _shares(self, first: NDArray[np.int64], offset: int, end: int) -> tuple[Array, NDArray[np.bool_]]:
        """Per first (rows) and level (columns): the share f of the level's busiest link (or the level's
        total on a shared medium), and whether any of the level's links is loaded."""
        if not len(first) or not (first.max() < offset < end):
            raise ValueError(
                f"a cut needs devices on both sides, got [{first.tolist()}, {offset}) | [{offset}, {end})"
            )
        shares = np.zeros((len(first), len(self.links)))
        if self.boundary:
            level = next(
                k
                for k, size in enumerate(self.unit)
                if (offset - 1) // (size * self.counts[k]) == offset // (size * self.counts[k])
            )
            shares[:, level] = 1.0
            return shares, shares > 0
        starts = first[:, None]
        for k, link in enumerate(self.links):
            size = self.unit[k]
            parent = size * self.counts[k]
            lo = np.arange(int(first.min()) // size, (end - 1) // size + 1, dtype=np.int64) * size
            p_lo = (lo // parent) * parent
            a_in, b_in = _overlap(starts, offset, lo, lo + size), _overlap(offset, end, lo, lo + size)
            a_par = _overlap(starts, offset, p_lo, p_lo + parent)
            b_par = _overlap(offset, end, p_lo, p_lo + parent)
            # integer numerators, one true division: the same float as the scalar formula
            share = (a_in * (b_par - b_in) + b_in * (a_par - a_in)) / ((offset - starts) * (end - offset))
            if link.shared:  # each message counted at both ends; summed in unit order
                shares[:, k] = np.cumsum(share, axis=1)[:, -1] / 2.0
            else:
                shares[:, k] = share.max(axis=1)
        return shares, shares > 0


def _overlap(lo: Any, hi: Any, start: Any, stop: Any) -> Any:
    """Devices in both [lo, hi) and [start, stop) (integers or integer arrays, broadcast)."""
    return np.maximum(0, np.minimum(hi, stop) - np.maximum(lo, start))
