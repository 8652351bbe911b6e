"""The levels PipeDream's optimizer (planner.optimize.pipedream) partitions over, innermost first, as
(count, link bandwidth in bytes/s) pairs (PipeDream's -n and -b): from a cluster, from text, checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from planner.errors import SpecError
from planner.limits import BANDWIDTH, MAX_DEVICES
from planner.units import UnitError, parse_quantity

if TYPE_CHECKING:
    from planner.spec.hardware import Cluster


def levels_from_cluster(cluster: Cluster) -> list[tuple[int, float]]:
    """(count, link bandwidth in bytes/s) per level, innermost first: PipeDream's -n and -b."""
    return [(level.count, level.link.bandwidth) for level in cluster.levels]


_LEVEL_ITEM = re.compile(r"\s*([0-9]+)\s*:\s*(.+?)\s*")  # ASCII digits: see planner.units


def parse_levels(text: str, option: str = "levels") -> list[tuple[int, float]]:
    """Parse "4:10GB/s,4:1.25GB/s" (count:bandwidth per level, innermost first) into levels."""
    expected = "count:bandwidth per level, innermost first, e.g. '4:10GB/s,4:1.25GB/s'"
    if not isinstance(text, str) or not text.strip():
        raise SpecError(option, option.lstrip("-"), f"expected {expected}", text)
    levels = []
    for item in text.split(","):
        match = _LEVEL_ITEM.fullmatch(item)
        if match is None:
            raise SpecError(option, option.lstrip("-"), f"expected {expected}", item.strip())
        try:
            bandwidth = parse_quantity(match.group(2), "bandwidth")
        except UnitError as exc:
            raise SpecError(
                option, option.lstrip("-"), f"expected {expected} ({exc})", item.strip()
            ) from None
        levels.append((int(match.group(1)), bandwidth))
    return check_levels(levels, option)


def check_levels(levels: Sequence[tuple[int, float]], source: str = "levels") -> list[tuple[int, float]]:
    """Levels as a list of (count >= 1, bandwidth in limits.BANDWIDTH) pairs, MAX_DEVICES devices at most
    in all (what a cluster file may hold); anything else is a SpecError."""
    checked = []
    if len(levels) == 0:
        raise SpecError(source, "levels", "expected at least one level (count, bandwidth)", list(levels))
    for index, item in enumerate(levels):
        try:
            count, bandwidth = item
        except (TypeError, ValueError):
            raise SpecError(source, f"levels[{index}]", "expected a (count, bandwidth) pair", item) from None
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise SpecError(source, f"levels[{index}].count", "expected an integer >= 1", count)
        if (
            isinstance(bandwidth, bool)
            or not isinstance(bandwidth, (int, float, np.floating))
            or not math.isfinite(bandwidth)
            or bandwidth <= 0
        ):
            raise SpecError(
                source, f"levels[{index}].bandwidth", "expected a finite bandwidth > 0 (bytes/s)", bandwidth
            )
        if bandwidth not in BANDWIDTH:  # 1e-300 B/s gave a 300-digit time
            raise SpecError(
                source, f"levels[{index}].bandwidth", f"expected a bandwidth {BANDWIDTH.text()}", bandwidth
            )
        checked.append((int(count), float(bandwidth)))
    devices = math.prod(count for count, _ in checked)
    if devices > MAX_DEVICES:  # the native model builds a cluster of them
        raise SpecError(
            source,
            "levels",
            f"expected at most {MAX_DEVICES:,} devices in all (the counts' product)",
            devices,
        )
    return checked
