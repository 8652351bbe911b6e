"""The halving-doubling coefficients, all exchange steps costed at once, against the collective itself."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.cost.cluster_allreduce import allreduce_on_cluster
from planner.cost.collective_layout import layout
from planner.cost.stage_costs import cluster_from_levels
from planner.cost.sync_coefficients import halving_doubling_coefficients


def _cluster(rng: np.random.Generator, counts: tuple[int, ...], shared: int | None):
    base = cluster_from_levels([(c, rng.uniform(1e9, 1e11)) for c in counts])
    levels = []
    for k, level in enumerate(base.levels):
        link = replace(level.link, latency=rng.uniform(0, 1e-4), shared=k == shared, name=f"l{k}")
        levels.append(replace(level, link=link))
    return replace(base, levels=tuple(levels))


@pytest.mark.parametrize("seed", range(12))
def test_halving_doubling_coefficients_equal_the_collective_at_any_size(seed: int) -> None:
    """alpha + beta * G is the halving-doubling all-reduce's time on the placed devices (every step's
    flows counted per unit link, shared media included), for power-of-two and other device counts."""
    rng = np.random.default_rng(seed)
    counts = tuple(int(c) for c in rng.integers(2, 7, size=int(rng.integers(2, 4))))
    shared = int(rng.integers(0, len(counts))) if seed % 3 == 0 else None
    cluster = _cluster(rng, counts, shared)
    total = int(np.prod(counts))
    for devices in sorted({2, 3, total // 2 + 1, total - 1, total} - {0, 1}):
        alpha, beta = halving_doubling_coefficients(layout(cluster, devices))
        for size in (1e3, 4.4e7, 3e9):
            exact = allreduce_on_cluster(cluster, size, "halving-doubling", devices=devices).time_s
            assert alpha + beta * size == pytest.approx(exact, rel=1e-9)
