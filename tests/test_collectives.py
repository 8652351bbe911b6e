"""Collective cost models: exact counts, properties (bandwidth, lower bound, N = 1), cluster mapping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cost import collectives as c
from planner.cost.cluster_allreduce import allreduce_on_cluster
from planner.cost.collective_registry import algorithm_names
from planner.spec.catalog import find
from planner.spec.hardware import Cluster, Device, Level, Link

DEVICE = Device(
    spec="device",
    name="test-gpu",
    kind="gpu",
    peak_compute={"fp32": 1e13},
    memory=1.6e10,
    memory_bandwidth=9e11,
)


def cluster(*levels: tuple[int, float, float, bool]) -> Cluster:
    """A cluster from (count, bandwidth B/s, latency s, shared) per level, innermost first."""
    names = ("gpu", "server", "rack")
    return Cluster(
        spec="cluster",
        name="test",
        device=DEVICE,
        levels=tuple(
            Level(names[i], count, Link(bandwidth=bw, latency=lat, shared=shared))
            for i, (count, bw, lat, shared) in enumerate(levels)
        ),
    )


level_st = st.tuples(
    st.integers(1, 6),
    st.floats(1e6, 1e12),
    st.floats(0.0, 1e-3),
    st.booleans(),
)
clusters_st = st.lists(level_st, min_size=1, max_size=3).map(lambda levels: cluster(*levels))
sizes_st = st.floats(1.0, 1e10)


# ----------------------------------------------------------------------------------- exact formulas


def test_ps_total_traffic_is_the_seeds_count() -> None:
    g = 1e8
    assert c.ps_total_traffic(g, 8) == pytest.approx(2 * 7 * g)  # co-located: 2(N-1)G
    assert c.ps_total_traffic(g, 8, dedicated=True) == pytest.approx(2 * 8 * g)  # dedicated: 2NG
    assert c.ps_total_traffic(g, 8, backups=2) == pytest.approx(2 * 7 * g + 2 * g)


def test_ring_sends_two_n_minus_one_over_n_per_device() -> None:
    assert c.ring_allreduce_bytes_per_device(1e8, 4) == pytest.approx(1.5e8)
    assert c.ring_allreduce_time(1e8, 4, 1.25e9, 50e-6) == pytest.approx(6 * (50e-6 + 1e8 / 5e9))


def test_sharded_ps_with_one_shard_per_device_matches_the_ring_bandwidth_term() -> None:
    n = np.arange(2, 40)
    assert np.allclose(
        c.ps_allreduce_time(1e8, n, 1e9, 0.0, shards=n), c.ring_allreduce_time(1e8, n, 1e9, 0.0)
    )


def test_halving_doubling_power_of_two_and_not() -> None:
    assert c.halving_doubling_allreduce_time(1e8, 8, 1.25e9, 5e-5) == pytest.approx(
        6 * 5e-5 + 2 * 7 / 8 * 0.08
    )
    six = 4 * 5e-5 + 2 * 3 / 4 * 0.08 + 2 * (5e-5 + 0.08)
    assert c.halving_doubling_allreduce_time(1e8, 6, 1.25e9, 5e-5) == pytest.approx(six)


def test_pipelined_time_limits() -> None:
    # no latency: the bottleneck traffic alone; one step deep: no pipelining gain
    assert c.pipelined_time(10, 0.0, 2.0) == pytest.approx(2.0)
    assert c.pipelined_time(1, 1e-3, 2.0) == pytest.approx(1e-3 + 2.0)
    assert c.pipelined_time(0, 1e-3, 2.0) == 0


# ----------------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(g=sizes_st, n=st.integers(1, 64), b=st.floats(1e6, 1e12), a=st.floats(0, 1e-3), k=st.integers(1, 8))
def test_primitives_never_beat_the_lower_bound(g: float, n: int, b: float, a: float, k: int) -> None:
    bound = float(c.allreduce_lower_bound(g, n, b, a))
    times = [
        c.ring_allreduce_time(g, n, b, a),
        c.tree_allreduce_time(g, n, b, a),
        c.halving_doubling_allreduce_time(g, n, b, a),
        c.ps_allreduce_time(g, n, b, a),
        c.ps_allreduce_time(g, n, b, a, shards=min(k, n)),
        c.ps_allreduce_time(g, n, b, a, shards=k, dedicated=True),
    ]
    for t in times:
        assert float(t) >= bound * (1 - 1e-9)


@settings(max_examples=150, deadline=None)
@given(g=sizes_st, n=st.integers(2, 64), b=st.floats(1e6, 1e11), a=st.floats(0, 1e-3))
def test_time_falls_as_bandwidth_rises(g: float, n: int, b: float, a: float) -> None:
    for f in (
        c.ring_allreduce_time,
        c.tree_allreduce_time,
        c.halving_doubling_allreduce_time,
        c.ps_allreduce_time,
    ):
        slow, fast = float(f(g, n, b, a)), float(f(g, n, 2 * b, a))
        assert fast < slow


@given(g=sizes_st, n=st.integers(1, 200), k=st.integers(1, 200))
def test_ring_bytes_never_exceed_the_parameter_servers(g: float, n: int, k: int) -> None:
    ring = float(c.ring_allreduce_bytes_per_device(g, n))
    assert ring <= float(c.ps_bytes_per_device(g, n)) * (1 + 1e-12)
    assert ring <= float(c.ps_bytes_per_device(g, n, shards=min(k, n))) * (1 + 1e-12)


def test_one_device_costs_nothing() -> None:
    for f in (
        c.ring_allreduce_time,
        c.tree_allreduce_time,
        c.halving_doubling_allreduce_time,
        c.ps_allreduce_time,
        c.allreduce_lower_bound,
    ):
        assert f(1e9, 1, 1e9, 1e-3) == 0
    assert c.ps_allreduce_time(1e9, 1, 1e9, 1e-3, dedicated=True) == 0
    one = cluster((1, 1e9, 1e-5, False), (1, 1e8, 1e-4, False))
    for algorithm in algorithm_names():
        r = allreduce_on_cluster(one, 1e8, algorithm)
        assert (r.time_s, r.bytes_sent_per_device, r.total_traffic_bytes) == (0, 0, 0)


def test_vectorised_results_equal_scalar_ones() -> None:
    g = np.array([1e3, 1e6, 1e9])[:, None]
    n = np.arange(1, 40)[None, :]
    for f in (
        c.ring_allreduce_time,
        c.tree_allreduce_time,
        c.halving_doubling_allreduce_time,
        c.ps_allreduce_time,
        c.allreduce_lower_bound,
    ):
        grid = f(g, n, 1e9, 1e-5)
        assert grid.shape == (3, 39)
        for i in range(3):
            for j in range(39):
                assert grid[i, j] == float(f(float(g[i, 0]), int(n[0, j]), 1e9, 1e-5))


# ----------------------------------------------------------------------------------- on a cluster


@settings(max_examples=120, deadline=None)
@given(cl=clusters_st, g=sizes_st, data=st.data())
def test_no_algorithm_beats_the_lower_bound_on_a_cluster(cl: Cluster, g: float, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, cl.total_devices))
    shards = data.draw(st.integers(1, n))
    for algorithm in algorithm_names():
        for dedicated in (False, True):
            r = allreduce_on_cluster(cl, g, algorithm, devices=n, ps_shards=shards, ps_dedicated=dedicated)
            assert r.time_s >= r.lower_bound_s * (1 - 1e-9), (algorithm, dedicated, r)
            assert math.isfinite(r.time_s)


@settings(max_examples=60, deadline=None)
@given(cl=clusters_st, g=sizes_st)
def test_faster_links_never_slow_a_cluster_collective(cl: Cluster, g: float) -> None:
    faster = Cluster(
        spec="cluster",
        name="faster",
        device=DEVICE,
        levels=tuple(
            Level(
                lv.name,
                lv.count,
                Link(bandwidth=2 * lv.link.bandwidth, latency=lv.link.latency, shared=lv.link.shared),
            )
            for lv in cl.levels
        ),
    )
    for algorithm in algorithm_names():
        slow, fast = allreduce_on_cluster(cl, g, algorithm), allreduce_on_cluster(faster, g, algorithm)
        assert fast.time_s <= slow.time_s * (1 + 1e-12)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 12])
def test_single_level_cluster_equals_the_primitives(n: int) -> None:
    cl = cluster((n, 2e9, 2e-5, False))
    g, b, a = 3e7, 2e9, 2e-5
    expected = {
        "ring": c.ring_allreduce_time(g, n, b, a),
        "tree": c.tree_allreduce_time(g, n, b, a),
        "halving-doubling": c.halving_doubling_allreduce_time(g, n, b, a),
        "ps": c.ps_allreduce_time(g, n, b, a),
        "ps-sharded": c.ps_allreduce_time(g, n, b, a, shards=n),
        "hierarchical": c.ring_allreduce_time(g, n, b, a),
    }
    for algorithm, t in expected.items():
        assert allreduce_on_cluster(cl, g, algorithm).time_s == pytest.approx(float(t), rel=1e-12)
    assert allreduce_on_cluster(cl, g, "ring").lower_bound_s == pytest.approx(
        float(c.allreduce_lower_bound(g, n, b, a))
    )


def test_two_level_hierarchical_equals_its_primitive() -> None:
    cl = cluster((4, 1.26e10, 1e-5, False), (4, 1.175e9, 5e-5, False))
    t = c.hierarchical_allreduce_time(1e8, 4, 4, 1.26e10, 1e-5, 1.175e9, 5e-5)
    assert allreduce_on_cluster(cl, 1e8, "hierarchical").time_s == pytest.approx(float(t))
    assert float(t) == pytest.approx(
        0.13992433, rel=1e-7
    )  # by hand in planner/validate/cases/communication.yaml


def test_pipedream_cluster_a_comparison_is_sensible() -> None:
    cl = find("hardware", "pipedream-cluster-a").with_top_count(4)
    results = {a: allreduce_on_cluster(cl, 1e8, a) for a in algorithm_names()}
    # the 10 GbE NIC is the bottleneck of every all-reduce algorithm; the single PS is worst by far
    for name in ("ring", "tree", "halving-doubling", "hierarchical"):
        assert results[name].busiest_link == "server"
    assert results["hierarchical"].time_s < results["ring"].time_s < results["ps-sharded"].time_s
    assert results["ps"].time_s == max(r.time_s for r in results.values())
    assert results["ps"].total_traffic_bytes == pytest.approx(2 * 15 * 1e8)
    # hierarchical sends 2(s-1)/s G through each NIC, the flat ring 2(N-1)/N G
    assert results["hierarchical"].busiest_link_bytes == pytest.approx(2 * 3 / 4 * 1e8)
    assert results["ring"].busiest_link_bytes == pytest.approx(2 * 15 / 16 * 1e8)
    assert "2(N-1)G" in results["ps"].notes


def test_shared_medium_serialises_the_ring() -> None:
    n, g, b, a = 9, 1e6, 6.25e6, 2e-3
    wifi = cluster((n, b, a, True))
    ring = allreduce_on_cluster(wifi, g, "ring")
    assert ring.time_s == pytest.approx(2 * (n - 1) * (a + g / b))  # every step's N chunks take turns
    assert ring.lower_bound_s == pytest.approx(2 * (n - 1) * g / b + 4 * a)


def test_devices_fill_servers_innermost_first() -> None:
    cl = cluster((4, 1e10, 1e-5, False), (4, 1e9, 5e-5, False))
    inside = allreduce_on_cluster(cl, 1e8, "ring", devices=4)
    across = allreduce_on_cluster(cl, 1e8, "ring", devices=5)
    assert inside.busiest_link == "gpu"
    assert across.busiest_link == "server"
    assert [name for name, _ in inside.link_bytes] == ["gpu"]


def test_dedicated_ps_says_so_and_counts_2ng() -> None:
    cl = cluster((8, 1e9, 1e-5, False))
    r = allreduce_on_cluster(cl, 1e6, "ps", ps_dedicated=True, ps_backups=1)
    assert r.total_traffic_bytes == pytest.approx(2 * 8 * 1e6 + 1e6)
    assert "dedicated" in r.notes and "backup" in r.notes


def test_result_dict_has_units_in_keys() -> None:
    r = allreduce_on_cluster(cluster((4, 1e9, 1e-5, False)), 1e6, "ring").to_dict()
    assert {
        "time_s",
        "lower_bound_s",
        "bytes_sent_per_device",
        "total_traffic_bytes",
        "busiest_link_bytes",
    } <= set(r)
    assert r["times_lower_bound"] >= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "butterfly"}, "unknown algorithm"),
        ({"algorithm": "ring", "devices": 0}, "devices must be >= 1"),
        ({"algorithm": "ring", "devices": 99}, "has 16 devices"),
        ({"algorithm": "ps-sharded", "ps_shards": 17}, "co-located PS shards"),
        ({"algorithm": "ring", "message_bytes": -1.0}, "message size"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict, message: str) -> None:
    cl = cluster((4, 1e10, 1e-5, False), (4, 1e9, 5e-5, False))
    args = {"message_bytes": 1e6, **kwargs}
    size = args.pop("message_bytes")
    algorithm = args.pop("algorithm")
    with pytest.raises(ValueError, match=message):
        allreduce_on_cluster(cl, size, algorithm, **args)
