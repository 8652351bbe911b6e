"""HeteroFL (Diao et al. 2021): each client trains the widest sub-model r^(p-1) its memory and the deadline
allow (planner.cost.heterofl); the round against one full-width model. Options, result, and the question."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api import inputs
from planner.api.fl_common import (
    FleetSummary,
    LocalTraining,
    ModelSummary,
    check_deadline,
    check_fraction,
    load_fleet,
    result_dict,
)
from planner.errors import SettingError
from planner.validate.bands import FEDERATED, band_fields

if TYPE_CHECKING:
    from planner.spec.fleet import Fleet

MAX_LEVELS = 12  # r^(p-1) of r = 0.5 at p = 12 is 1/2048 of the width: past any channel count


@dataclass(frozen=True)
class FLHeteroFLOptions(LocalTraining):
    """The width ratio and levels (HeteroFL's: 0.5 and 5), the deadline and the memory training may use."""

    ratio: float = 0.5  # r: width ratio between levels
    levels: int = 5  # complexity levels p = 1..levels
    deadline: float | None = None  # seconds: a level is assigned only if the client reports by then
    memory_fraction: float = 1.0  # of a device's memory training may use

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (the fleet's size aside)."""
        super().check()
        if not (math.isfinite(self.ratio) and 0 < self.ratio < 1):
            raise SettingError("ratio", "expected a width ratio in (0, 1)", self.ratio)
        if not 1 <= self.levels <= MAX_LEVELS:
            raise SettingError("levels", f"expected 1..{MAX_LEVELS}", self.levels)
        check_deadline(self.deadline)
        check_fraction("memory_fraction", self.memory_fraction)


@dataclass(frozen=True)
class HeteroFLSetup:
    """The settings the levels were assigned with, m resolved."""

    ratio: float
    levels: int
    clients_per_round: int
    epochs: float
    batch_size: int
    deadline_s: float | None
    memory_fraction: float


@dataclass(frozen=True)
class Level:
    """A sub-model: its width, its parameters (the formula's fraction and the real one), its bytes."""

    level: int
    width: float
    parameter_fraction_formula: float
    parameter_fraction: float
    parameters: int
    model_bytes: float
    training_memory_bytes: float


@dataclass(frozen=True)
class LevelsOfClass:
    """A client class: its clients per level (keys '1'..'levels'), those fitting none, its round times."""

    name: str
    clients: int
    memory_budget_bytes: float
    clients_per_level: dict[str, int]
    clients_without_level: int
    full_width_s: float
    assigned_s: float | None  # mean round time at the clients' own levels; None: none fits


@dataclass(frozen=True)
class RoundOfModels:
    """A round with m eligible clients: how many are eligible, its expected time and bytes (None: < m)."""

    eligible_clients: int
    round_s: float | None
    bytes: float | None


@dataclass(frozen=True)
class FLHeteroFLResult:
    """The levels, the clients per level and class, and the round with levels vs at full width."""

    options: FLHeteroFLOptions
    fleet: FleetSummary
    model: ModelSummary
    settings: HeteroFLSetup
    levels: list[Level]
    by_class: list[LevelsOfClass]
    heterofl: RoundOfModels
    full_width: RoundOfModels
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self) | band_fields(FEDERATED)


def fl_heterofl(fleet: Fleet | str, model: Any, options: FLHeteroFLOptions | None = None) -> FLHeteroFLResult:
    """HeteroFL levels per client and the expected round, against one full-width model."""
    import numpy as np

    from planner.cost import heterofl as hf
    from planner.cost.federated_fleet import Model, fleet_times, load_model
    from planner.cost.order_statistics import expected_max
    from planner.spec.profile import DTYPE_BYTES

    options = options or FLHeteroFLOptions()
    options.check()
    fleet = load_fleet(fleet)
    spec = inputs.load_model(model)
    total, m = fleet.total_clients, options.clients(fleet)
    base = load_model(spec)
    try:
        sub_models = hf.model_levels(spec, options.ratio, options.levels)
    except ValueError as exc:
        raise SettingError("ratio", str(exc), show_got=False) from None
    level_times, level_memory, levels = [], [], []
    for lv in sub_models:
        size = lv.parameters * DTYPE_BYTES[base.dtype]
        sub = Model(spec, lv.arrays, base.dtype, size, size, "dense sub-model update")
        ft = fleet_times(fleet, sub, options.local_work(), m)
        memory = lv.memory_bytes(options.batch_size, base.dtype, options.optimizer)
        level_times.append(ft.times.total_s)
        level_memory.append(np.full(total, memory))
        fraction = lv.parameters / base.parameters
        levels.append(Level(lv.level, lv.width, lv.formula_fraction, fraction, lv.parameters, size, memory))
    crowd = ft.members
    device_memory = np.array([c.resolved_device.usable_memory for c in fleet.classes])
    budget = device_memory[crowd.class_index] * options.memory_fraction
    times = np.array(level_times)
    assigned = hf.assign_levels(times, np.array(level_memory), budget, options.deadline)
    fits = assigned > 0
    own_s = np.where(fits, times[np.maximum(assigned, 1) - 1, np.arange(total)], np.nan)
    notes = []
    sizes = np.array([lv.model_bytes for lv in levels])
    if fits.sum() >= m:
        hetero = RoundOfModels(
            int(fits.sum()),
            expected_max(own_s[fits], m),
            float(m * 2.0 * sizes[assigned[fits] - 1].mean()),
        )
    else:
        hetero = RoundOfModels(int(fits.sum()), None, None)
        notes.append(f"fewer than m = {m} clients fit any level: no HeteroFL round")
    full_fits = level_memory[0] <= budget
    if full_fits.sum() >= m:
        full = RoundOfModels(
            int(full_fits.sum()), expected_max(times[0, full_fits], m), float(m * 2.0 * sizes[0])
        )
    else:
        full = RoundOfModels(int(full_fits.sum()), None, None)
        notes.append(f"fewer than m = {m} clients fit the full model in memory: no full-width round")
    by_class = []
    for i, c in enumerate(fleet.classes):
        mask = crowd.class_index == i
        counts = np.bincount(assigned[mask], minlength=options.levels + 1)
        by_class.append(
            LevelsOfClass(
                name=c.name,
                clients=int(mask.sum()),
                memory_budget_bytes=float(budget[mask][0]),
                clients_per_level={str(p): int(counts[p]) for p in range(1, options.levels + 1)},
                clients_without_level=int(counts[0]),
                full_width_s=float(times[0, mask].mean()),
                assigned_s=float(np.nanmean(own_s[mask])) if fits[mask].any() else None,
            )
        )
    notes.append(
        "HeteroFL scales hidden channels by r^(p-1): parameters and FLOP of hidden layers by r^(2(p-1)); "
        "the input and classifier do not shrink, so whole-model fractions sit above the formula"
    )
    setup = HeteroFLSetup(
        options.ratio,
        options.levels,
        m,
        options.epochs,
        options.batch_size,
        options.deadline,
        options.memory_fraction,
    )
    return FLHeteroFLResult(
        options, FleetSummary.of(fleet), ModelSummary.of(base), setup, levels, by_class, hetero, full, notes
    )
