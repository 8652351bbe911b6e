"""The affine all-reduce coefficients (alpha s, beta s/byte) of a replicated stage's block, read from the
algorithms' structure instead of from two probe messages.

Each peer-to-peer algorithm a stage may synchronise by (planner.cost.stage_costs.sync_algorithms) costs
alpha + beta · G on a fixed placement (planner.cost.collective_algorithms): every step pays a latency and
moves a fixed fraction of G over its busiest link. So its alpha is the sum of the step latencies and its
beta the sum of the steps' busiest (fraction of G / sustained bandwidth), computed here once per block
shape, with the same layout (planner.cost.collective_layout.layout) and the same step structure:

* ring: 2(N-1) steps of G/N over the slowest hop (Patarasuk & Yuan 2009);
* halving-doubling: Rabenseifner's steps, each step's flows counted per unit link by
  collective_algorithms.steps_flows (Thakur, Rabenseifner & Gropp 2005);
* hierarchical: ring reduce-scatter level by level, 2(m-1) steps per crossed level (Goyal et al. 2017).

The stage partitioners cost up to about two block shapes per replica count (1,912 on 128 × 8 GPUs); the
probe route ran six full all-reduce evaluations per shape (3-4 s there), this runs one pass per algorithm.
Equal to the probe route to round-off (tests/test_sync_coefficients.py). Units: seconds, bytes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planner.cost.collective_algorithms import rabenseifner_steps, steps_flows
from planner.cost.collective_layout import Layout, link_share, path_to

Array = NDArray[np.float64]


def ring_coefficients(plan: Layout) -> tuple[float, float]:
    """2(N-1) · (alpha + G / (N B)) on the slowest hop: (alpha, beta)."""
    n, crossed = plan.devices, plan.crossed
    latency = max(level.latency for level in crossed)
    bandwidth = min(level.bandwidth / link_share(level, 1) for level in crossed)
    return 2.0 * (n - 1.0) * latency, 2.0 * (n - 1.0) / (n * bandwidth)


def hierarchical_coefficients(plan: Layout) -> tuple[float, float]:
    """Per crossed level, 2(m-1) steps of its latency and its busiest path link's share of G."""
    alpha = beta = 0.0
    for level in plan.crossed:
        m = level.spanned
        busy = max(
            link_share(inner, inner.unit_devices) / (level.unit_devices * m) / inner.bandwidth
            for inner in path_to(plan, level)
        )
        alpha += 2.0 * (m - 1) * level.latency
        beta += 2.0 * (m - 1) * busy
    return alpha, beta


def halving_doubling_coefficients(plan: Layout) -> tuple[float, float]:
    """Rabenseifner's steps (collective_algorithms.rabenseifner_steps: MPICH's numbering of a
    non-power-of-two N), each costed per unit link, all at once (the 1,000-layer partition costs ~2,000
    block shapes of ~10 steps)."""
    src, dst, parts, times = rabenseifner_steps(plan.devices)
    latency, busy = _steps(plan, src, dst)
    count = np.asarray(times, dtype=float)
    return float(np.sum(count * latency)), float(np.sum(count * busy / np.asarray(parts, dtype=float)))


def _steps(plan: Layout, src: NDArray[np.int64], dst: NDArray[np.int64]) -> tuple[Array, Array]:
    """Per row (a step), its latency and its busiest unit link's flows / bandwidth (steps_flows)."""
    latency, flows = steps_flows(plan, src, dst)
    busy = np.zeros(src.shape[0])
    for level in plan.crossed:
        if level.name in flows:
            busy = np.maximum(busy, flows[level.name] / level.bandwidth)
    return latency, busy


COEFFICIENTS = {
    "ring": ring_coefficients,
    "halving-doubling": halving_doubling_coefficients,
    "hierarchical": hierarchical_coefficients,
}
