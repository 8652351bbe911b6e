"""Where the devices of a collective sit on a `Cluster`, the links they load, and the result of one
all-reduce (the cluster layer of planner.cost.cluster_allreduce; alpha-beta model:
planner.cost.collectives).

A cluster's levels (innermost first) each have their own link: per GPU inside a server, per server NIC
between servers. Devices fill servers innermost first. A level's link is shared by every flow that leaves
one of its units at once (the GPUs of a server share its NIC); a shared medium (`Link.shared`, Wi-Fi)
serialises every transfer of the level. The lower bound generalises `allreduce_lower_bound` to the levels
(Patarasuk & Yuan 2009; Thakur et al. 2005).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.cost.collectives import ceil_log2
from planner.spec.hardware import Cluster


@dataclass(frozen=True)
class CollectiveResult:
    """One all-reduce of a `message_bytes` gradient on `devices` devices (SI units).

    `bytes_sent_per_device` is the largest amount any one participant sends (dedicated parameter servers
    included); `total_traffic_bytes` sums what every participant sends; `busiest_link` names the level
    (and, for a parameter server, which side) whose link carries the bottleneck traffic and
    `busiest_link_bytes` what one such link carries in one direction (a shared medium: in total).
    `link_bytes` gives that per level (level name, bytes). `lower_bound_s` is the all-reduce lower bound on
    the same devices and links (`allreduce_lower_bound` generalised to the cluster's levels).
    """

    algorithm: str
    devices: int
    message_bytes: float
    time_s: float
    lower_bound_s: float
    bytes_sent_per_device: float
    total_traffic_bytes: float
    busiest_link: str
    busiest_link_bytes: float
    steps: int
    notes: str
    link_bytes: tuple[tuple[str, float], ...] = ()

    @property
    def times_lower_bound(self) -> float:
        """time_s / lower_bound_s (1.0 when both are zero)."""
        if self.lower_bound_s <= 0:
            return 1.0 if self.time_s <= 0 else math.inf
        return self.time_s / self.lower_bound_s

    def to_dict(self) -> dict[str, object]:
        """Plain values with units in the key names."""
        return {
            "algorithm": self.algorithm,
            "devices": self.devices,
            "message_bytes": self.message_bytes,
            "time_s": self.time_s,
            "lower_bound_s": self.lower_bound_s,
            "times_lower_bound": self.times_lower_bound,
            "bytes_sent_per_device": self.bytes_sent_per_device,
            "total_traffic_bytes": self.total_traffic_bytes,
            "busiest_link": self.busiest_link,
            "busiest_link_bytes": self.busiest_link_bytes,
            "link_bytes": {name: value for name, value in self.link_bytes},
            "steps": self.steps,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class LevelUse:
    """How the devices of a collective sit on one level of the cluster.

    `unit_devices` (U): devices in one unit of this level (1 for the innermost); `spanned` (m): most units of
    this level that hold devices inside one unit of the next level up; `units` (M): units holding devices
    in all; `present`: devices in the unit that holds device 0. `bandwidth` is the sustained rate
    (bandwidth x efficiency) of one unit's link per direction.
    """

    name: str
    unit_devices: int
    spanned: int
    units: int
    present: int
    bandwidth: float
    latency: float
    shared: bool

    @property
    def crossed(self) -> bool:
        return self.spanned > 1


@dataclass(frozen=True)
class Layout:
    """The levels that N devices filled innermost-first occupy on a cluster (innermost first)."""

    devices: int
    levels: tuple[LevelUse, ...]

    @property
    def crossed(self) -> tuple[LevelUse, ...]:
        return tuple(level for level in self.levels if level.crossed)

    @property
    def top(self) -> LevelUse:
        """The outermost level the devices span (the outermost level if they sit in one unit)."""
        crossed = self.crossed
        return crossed[-1] if crossed else self.levels[-1]


def layout(cluster: Cluster, devices: int | None = None) -> Layout:
    """Place `devices` devices (default: all) on `cluster`, filling units innermost first."""
    total = cluster.total_devices
    n = total if devices is None else int(devices)
    if n < 1:
        raise ValueError(f"devices must be >= 1, got {n}")
    if n > total:
        raise ValueError(f"{cluster.name} has {total} devices, {n} requested")
    uses = []
    unit = 1
    for level in cluster.levels:
        units = math.ceil(n / unit)
        uses.append(
            LevelUse(
                name=level.name,
                unit_devices=unit,
                spanned=min(level.count, units),
                units=units,
                present=min(unit, n),
                bandwidth=level.link.effective_bandwidth,
                latency=level.link.latency,
                shared=level.link.shared,
            )
        )
        unit *= level.count
    return Layout(n, tuple(uses))


def busiest_level(loads: dict[str, float], plan: Layout) -> tuple[float, str]:
    """Seconds the most loaded link needs for `loads` (bytes per unit link, per direction, by level)."""
    best, name = 0.0, ""
    for level in plan.levels:
        if level.name in loads:
            t = loads[level.name] / level.bandwidth
            if t > best or not name:
                best, name = t, level.name
    return best, name


def link_share(level: LevelUse, flows: float) -> float:
    """How many equal flows a unit's link carries at once: on a shared medium every unit's flow."""
    return flows * level.spanned if level.shared else flows


def _lower_bound(plan: Layout, g: float) -> tuple[float, str]:
    """All-reduce lower bound on the cluster (s) and the level that sets its bandwidth term.

    Bandwidth: for each level the devices span, the M units holding devices must exchange at least
    2(M-1)G bytes (two spanning trees per element, Patarasuk & Yuan 2009), so one unit link carries
    2(M-1)/M * G; on a shared medium the 2(m-1)G of one group all cross it. Latency: ceil(log2 N) rounds
    of the fastest link, and at least one message over the outermost level spanned.
    """
    crossed = plan.crossed
    if plan.devices <= 1 or not crossed:
        return 0.0, ""
    bw, name = 0.0, ""
    for level in crossed:
        shared = 2.0 * (level.spanned - 1) * g
        need = shared if level.shared else 2.0 * (level.units - 1) / level.units * g
        t = need / level.bandwidth
        if t > bw or not name:
            bw, name = t, level.name
    alpha_min = min(level.latency for level in crossed)
    lat = max(float(ceil_log2(plan.devices)) * alpha_min, plan.top.latency)
    return lat + bw, name


def path_to(plan: Layout, upto: LevelUse) -> list[LevelUse]:
    """The crossed levels a transfer between units of level `upto` goes through (innermost first)."""
    out = []
    for level in plan.levels:
        if level.crossed or level is upto:
            out.append(level)
        if level is upto:
            break
    return out


def collective_result(
    algorithm: str,
    plan: Layout,
    g: float,
    time: float,
    per_device: float,
    total: float,
    totals: dict[str, float],
    steps: int,
    notes: str,
    busiest: tuple[str, str] | None = None,
) -> CollectiveResult:
    """Assemble a result; the busiest link is the level whose total load / bandwidth is largest, unless
    `busiest` gives (level name, label)."""
    lower, _ = _lower_bound(plan, g)
    _, name = busiest_level(totals, plan)
    label = name
    if busiest is not None:
        name, label = busiest
    return CollectiveResult(
        algorithm=algorithm,
        devices=plan.devices,
        message_bytes=g,
        time_s=time,
        lower_bound_s=lower,
        bytes_sent_per_device=per_device,
        total_traffic_bytes=total,
        busiest_link=label,
        busiest_link_bytes=totals.get(name, 0.0),
        steps=steps,
        notes=notes,
        link_bytes=tuple((level.name, totals[level.name]) for level in plan.levels if level.name in totals),
    )


def ring_link(cluster: Cluster, devices: int | None = None) -> tuple[float, float]:
    """(latency s, bandwidth bytes/s) a flat ring step sees on the cluster: the slowest hop of a step."""
    plan = layout(cluster, devices)
    crossed = plan.crossed
    if not crossed:
        top = plan.levels[-1]
        return top.latency, top.bandwidth
    return (
        max(level.latency for level in crossed),
        min(level.bandwidth / link_share(level, 1) for level in crossed),
    )
