"""Synchronous parameter server on the levels of a `Cluster`: push, aggregate, replicate, pull.

Li et al. OSDI'14 (sharded servers, backup replicas after aggregation, Sec. 4.4); one port per server, so
the busiest server receives its pushes one at a time. Traffic totals from planner.cost.collectives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.cost.collective_layout import (
    CollectiveResult,
    Layout,
    LevelUse,
    busiest_level,
    collective_result,
    link_share,
    path_to,
)
from planner.cost.collectives import ps_bytes_per_device, ps_total_traffic


@dataclass(frozen=True)
class ServerSettings:
    """A parameter server's set-up: `shards` servers each holding G / shards, `dedicated` (outside the N
    devices, reached through the outermost level's link) or co-located, and `backups` replicas per shard.
    Peer-to-peer algorithms ignore it."""

    shards: int = 1
    dedicated: bool = False
    backups: int = 0


def single_server(requested: int, devices: int) -> int:
    """Servers of "ps": one, whatever was requested."""
    return 1


def sharded_servers(requested: int, devices: int) -> int:
    """Servers of "ps-sharded": those requested, or one per device when one was requested."""
    return requested if requested > 1 else devices


def ps_on_cluster(plan: Layout, g: float, servers: ServerSettings, algorithm: str) -> CollectiveResult:
    """Synchronous parameter server on the cluster: push, aggregate, replicate, pull."""
    n = plan.devices
    k, dedicated, backups = servers.shards, servers.dedicated, servers.backups
    crossed = plan.crossed
    top = plan.levels[-1] if dedicated else plan.top
    top_units = max(top.spanned, 1)
    hosts_per_top = math.ceil(k / top_units)  # shard hosts spread over the outermost units spanned
    levels = [lv for lv in plan.levels if lv.crossed or (dedicated and lv is top)]
    shard = g / k

    # One port: the busiest server receives its pushes one at a time (latency and bytes add up).
    def bandwidth_to(level: LevelUse) -> float:
        return min(lv.bandwidth for lv in path_to(plan, level))

    def latency_to(level: LevelUse) -> float:
        return max(lv.latency for lv in path_to(plan, level))

    serial_alpha = serial_busy = 0.0
    if dedicated:
        serial_alpha = max(n, k) * latency_to(top)
        serial_busy = n * shard / bandwidth_to(top)
        messages = n
    else:
        inside = 1  # devices already counted: those in the server's unit of the level below
        for level in crossed:
            count = min(level.unit_devices * level.spanned, n) - inside
            serial_alpha += count * latency_to(level)
            serial_busy += count * shard / bandwidth_to(level)
            inside += count
        messages = n - 1

    # Link loads of one phase (push; the pull is its mirror image), per unit link and direction; over both
    # phases a link carries inbound + outbound of the push in each direction.
    loads: dict[str, float] = {}
    totals: dict[str, float] = {}
    for level in levels:
        present = level.present
        if level.shared:
            loads[level.name] = (n if dedicated else n - 1) * g  # the whole push crosses the medium
            totals[level.name] = 2.0 * loads[level.name]
            continue
        if dedicated:
            # workers push all of G out; the servers' own links (sized like the outermost level's) take N G/k
            load = max(n * shard if level is top else 0.0, present * g)
            loads[level.name], totals[level.name] = load, load
            continue
        # the unit holding the most servers receives most; the one holding the fewest sends most
        most = min(hosts_per_top, level.unit_devices)
        fewest = present if k >= n else (k // top_units if level is top else 0)
        traffic = [  # (inbound, outbound) of the push for each of the two units
            (hosts * (n - present) * shard, present * g * (k - hosts) / k) for hosts in (most, fewest)
        ]
        loads[level.name] = max(max(pair) for pair in traffic)
        totals[level.name] = max(sum(pair) for pair in traffic)
    link_busy, link_name = busiest_level(loads, plan)
    phase = serial_alpha + max(serial_busy, link_busy)
    time = 2.0 * phase
    if backups:
        # after aggregation each server copies its shard to `backups` replicas over the outermost link; the
        # co-located servers of one unit do so at once through its link
        together = 1 if dedicated else link_share(top, hosts_per_top)
        replicate = backups * shard * together
        time += backups * latency_to(top) + max(
            backups * shard / bandwidth_to(top), replicate / top.bandwidth
        )
        totals[top.name] = totals.get(top.name, 0.0) + replicate
    if serial_busy >= link_busy:
        port = crossed[0] if crossed else top
        busiest = (port.name, "ps-server port (one message at a time)")
    else:
        side = "PS server" if dedicated else "workers/PS server"
        busiest = (link_name, f"{link_name} ({side} link)")
    total = float(ps_total_traffic(g, n, dedicated, backups))
    per_device = float(ps_bytes_per_device(g, n, k, dedicated, backups))
    if dedicated:
        where = f"{k} dedicated PS server{'s' if k > 1 else ''} outside the N workers: 2NG total"
    elif k == 1:
        where = "PS co-located on one of the N nodes: 2(N-1)G total"
    else:
        where = f"PS sharded over {k} of the N nodes (G/{k} each): 2(N-1)G total, spread over {k} links"
    extra = f"; {backups} backup replica{'s' if backups > 1 else ''}: +{backups}G" if backups else ""
    result = collective_result(
        algorithm,
        plan,
        g,
        time,
        per_device,
        total,
        totals,
        2 * messages + backups,
        f"{where}{extra}; push then pull, no pipelining; each server receives one message at a time",
        busiest=busiest,
    )
    return result
