"""Collective libraries' network transports that reach less than a link sustains, registered in one table
(`TRANSPORTS`), and a cluster as such a transport sees it (`over_transport`).

A cluster's link `efficiency` is what transfers sustain on the link (for Ethernet, TCP/IP framing). A
collective library's own transport can reach much less: NCCL 2.4 drove an Ethernet NIC through its TCP
socket transport (no RDMA NIC: Azure NC24s_v3, AWS p3.16xlarge), whose all-reduce bus bandwidth stayed
near half the wire rate. A system that ran such a library is costed on `over_transport(cluster, name)`:
the links between servers (every level above the innermost) at the transport's measured fraction of their
bandwidth, in place of their efficiency; the links inside a server (NVLink, PCIe, which NCCL drives with
its peer-to-peer and shared-memory transports) keep theirs.

`wire_fraction` is nccl-tests' bus bandwidth over the wire rate: bus bandwidth is the bytes per second
each link carries in a ring all-reduce (algorithm bandwidth × 2(n-1)/n), which is what the alpha-beta
model divides by (planner.cost.collectives), so the fraction replaces the link's efficiency one for one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from planner.spec.hardware import Cluster

T = TypeVar("T")


@dataclass(frozen=True)
class Transport:
    """One library's network transport: the fraction of a link's bandwidth its all-reduce reached."""

    name: str
    wire_fraction: float  # all-reduce bus bandwidth / wire rate, measured (0, 1]
    source: str  # where the measurement comes from


# NVIDIA/nccl issue #209 ("Suboptimal performance with TCP over high bandwidth networks", cswinter,
# 2019-04-20): NCCL 2.4.2, nccl-tests all_reduce_perf between two servers on a 32 Gbps TCP network, bus
# bandwidth 1.85 / 1.95 / 1.73 / 1.45 GB/s with 1 / 2 / 4 / 8 rings; the best, 1.95 GB/s of the 4.0 GB/s
# wire rate, is taken ("we have not been able to reliably obtain more than 60% of wire speed over 32Gpbs
# networks", the issue's description). The socket changes that issue led to came after 2.4.6, the NCCL of
# the nvcr.io/nvidia/pytorch:19.05-py3 container (its release notes): 2.4.6 moved 10.7 Gbps where a 2.4.7
# pre-release moved 12.8-18.4 Gbps on the same 100 Gbps training job (yaroslavvb, 2019-05-12, same issue).
NCCL_24_SOCKET = Transport(
    "nccl-2.4-socket",
    1.95 / 4.0,
    "NVIDIA/nccl#209: NCCL 2.4.2 all-reduce over 32 Gbps TCP, best bus bandwidth 1.95 of 4.0 GB/s",
)

TRANSPORTS: dict[str, Transport] = {NCCL_24_SOCKET.name: NCCL_24_SOCKET}


def lookup(table: Mapping[str, T], name: str, what: str) -> T:
    """`table[name]`; ValueError naming `what` and the choices otherwise (the case files' settings)."""
    found = table.get(name)
    if found is None:
        raise ValueError(f"unknown {what} '{name}'; expected one of {', '.join(table)}")
    return found


def transport(name: str) -> Transport:
    """The registered transport called `name`; ValueError naming the choices otherwise."""
    return lookup(TRANSPORTS, name, "transport")


def over_transport(cluster: Cluster, name: str) -> Cluster:
    """`cluster` with every link between servers (the levels above the innermost) sustaining the
    transport's `wire_fraction` of its bandwidth; a one-level cluster is returned unchanged."""
    fraction = transport(name).wire_fraction
    inner, *outer = cluster.levels
    between = tuple(replace(level, link=replace(level.link, efficiency=fraction)) for level in outer)
    return replace(cluster, levels=(inner, *between))
