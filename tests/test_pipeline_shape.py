"""The best split for a fixed configuration shape (planner.optimize.pipeline_shape): exact against every
split evaluated by the native planner, and equal to the native optimum at the optimum's own shape."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from planner.errors import InfeasibleError
from planner.optimize.native_types import NativeOptions
from planner.optimize.pipeline_native import NativePlanner
from planner.optimize.pipeline_shape import partition_shape
from tests.test_pipeline_native import random_chain, two_level


def every_split(planner: NativePlanner, shape: list[int]) -> float:
    """The best pipeline time over every split of the states into len(shape) stages."""
    n, best = planner.costs.num_states, math.inf
    for cuts in itertools.combinations(range(1, n), len(shape) - 1):
        bounds = (0, *cuts, n)
        stages = [(bounds[k], bounds[k + 1], r) for k, r in enumerate(shape)]
        best = min(best, planner.evaluate(stages).pipeline_time_s)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_shape_split_is_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    planner = NativePlanner(random_chain(rng, int(rng.integers(4, 9))), two_level(2, 3, rng=rng))
    for shape in ([6], [3, 3], [5, 1], [1, 1, 1, 1], [2, 1, 3], [1, 2]):
        if len(shape) > planner.costs.num_states:
            continue
        found = partition_shape(planner, shape)
        assert [stage.replicas for stage in found.stages] == shape
        assert found.pipeline_time_s == pytest.approx(every_split(planner, shape), rel=1e-12)


def test_the_optimum_shape_gives_the_optimum() -> None:
    rng = np.random.default_rng(7)
    planner = NativePlanner(random_chain(rng, 8), two_level(2, 2), NativeOptions())
    optimum = planner.optimum()
    shape = [stage.replicas for stage in optimum.stages]
    assert partition_shape(planner, shape).pipeline_time_s == pytest.approx(optimum.pipeline_time_s)


def test_bad_shapes_are_refused() -> None:
    planner = NativePlanner(random_chain(np.random.default_rng(1), 3), two_level(2, 2))
    for shape in ([], [0, 4], [3, 2]):  # empty, a count below 1, more devices than the cluster's 4
        with pytest.raises(ValueError, match="replica counts"):
            partition_shape(planner, shape)
    with pytest.raises(InfeasibleError, match="no split"):
        partition_shape(planner, [1, 1, 1, 1])  # 4 stages of 3 states
