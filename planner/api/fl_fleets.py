"""The fleets of the catalog (`planner fl fleets`): what each holds, for choosing one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.api.fl_common import result_dict


@dataclass(frozen=True)
class FleetClass:
    name: str
    count: int
    device: str


@dataclass(frozen=True)
class CatalogFleet:
    """A catalog fleet: its names, its clients in all, its client classes and what it describes."""

    name: str
    aliases: list[str]
    clients: int
    classes: list[FleetClass]
    description: str


@dataclass(frozen=True)
class FleetsResult:
    fleets: list[CatalogFleet]

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


def fl_fleets() -> FleetsResult:
    """Every fleet in the catalog, in catalog order."""
    from planner.spec.catalog import entries

    fleets = []
    for entry in entries("fleets"):
        fleet = entry.value
        classes = [FleetClass(c.name, c.count, c.device.name) for c in fleet.classes]
        fleets.append(
            CatalogFleet(fleet.name, list(fleet.aliases), fleet.total_clients, classes, fleet.description)
        )
    return FleetsResult(fleets)
