"""Properties of the stage partitioners (native and PipeDream's) that the existing tests do not cover:
slower compute never gives a faster pipeline, more servers never a slower one (when idle devices are
allowed), and a change of time unit (times × k, bandwidths ÷ k, latencies × k) scales every time by k.

Already covered elsewhere (not repeated): exact vs brute force (test_pipeline_native, test_pipedream_
optimizer), more bandwidth never slower, never worse than data parallelism or a straight pipeline,
0 <= bubble < 1 (test_pipeline_cost)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

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
