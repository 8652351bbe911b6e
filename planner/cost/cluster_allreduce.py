"""One all-reduce on the devices of a `Cluster` by a named algorithm (alpha-beta model).

`allreduce_on_cluster` runs one algorithm on the devices of a `Cluster`, whose levels (innermost first)
each have their own link (planner.cost.collective_layout). The result says which link is the bottleneck
and how far the time is from the lower bound. N = 1 costs nothing: a single device has nothing to
synchronise.
"""

from __future__ import annotations

import math

from planner.cost.collective_layout import CollectiveResult, layout
from planner.cost.collective_ps import ServerSettings
from planner.cost.collective_registry import named
from planner.spec.hardware import Cluster


def allreduce_on_cluster(
    cluster: Cluster,
    message_bytes: float,
    algorithm: str,
    *,
    devices: int | None = None,
    ps_shards: int = 1,
    ps_dedicated: bool = False,
    ps_backups: int = 0,
) -> CollectiveResult:
    """All-reduce `message_bytes` (G, the gradient each device holds) on a cluster by `algorithm`, a name
    in planner.cost.collective_registry.

    `devices` (default: all) fill units innermost first. "ps" is one parameter server; "ps-sharded" splits
    G over `ps_shards` servers (default, when ps_shards is 1: one shard per device). `ps_dedicated` puts
    the servers outside the N devices, reached through the outermost level's link; `ps_backups` adds
    replicas. Raises ValueError for an unknown algorithm or impossible counts.
    """
    chosen = named(algorithm)
    g = float(message_bytes)
    if not math.isfinite(g) or g < 0:
        raise ValueError(f"message size must be a finite number of bytes >= 0, got {message_bytes}")
    plan = layout(cluster, devices)
    n = plan.devices
    if ps_shards < 1:
        raise ValueError(f"ps_shards must be >= 1, got {ps_shards}")
    if ps_backups < 0:
        raise ValueError(f"ps_backups must be >= 0, got {ps_backups}")
    k = chosen.servers(ps_shards, n) if chosen.servers is not None else ps_shards
    if chosen.servers is not None and not ps_dedicated:
        if k > n:
            raise ValueError(f"{k} co-located PS shards need as many devices, only {n} take part")
        if ps_backups > n - 1:
            raise ValueError(f"{ps_backups} backups need as many other devices, only {n - 1} there")
    if n == 1 or g == 0:
        return CollectiveResult(algorithm, n, g, 0.0, 0.0, 0.0, 0.0, "", 0.0, 0, "nothing to synchronise", ())
    return chosen.on_cluster(plan, g, ServerSettings(k, ps_dedicated, ps_backups))
