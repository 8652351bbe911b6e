"""Inter-stage transfers staged through host memory as PipeDream's Gloo runtime makes them
(planner.cost.stage_transfers) and the Table 1 speedup cases costed with them
(planner.validate.evaluators.staged_shape, `pipeline_transport`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from planner.cost.overlap import device_overlap
from planner.cost.stage_transfers import (
    STAGE_TRANSPORTS,
    cross_server_share,
    serial_copy_s,
    stage_transport,
    staged_cluster,
)
from planner.optimize.native_types import NativeOptions
from planner.optimize.pipeline_native import NativePlanner, cluster_device
from planner.optimize.pipeline_shape import partition_shape
from planner.spec.catalog import find
from planner.spec.hardware import Cluster
from planner.validate.evaluators import Context
from planner.validate.evaluators.pipeline_native import _costs, pipeline_native_config_speedup
from planner.validate.evaluators.staged_shape import StagedPlanner, staged_partition

GLOO = "gloo-host-staged"
HOST = 15.75e9  # PCIe 3.0 x16 per direction


def _cluster(name: str, servers: int) -> Cluster:
    return find("hardware", name, ("cluster",)).with_top_count(servers)


def test_a_staged_link_costs_both_copies_in_series_with_the_wire() -> None:
    cluster = _cluster("pipedream-cluster-b", 2)
    staged = staged_cluster(cluster, GLOO)
    nvlink, nic = cluster.levels[0].link, cluster.levels[1].link
    inner, outer = staged.levels[0].link, staged.levels[1].link
    # inside a server: device to host and back, NVLink unused, the loopback hop uncharged
    assert inner.effective_bandwidth == pytest.approx(HOST / 2)
    assert inner.effective_bandwidth < nvlink.effective_bandwidth
    # between servers: copy, the NIC at its sustained rate, copy
    assert 1 / outer.effective_bandwidth == pytest.approx(1 / nic.effective_bandwidth + 2 / HOST)
    # two messages per transfer (the shape, then the tensor)
    assert (inner.latency, outer.latency) == (2 * nvlink.latency, 2 * nic.latency)
    assert [level.count for level in staged.levels] == [level.count for level in cluster.levels]


def test_an_unknown_stage_transport_names_the_choices() -> None:
    with pytest.raises(ValueError, match=f"unknown stage transport 'nccl'; expected one of {GLOO}"):
        stage_transport("nccl")
    assert all(t.host_bandwidth > 0 and t.messages >= 1 and t.source for t in STAGE_TRANSPORTS.values())


def test_the_share_crossing_servers_is_that_of_each_side_s_worst_replica() -> None:
    # 15-1 on 4 servers of 4: a replica on server 0 always crosses; the last GPU receives from 15
    # replicas, 12 on other servers
    assert cross_server_share(0, 15, 16, 4) == pytest.approx((1.0, 12 / 15))
    # a straight cut at a server boundary crosses always, one inside a server never
    assert cross_server_share(3, 4, 5, 4) == (1.0, 1.0)
    assert cross_server_share(1, 2, 3, 4) == (0.0, 0.0)


def test_the_serial_copies_are_two_per_minibatch_at_the_host_link_rate() -> None:
    sizes = np.array([0.0, 1e6, 8e6])
    assert serial_copy_s(sizes, 1.0, GLOO) == pytest.approx(2 * sizes / HOST)
    assert serial_copy_s(sizes, 0.5, GLOO) == pytest.approx(sizes / HOST)


def _gnmt8(shared_dir: Path, servers: int) -> tuple[Any, Cluster, NativeOptions]:
    cluster = _cluster("pipedream-cluster-a", servers)
    costs = _costs("data:profiles/pipedream/gnmt.graph.txt", shared_dir, 1.0)
    return costs, cluster, NativeOptions(overlap=device_overlap(cluster_device(cluster)))


def test_stages_inside_one_server_make_no_serial_copies(shared_dir: Path) -> None:
    costs, cluster, options = _gnmt8(shared_dir, 1)
    planner = StagedPlanner(costs, cluster, options, (1, 1, 1, 1), GLOO)
    starts = np.arange(1, 5)
    assert all(not planner.copy_s(k, starts, starts + 1).any() for k in range(4))


def test_a_stage_beside_a_server_boundary_pays_its_copies(shared_dir: Path) -> None:
    costs, cluster, options = _gnmt8(shared_dir, 2)
    planner = StagedPlanner(costs, cluster, options, (2, 2, 2, 2), GLOO)
    moved = costs.output_activation_bytes
    # stage 1 ([2, 4), server 0) sends to stage 2 ([4, 6), server 1): its cut out crosses, its cut in not
    assert planner.copy_s(1, 5, 9) == pytest.approx(2 * moved[8] / HOST)
    assert planner.copy_s(2, 9, 12) == pytest.approx(2 * moved[8] / HOST)
    assert planner.copy_s(0, 0, 5) == 0.0


def test_staging_never_makes_a_pipeline_faster(shared_dir: Path) -> None:
    costs, cluster, options = _gnmt8(shared_dir, 3)
    shape = (1,) * 10
    direct = partition_shape(NativePlanner(costs, cluster, options), shape)
    staged = staged_partition(costs, cluster, options, shape, GLOO)
    assert staged.pipeline_time_s > direct.pipeline_time_s
    assert staged.config == direct.config


def test_the_setting_slows_a_cut_bound_pipeline_across_servers(shared_dir: Path) -> None:
    setup = {
        "model": "data:profiles/pipedream/alexnet.graph.txt",
        "cluster": "pipedream-cluster-a",
        "servers": 4,
        "paper_config": "15-1",
    }
    ctx = Context(shared_dir)
    staged = pipeline_native_config_speedup({**setup, "pipeline_transport": GLOO}, ctx)
    assert staged < 0.95 * pipeline_native_config_speedup(setup, ctx)
    with pytest.raises(ValueError, match="unknown stage transport"):
        pipeline_native_config_speedup({**setup, "pipeline_transport": "tcp"}, ctx)
