"""A collective library's network transport (planner.cost.collective_transports) and the PipeDream Table 1
speedup cases' data-parallel baseline over it (planner.validate.evaluators.pipeline_native)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from planner.cost.cluster_allreduce import allreduce_on_cluster
from planner.cost.collective_transports import TRANSPORTS, over_transport, transport
from planner.spec.catalog import find
from planner.spec.hardware import Cluster
from planner.validate.evaluators import Context
from planner.validate.evaluators.pipeline_native import pipeline_native_config_speedup

SOCKET = "nccl-2.4-socket"


def _cluster(name: str, servers: int) -> Cluster:
    return find("hardware", name, ("cluster",)).with_top_count(servers)


def test_the_links_between_servers_run_at_the_measured_fraction_and_those_inside_keep_theirs() -> None:
    cluster = _cluster("pipedream-cluster-b", 2)
    seen = over_transport(cluster, SOCKET)
    assert seen.levels[0] == cluster.levels[0]  # NVLink: NCCL's peer-to-peer transport, not sockets
    assert seen.levels[1].link.efficiency == pytest.approx(1.95 / 4.0)  # nccl#209: 1.95 of 4.0 GB/s
    assert seen.levels[1].link.bandwidth == cluster.levels[1].link.bandwidth
    assert seen.levels[1].link.latency == cluster.levels[1].link.latency


def test_a_one_level_cluster_is_unchanged() -> None:
    cluster = _cluster("pipedream-cluster-b", 2)
    single = replace(cluster, levels=cluster.levels[:1])
    assert over_transport(single, SOCKET) == single


def test_an_all_reduce_between_servers_over_the_transport_takes_longer_by_the_rates_ratio() -> None:
    cluster = _cluster("pipedream-cluster-a", 4)
    g = 1e9  # bytes; large enough that bandwidth, not latency, sets the time
    direct = allreduce_on_cluster(cluster, g, "ring")
    socket = allreduce_on_cluster(over_transport(cluster, SOCKET), g, "ring")
    ratio = cluster.levels[1].link.efficiency / transport(SOCKET).wire_fraction
    assert socket.time_s == pytest.approx(direct.time_s * ratio, rel=0.02)


def test_an_unknown_transport_names_the_choices() -> None:
    with pytest.raises(ValueError, match=f"unknown transport 'gloo-2019'; expected one of {SOCKET}"):
        transport("gloo-2019")
    assert all(0 < t.wire_fraction <= 1 and t.source for t in TRANSPORTS.values())


def _speedup(shared_dir: Path, servers: int, **extra: object) -> float:
    setup = {
        "model": "data:profiles/pipedream/alexnet.graph.txt",
        "cluster": "pipedream-cluster-a",
        "servers": servers,
        "paper_config": "straight",
        **extra,
    }
    return pipeline_native_config_speedup(setup, Context(shared_dir))


def test_the_transport_slows_only_the_data_parallel_baseline_across_servers(shared_dir: Path) -> None:
    # across servers the DP baseline's all-reduce crosses the NICs: slower DP, higher speedup
    assert _speedup(shared_dir, 2, dp_transport=SOCKET) > 1.2 * _speedup(shared_dir, 2)
    # inside one server nothing crosses a NIC: the same speedup
    assert _speedup(shared_dir, 1, dp_transport=SOCKET) == pytest.approx(_speedup(shared_dir, 1))
    with pytest.raises(ValueError, match="unknown transport"):
        _speedup(shared_dir, 2, dp_transport="tcp")
