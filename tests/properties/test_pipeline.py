"""Properties of the stage partitioners (native and PipeDream's) that the existing tests do not cover:
slower compute never gives a faster pipeline, more servers never a slower one (when idle devices are
allowed), and a change of time unit (times × k, bandwidths ÷ k, latencies × k) scales every time by k.

Already covered elsewhere (not repeated): exact vs brute force (test_pipeline_native, test_pipedream_
optimizer), more bandwidth never slower, never worse than data parallelism or a straight pipeline,
0 <= bubble < 1 for the closed forms (test_pipeline_cost); the simulated schedules get it here, with
the makespan bounded below by the busiest device and by one micro-batch's path, and monotone in each op."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from planner.cost.pipeline_schedule import simulate
from planner.optimize.chain_costs import plain_chain
from planner.optimize.chain_view import build_chain_view
from planner.optimize.pipedream import partition_pipedream
from planner.optimize.pipeline_native import partition_native

from .strategies import GB, PROPERTY, clusters, layer_figures, profiles, scaled_cluster

FAST = PROPERTY
REL = 1e-9

levels = st.lists(
    st.tuples(st.integers(1, 3), st.sampled_from([1 * GB, 5 * GB, 25 * GB])), min_size=1, max_size=2
)


@FAST
@given(figures=layer_figures(), cluster=clusters(), slower=st.floats(1.0, 4.0))
def test_native_slower_compute_is_never_faster(figures, cluster, slower: float) -> None:  # type: ignore[no-untyped-def]
    f, b, p, a = figures
    base = partition_native(plain_chain(f, b, p, a), cluster).pipeline_time_s
    slow = [x * slower for x in f], [x * slower for x in b]
    assert partition_native(plain_chain(*slow, p, a), cluster).pipeline_time_s >= base * (1 - REL)


@FAST
@given(figures=layer_figures(), cluster=clusters(max_servers=2))
def test_native_another_server_is_never_slower_when_devices_may_idle(figures, cluster) -> None:  # type: ignore[no-untyped-def]
    chain = plain_chain(*figures)
    servers = cluster.levels[-1].count
    now = partition_native(chain, cluster, use_fewer_machines=True).pipeline_time_s
    more = partition_native(chain, cluster.with_top_count(servers + 1), use_fewer_machines=True)
    assert more.pipeline_time_s <= now * (1 + REL)


@FAST
@given(figures=layer_figures(), cluster=clusters(), k=st.sampled_from([1e-3, 0.25, 3.0, 1e3]))
def test_native_time_unit_scales_every_time(figures, cluster, k: float) -> None:  # type: ignore[no-untyped-def]
    f, b, p, a = figures
    base = partition_native(plain_chain(f, b, p, a), cluster)
    scaled = partition_native(
        plain_chain([x * k for x in f], [x * k for x in b], p, a), scaled_cluster(cluster, k)
    )
    assert scaled.pipeline_time_s == pytest.approx(base.pipeline_time_s * k, rel=REL)
    assert scaled.data_parallel_time_s == pytest.approx(base.data_parallel_time_s * k, rel=REL)
    assert scaled.single_device_time_s == pytest.approx(base.single_device_time_s * k, rel=REL)


def _times(profile):  # type: ignore[no-untyped-def]
    return [(layer.forward_time or 0.0) + (layer.backward_time or 0.0) for layer in profile.layers]


@FAST
@given(profile=profiles(), levels=levels, slower=st.floats(1.0, 4.0))
def test_pipedream_slower_compute_is_never_faster(profile, levels, slower: float) -> None:  # type: ignore[no-untyped-def]
    times = _times(profile)
    base = partition_pipedream(build_chain_view(profile, times), levels).pipeline_time_s
    slow = build_chain_view(profile, [t * slower for t in times])
    assert partition_pipedream(slow, levels).pipeline_time_s >= base * (1 - REL)


@FAST
@given(profile=profiles(), levels=levels)
def test_pipedream_another_machine_is_never_slower_with_fewer_machines(profile, levels) -> None:  # type: ignore[no-untyped-def]
    # PipeDream's recurrence offers fewer machines only to a range of two or more states (A[r][j][m-1]
    # for j > r, planner.optimize.pipedream): a one-state model must replicate over every machine
    view = build_chain_view(profile)
    assume(view.num_states >= 2)
    now = partition_pipedream(view, levels, use_fewer_machines=True).pipeline_time_s
    more = [*levels[:-1], (levels[-1][0] + 1, levels[-1][1])]
    assert partition_pipedream(view, more, use_fewer_machines=True).pipeline_time_s <= now * (1 + REL)


@FAST
@given(
    profile=profiles(),
    levels=levels,
    k=st.sampled_from([1e-3, 0.25, 3.0, 1e3]),
    ratio=st.sampled_from([None, 2.0]),
)
def test_pipedream_time_unit_scales_every_time(profile, levels, k: float, ratio: float | None) -> None:  # type: ignore[no-untyped-def]
    times = _times(profile)
    base = partition_pipedream(build_chain_view(profile, times), levels, activation_compression_ratio=ratio)
    scaled = partition_pipedream(
        build_chain_view(profile, [t * k for t in times]),
        [(count, bandwidth / k) for count, bandwidth in levels],
        activation_compression_ratio=ratio,
    )
    assert scaled.pipeline_time_s == pytest.approx(base.pipeline_time_s * k, rel=REL)
    assert scaled.data_parallel_time_s == pytest.approx(base.data_parallel_time_s * k, rel=REL)


@st.composite
def schedules(draw: st.DrawFn) -> tuple[str, int, int, int, list[float], list[float], list[float]]:
    """(schedule, K, M, v, forward per virtual stage, backward per virtual stage, transfers)."""
    schedule = draw(st.sampled_from(["gpipe", "1f1b", "interleaved"]))
    k = draw(st.integers(1, 4))
    v = draw(st.integers(1, 3)) if schedule == "interleaved" else 1
    m = k * draw(st.integers(1, 3)) if schedule == "interleaved" else draw(st.integers(1, 8))
    n = k * v
    forward = draw(st.lists(st.floats(1e-3, 1.0), min_size=n, max_size=n))
    backward = [
        f * r
        for f, r in zip(forward, draw(st.lists(st.floats(0.5, 3.0), min_size=n, max_size=n)), strict=True)
    ]
    transfer = draw(st.lists(st.floats(0.0, 0.2), min_size=max(n - 1, 1), max_size=max(n - 1, 1)))
    return schedule, k, m, v, forward, backward, transfer


@FAST
@given(case=schedules(), slower=st.floats(1.0, 3.0), which=st.integers(0, 11))
def test_a_simulated_schedule_is_bounded_and_never_ends_sooner_with_a_slower_stage(
    case, slower: float, which: int
) -> None:  # type: ignore[no-untyped-def]
    schedule, k, m, v, forward, backward, transfer = case
    timeline = simulate(schedule, k, m, forward, backward, v, transfer)
    busy = [timeline.busy(d) for d in range(k)]
    # the busiest device, and one micro-batch's path through every stage and back, bound the makespan
    path = sum(forward) + sum(backward) + 2 * sum(transfer[: k * v - 1])
    assert timeline.makespan >= max(max(busy), path) * (1 - REL)
    assert 0 <= timeline.bubble_fraction < 1
    # a fixed-order schedule is a longest path: a longer op never shortens it
    stage = which % (k * v)
    longer = [t * slower if i == stage else t for i, t in enumerate(forward)]
    assert simulate(schedule, k, m, longer, backward, v, transfer).makespan >= timeline.makespan * (1 - REL)
