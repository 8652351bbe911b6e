"""Properties of the all-reduce models on clusters that tests/test_collectives.py does not state:
a bigger message or a slower start-up (latency) never makes any algorithm faster; more devices never make
the ring, the parameter servers or the lower bound cheaper. (Already covered there: bandwidth, the lower
bound on every algorithm, one device costs nothing.)

Halving-doubling is left out of the device-count property on purpose: it is not monotone in N (7 devices
hand two vectors to a neighbour and back, which costs more than the 8-device exchange)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from planner.cost.cluster_allreduce import allreduce_on_cluster
from planner.cost.collective_registry import algorithm_names

from .strategies import PROPERTY, clusters

REL = 1e-12
sizes = st.floats(1.0, 1e10)
shared_clusters = st.tuples(clusters(max_per_server=4), st.booleans()).map(
    lambda pair: replace(
        pair[0],
        levels=(
            pair[0].levels[0],
            replace(pair[0].levels[1], link=replace(pair[0].levels[1].link, shared=pair[1])),
        ),
    )
)


@PROPERTY
@given(cluster=shared_clusters, g=sizes, more=st.floats(1.0, 10.0))
def test_a_bigger_message_is_never_faster(cluster, g: float, more: float) -> None:  # type: ignore[no-untyped-def]
    for algorithm in algorithm_names():
        small = allreduce_on_cluster(cluster, g, algorithm).time_s
        assert allreduce_on_cluster(cluster, g * more, algorithm).time_s >= small * (1 - REL), algorithm


@PROPERTY
@given(cluster=shared_clusters, g=sizes, level=st.integers(0, 1), extra=st.floats(1e-6, 1e-3))
def test_more_latency_is_never_faster(cluster, g: float, level: int, extra: float) -> None:  # type: ignore[no-untyped-def]
    levels = list(cluster.levels)
    link = levels[level].link
    levels[level] = replace(levels[level], link=replace(link, latency=link.latency + extra))
    slower = replace(cluster, levels=tuple(levels))
    for algorithm in algorithm_names():
        base = allreduce_on_cluster(cluster, g, algorithm).time_s
        assert allreduce_on_cluster(slower, g, algorithm).time_s >= base * (1 - REL), algorithm


@PROPERTY
@given(cluster=shared_clusters, g=sizes, data=st.data())
def test_more_devices_never_make_the_ring_the_servers_or_the_bound_cheaper(cluster, g: float, data) -> None:  # type: ignore[no-untyped-def]
    total = cluster.total_devices
    n = data.draw(st.integers(1, max(1, total - 1)))
    m = data.draw(st.integers(n, total))
    for algorithm in ("ring", "ps"):
        few = allreduce_on_cluster(cluster, g, algorithm, devices=n)
        many = allreduce_on_cluster(cluster, g, algorithm, devices=m)
        assert many.time_s >= few.time_s * (1 - REL), algorithm
        assert many.lower_bound_s >= few.lower_bound_s * (1 - REL)
        assert many.total_traffic_bytes >= few.total_traffic_bytes * (1 - REL)
