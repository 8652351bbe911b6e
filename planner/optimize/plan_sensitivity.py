"""How sensitive `planner plan`'s recommendation is to the hardware figures: each figure of the cluster
scaled by ±20 %, the strategies compared again (planner.optimize.plan.compare), the winner's new time
and whether another strategy wins."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from planner.cost import data_parallel as dp
from planner.optimize.plan import Comparison, compare
from planner.spec.hardware import Cluster, Device
from planner.spec.profile import ModelProfile

SENSITIVITY_FACTORS = ("peak_compute", "compute_efficiency", "memory_bandwidth", "memory_efficiency")


def perturbed(cluster: Cluster, factor: str, scale: float) -> Cluster:
    """`cluster` with one hardware figure scaled (efficiencies capped at 1). Factors: the device's
    peak_compute (all dtypes), compute_efficiency (with every dtype's own figure, dtype_compute_efficiency),
    memory_bandwidth, memory_efficiency, and per level `<level>.bandwidth`, `<level>.latency`,
    `<level>.efficiency`."""
    device = cluster.device
    if factor in SENSITIVITY_FACTORS:
        assert isinstance(device, Device), "a cluster with a device (a catalog one is resolved when loaded)"
        if factor == "peak_compute":
            new = replace(device, peak_compute={k: v * scale for k, v in device.peak_compute.items()})
        else:
            value = getattr(device, factor) * scale
            new = replace(device, **{factor: min(value, 1.0) if "efficiency" in factor else value})
            if factor == "compute_efficiency" and device.dtype_compute_efficiency:
                own = {k: min(v * scale, 1.0) for k, v in device.dtype_compute_efficiency.items()}
                new = replace(new, dtype_compute_efficiency=own)
        return replace(cluster, device=new)
    level_name, attribute = factor.split(".")
    levels = []
    for level in cluster.levels:
        if level.name == level_name:
            value = getattr(level.link, attribute) * scale
            value = min(value, 1.0) if attribute == "efficiency" else value
            level = replace(level, link=replace(level.link, **{attribute: value}))
        levels.append(level)
    return replace(cluster, levels=tuple(levels))


def sensitivity_factors(cluster: Cluster) -> list[str]:
    """Every figure `perturbed` can scale on this cluster."""
    links = [f"{lv.name}.{a}" for lv in cluster.levels for a in ("bandwidth", "latency", "efficiency")]
    return [*SENSITIVITY_FACTORS, *links]


def sensitivity(
    setup: dp.Setup, profile: ModelProfile, batch: int, base: Comparison, change: float = 0.2
) -> list[dict[str, Any]]:
    """For each hardware figure at ±`change`: the winner's new figure and whether the winner changes."""
    winner = base.winner
    if winner is None:
        return []
    rows = []
    for factor in sensitivity_factors(setup.cluster):
        row: dict[str, Any] = {"factor": factor}
        for sign, scale in (("minus", 1 - change), ("plus", 1 + change)):
            again = compare(
                replace(setup, cluster=perturbed(setup.cluster, factor, scale)),
                profile,
                batch,
                base.objective,
                base.rematerialise,
            )
            same = next((s for s in again.strategies if s.name == winner.name), None)
            new_winner = again.winner
            row[f"{sign}_winner_change_pct"] = (
                None if same is None else (same.iteration_s / winner.iteration_s - 1.0) * 100.0
            )
            row[f"{sign}_new_winner"] = (
                None if new_winner is None or new_winner.name == winner.name else (new_winner.name)
            )
        rows.append(row)
    return rows


def most_sensitive(rows: list[dict[str, Any]]) -> str | None:
    """The figure whose ±change moves the winner's time the most (None without rows)."""
    return max(
        rows,
        key=lambda r: max(abs(r["minus_winner_change_pct"] or 0.0), abs(r["plus_winner_change_pct"] or 0.0)),
        default={"factor": None},
    )["factor"]


def ranking_flips(rows: list[dict[str, Any]]) -> list[str]:
    """'<figure> minus|plus' for every change that makes another strategy win, sorted."""
    return sorted(
        {f"{r['factor']} {sign}" for r in rows for sign in ("minus", "plus") if r[f"{sign}_new_winner"]}
    )
