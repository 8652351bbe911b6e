"""Pipeline cost models: bubble measures, time per minibatch, transfers, memory per stage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cost.pipeline import (
    activation_transfer_time,
    async_steady_state_time,
    async_throughput,
    bubble_fraction,
    bubble_overhead,
    gpipe_time,
    in_flight_microbatches,
    naive_time,
    naive_utilisation,
    one_f_one_b_time_bounds,
    stage_memory,
    uniform_pipeline_time,
)

small = st.integers(min_value=1, max_value=64)


def test_hand_computed_bubbles() -> None:
    assert bubble_fraction(4, 8) == pytest.approx(3 / 11)
    assert bubble_overhead(4, 8) == pytest.approx(3 / 8)
    assert bubble_overhead(4, 8, 2) == pytest.approx(3 / 16)
    assert bubble_fraction(4, 8, 2) == pytest.approx(3 / 19)
    assert bubble_fraction(1, 5) == 0 and bubble_overhead(1, 5) == 0
    assert naive_utilisation(4) == 0.25


@given(k=small, m=small, v=st.integers(1, 8))
@settings(max_examples=200, deadline=None)
def test_bubble_properties(k: int, m: int, v: int) -> None:
    fraction, overhead = bubble_fraction(k, m, v), bubble_overhead(k, m, v)
    assert 0 <= fraction < 1
    # the two measures are the same idle time over different denominators
    assert fraction == pytest.approx(overhead / (1 + overhead))
    # more micro-batches never grow the bubble; strictly shrink it with more than one stage
    assert bubble_fraction(k, m + 1, v) <= fraction
    if k > 1:
        assert bubble_fraction(k, m + 1, v) < fraction
    # interleaving v chunks divides the overhead by v (Megatron SC'21 Sec. 2.2.2)
    assert bubble_overhead(k, m, v) == pytest.approx(bubble_overhead(k, m) / v)


def test_bubbles_are_vectorised() -> None:
    ms = np.arange(1, 33)
    fractions = bubble_fraction(8, ms)
    assert isinstance(fractions, np.ndarray) and fractions.shape == (32,)
    assert np.all(np.diff(fractions) < 0)
    grid = bubble_overhead(np.arange(1, 5)[:, None], ms[None, :])
    assert grid.shape == (4, 32)
    assert grid[3, 7] == pytest.approx(3 / 8)
    times = uniform_pipeline_time(np.array([2, 4]), 8, 1e-3, 2e-3)
    assert times == pytest.approx([9 * 3e-3, 11 * 3e-3])


@pytest.mark.parametrize(
    "args", [(0, 4), (4, 0), (2.5, 4), (4, -1), (4, 4, 0), (np.array([1, 0]), 4), (float("nan"), 4)]
)
def test_bad_shapes_raise(args: tuple) -> None:
    with pytest.raises(ValueError):
        bubble_fraction(*args)


def test_uniform_time_matches_the_bubble() -> None:
    # total = ideal + idle: M(f+b) · (1 + overhead)
    for k, m, v in [(4, 8, 1), (4, 8, 2), (8, 32, 4), (1, 3, 1)]:
        assert uniform_pipeline_time(k, m, 1.0, 2.0, v) == pytest.approx(
            m * 3.0 * (1 + bubble_overhead(k, m, v))
        )


def test_gpipe_time_counts_imbalance() -> None:
    f, b = [1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]
    assert gpipe_time(f, b, 8) == pytest.approx(uniform_pipeline_time(4, 8, 1.0, 2.0))
    # one slow stage: the (M-1) steady part runs at the slowest stage's pace
    slow = gpipe_time([1.0, 2.0, 1.0, 1.0], [2.0, 4.0, 2.0, 2.0], 8)
    assert slow == pytest.approx(5.0 + 10.0 + 7 * (2.0 + 4.0))
    # maxima per phase: a stage slow forward and another slow backward both count
    assert gpipe_time([1.0, 0.0], [0.0, 1.0], 5) == pytest.approx(2.0 + 4 * 2.0)
    # transfers are paid once forward and once backward per boundary
    assert gpipe_time(f, b, 8, 0.5) == pytest.approx(gpipe_time(f, b, 8) + 2 * 3 * 0.5)
    with pytest.raises(ValueError):
        gpipe_time(f, b, 8, [0.1, 0.1])  # needs K - 1 = 3 boundaries
    with pytest.raises(ValueError):
        gpipe_time([1.0], [1.0, 2.0], 4)


def test_one_f_one_b_bounds() -> None:
    lower, upper = one_f_one_b_time_bounds([1.0] * 4, [2.0] * 4, 8)
    assert lower == pytest.approx(upper) == pytest.approx(33.0)
    lower, upper = one_f_one_b_time_bounds([1.0, 3.0, 1.0], [2.0, 1.0, 2.0], 6)
    assert lower < upper
    assert lower >= 6 * 4.0  # the busiest device does 6 × (3 + 1)


def test_naive_and_async() -> None:
    assert naive_time([1.0, 2.0], [2.0, 4.0]) == 9.0
    assert async_steady_state_time([3.0, 5.0, 4.0]) == 5.0
    assert async_steady_state_time([3.0, 5.0], [6.0]) == 6.0  # a slow link is a stage of its own
    assert async_throughput([0.5, 0.25]) == 2.0
    with pytest.raises(ValueError):
        async_steady_state_time([])


def test_activation_transfer_time() -> None:
    t = activation_transfer_time(100e6, 10e9, efficiency=0.5, latency=5e-6)
    assert t == pytest.approx(0.02 + 5e-6)
    sweep = activation_transfer_time(np.array([0.0, 1e9]), 1e9)
    assert sweep == pytest.approx([0.0, 1.0])
    for bad in [dict(bandwidth=0.0), dict(bandwidth=1e9, efficiency=1.5), dict(bandwidth=1e9, latency=-1.0)]:
        with pytest.raises(ValueError):
            activation_transfer_time(1.0, **bad)


def test_in_flight_microbatches() -> None:
    assert [in_flight_microbatches("gpipe", s, 4, 8) for s in range(4)] == [8, 8, 8, 8]
    assert [in_flight_microbatches("1f1b", s, 4, 8) for s in range(4)] == [4, 3, 2, 1]
    assert [in_flight_microbatches("1f1b", s, 4, 2) for s in range(4)] == [2, 2, 2, 1]
    assert [in_flight_microbatches("pipedream", s, 4, 1) for s in range(4)] == [4, 3, 2, 1]
    # Megatron's interleaved warm-up: (K - k - 1)·2 + (v - 1)·K, plus one
    assert [in_flight_microbatches("interleaved", s, 4, 8, 2) for s in range(4)] == [11, 9, 7, 5]
    with pytest.raises(ValueError):
        in_flight_microbatches("1f1b", 4, 4, 8)
    with pytest.raises(ValueError):
        in_flight_microbatches("zero-bubble", 0, 4, 8)  # type: ignore[arg-type]


def test_stage_memory_terms() -> None:
    gpipe = stage_memory("gpipe", 0, 4, 8, weights_bytes=100.0, activation_bytes=10.0, optimizer_bytes=200.0)
    assert gpipe.activations_bytes == 80.0 and gpipe.weight_versions == 1
    assert gpipe.total_bytes == 100.0 + 200.0 + 80.0
    remat = stage_memory("gpipe", 0, 4, 8, 100.0, 10.0, boundary_bytes=1.0, rematerialise=True)
    assert remat.activations_bytes == 7 * 1.0 + 10.0  # 8 stage inputs, one micro-batch recomputed
    pipedream = stage_memory("pipedream", 0, 4, 1, 100.0, 10.0, gradients_bytes=100.0)
    assert pipedream.weight_versions == 4 and pipedream.stashed_weights_bytes == 300.0
    assert pipedream.activations_bytes == 40.0
    last = stage_memory("pipedream", 3, 4, 1, 100.0, 10.0)
    assert last.weight_versions == 1 and last.stashed_weights_bytes == 0.0
    assert stage_memory("2bw", 0, 4, 8, 100.0, 10.0).weight_versions == 2
    interleaved = stage_memory("interleaved", 0, 4, 8, 100.0, 10.0, chunks=2)
    assert interleaved.activations_bytes == 11 * 5.0
    with pytest.raises(ValueError):
        stage_memory("gpipe", 0, 4, 8, 100.0, 10.0, boundary_bytes=20.0)


@given(
    schedule=st.sampled_from(["gpipe", "1f1b", "pipedream", "2bw"]),
    k=st.integers(1, 16),
    m=st.integers(1, 64),
    data=st.data(),
    activation=st.floats(0, 1e9),
    share=st.floats(0, 1),
)
@settings(max_examples=200, deadline=None)
def test_rematerialisation_never_needs_more(
    schedule: str, k: int, m: int, data: st.DataObject, activation: float, share: float
) -> None:
    stage = data.draw(st.integers(0, k - 1))
    kwargs = dict(boundary_bytes=activation * share)
    plain = stage_memory(schedule, stage, k, m, 1e6, activation, **kwargs)  # type: ignore[arg-type]
    remat = stage_memory(schedule, stage, k, m, 1e6, activation, rematerialise=True, **kwargs)  # type: ignore[arg-type]
    assert remat.activations_bytes <= plain.activations_bytes * (1 + 1e-12)
    assert remat.total_bytes <= plain.total_bytes * (1 + 1e-12)
