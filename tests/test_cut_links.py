"""The cut term on the links the replicas use (planner.cost.cut_links), against hand computations."""

from __future__ import annotations

import pytest

from planner.cost.cut_links import CutLinks
from planner.spec.hardware import Cluster, Level, Link

GPU = Link(bandwidth=10e9, latency=1e-5, efficiency=0.8, name="pcie")
NIC = Link(bandwidth=1.25e9, latency=2e-5, efficiency=0.9, name="nic")
A = 4e6  # activation bytes


def four_by_four(nic: Link = NIC) -> Cluster:
    levels = (Level("gpu", 4, GPU), Level("server", 4, nic))
    return Cluster(spec="cluster", name="4x4", device="(none)", levels=levels)


def one_way(link: Link, share: float = 1.0) -> float:
    """2 · share · (a / (bandwidth · efficiency) + latency), by hand."""
    return 2.0 * share * (A / (link.bandwidth * link.efficiency) + link.latency)


def test_a_straight_cut_is_the_boundary_links_term() -> None:
    links = CutLinks(four_by_four())
    assert float(links.term(A, 2, 3, 4)) == pytest.approx(one_way(GPU))  # inside server 0
    assert float(links.term(A, 3, 4, 5)) == pytest.approx(one_way(NIC))  # servers 0 -> 1
    assert links.busiest(A, 3, 4, 5) == "nic"


def test_15_1_sends_twelve_fifteenths_through_the_last_servers_nic() -> None:
    # stage A on GPUs 0-14, B on GPU 15 (server 3): 12 of A's 15 replicas sit on servers 0-2
    links = CutLinks(four_by_four())
    assert float(links.term(A, 0, 15, 16)) == pytest.approx(max(one_way(NIC, 12 / 15), one_way(GPU, 3 / 15)))
    assert links.busiest(A, 0, 15, 16) == "nic"
    # the boundary approximation charged the PCIe link between GPUs 14 and 15 alone
    assert float(CutLinks(four_by_four(), boundary=True).term(A, 0, 15, 16)) == pytest.approx(one_way(GPU))


def test_a_stage_per_server_loads_each_nic_with_every_minibatch() -> None:
    links = CutLinks(four_by_four())
    assert float(links.term(A, 0, 4, 8)) == pytest.approx(one_way(NIC))
    # 2 + 2 replicas on one server: every transfer stays on the server's GPU links, half per GPU
    assert float(links.term(A, 0, 2, 4)) == pytest.approx(one_way(GPU, 0.5))


def test_a_shared_medium_serialises_every_units_transfers() -> None:
    hub = Link(bandwidth=1.25e9, latency=2e-5, efficiency=0.9, name="hub", shared=True)
    links = CutLinks(four_by_four(hub))
    # A on servers 0-1, B on servers 2-3: every minibatch crosses the hub once each way
    assert float(links.term(A, 0, 8, 16)) == pytest.approx(one_way(hub))


def test_a_cut_needs_devices_on_both_sides() -> None:
    with pytest.raises(ValueError, match="both sides"):
        CutLinks(four_by_four()).term(A, 4, 4, 8)
