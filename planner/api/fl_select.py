"""Selecting a round's clients: the exact ILP on a FedMARL-style objective (planner.optimize.
client_selection) against the fastest-m and random baselines. Options, result, and the question."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from planner import limits
from planner.api import inputs
from planner.api.fl_common import (
    FleetSummary,
    LocalTraining,
    ModelSummary,
    check_dtype,
    check_range,
    load_fleet,
    result_dict,
)
from planner.api.fl_noniid import FLNoniidOptions
from planner.errors import SettingError
from planner.validate.bands import FEDERATED, band_fields

if TYPE_CHECKING:
    from planner.optimize.client_selection import Selection
    from planner.spec.fleet import Fleet

OBJECTIVE = "w_utility * utility - w_latency * round_s - w_bytes * bytes / 1e9"
UTILITIES = {
    "samples": "expected share of the fleet's samples: availability * samples / total samples",
    "accuracy": (
        "FedMARL's Acc: accuracy on IID data - 30.6 points x the selected clients' mean label EMD "
        "(planner.cost.federated_accuracy, Zhao et al. 2018), in percent"
    ),
}


@dataclass(frozen=True)
class FLSelectOptions(LocalTraining):
    """The objective's weights, how many clients the ILP may select, and the round's local training."""

    dtype: str = "fp32"
    min_clients: int | None = None  # the ILP selects at least this many (None: m)
    max_clients: int | None = None  # and at most this many (None: m)
    w_utility: float = 100.0  # w1: weight of the utility (share of the fleet's data)
    w_latency: float = 0.1  # w2: per second of round latency
    w_bytes: float = 1.0  # w3: per gigabyte moved
    time_limit: float = 60.0  # seconds the ILP solver may take
    utility: str = "samples"  # samples (share of the data) or accuracy (FedMARL's Acc, from label skew)
    iid_accuracy: float = 100.0  # accuracy: the model's accuracy on IID data, percent
    labels: FLNoniidOptions = field(default_factory=FLNoniidOptions)  # accuracy: the label partition

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (the fleet's size aside)."""
        super().check()
        check_dtype(self.dtype)
        if self.utility not in UTILITIES:
            raise SettingError("utility", f"expected one of {', '.join(UTILITIES)}", self.utility)
        if not 0 < self.iid_accuracy <= 100:  # also refuses NaN
            raise SettingError("iid_accuracy", "expected a percentage in (0, 100]", self.iid_accuracy)
        self.labels.check()
        for setting in ("w_utility", "w_latency", "w_bytes"):  # 1e308 left the ILP no feasible point
            check_range(setting, getattr(self, setting), limits.WEIGHT, "a weight")
        if not 0 < self.time_limit <= limits.MAX_SOLVER_SECONDS:  # also refuses NaN
            raise SettingError(
                "time_limit", f"expected > 0 seconds, at most {limits.MAX_SOLVER_SECONDS:g}", self.time_limit
            )


@dataclass(frozen=True)
class SelectionSetup:
    """The settings the selections were made with, m and the ILP's range resolved."""

    clients_per_round: int
    min_clients: int
    max_clients: int
    epochs: float
    batch_size: int
    w_utility: float
    w_latency_per_s: float
    w_bytes_per_gb: float


@dataclass(frozen=True)
class SelectedPerClass:
    """How many clients of a class the ILP and the fastest-m baseline select."""

    name: str
    clients: int
    ilp_selected: int
    fastest_selected: int


@dataclass(frozen=True)
class FLSelectResult:
    """The ILP's selection, the fastest-m and the (expected) random selection, and the clients chosen."""

    options: FLSelectOptions
    fleet: FleetSummary
    model: ModelSummary
    settings: SelectionSetup
    selections: list[Selection]  # ilp, fastest, random
    ilp_clients: list[int]  # indices in fleet order
    by_class: list[SelectedPerClass]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        utility = UTILITIES[self.options.utility]
        return {**result_dict(self), "objective": OBJECTIVE, "utility": utility, **band_fields(FEDERATED)}


def fl_select(fleet: Fleet | str, model: Any, options: FLSelectOptions | None = None) -> FLSelectResult:
    """The selection ILP against the random and fastest-m baselines."""
    import numpy as np

    from planner.cost.federated_fleet import fleet_times, load_model
    from planner.optimize import client_selection as cs

    options = options or FLSelectOptions()
    options.check()
    fleet = load_fleet(fleet)
    loaded = load_model(inputs.load_model(model), options.dtype)
    total, m = fleet.total_clients, options.clients(fleet)
    low = m if options.min_clients is None else options.min_clients
    high = m if options.max_clients is None else options.max_clients
    if not 1 <= low <= m <= high <= total:
        raise SettingError(
            "min_clients",
            f"need 1 <= min_clients ({low}) <= clients_per_round ({m}) <= max_clients ({high}) <= {total}",
            show_got=False,
        )
    weights = (options.w_utility, options.w_latency, options.w_bytes)
    ft = fleet_times(fleet, loaded, options.local_work(), high)
    utility = cs.data_utility(ft.members.samples, ft.members.availability)
    notes = []
    if options.utility == "accuracy":
        utility, note = _accuracy_utility(ft.members.samples, options, low, high)
        notes.append(note)
    problem = cs.SelectionProblem(
        ft.times.total_s,
        utility,
        np.full(total, loaded.download_bytes + loaded.upload_bytes),
        *weights,
        low,
        high,
    )
    ilp = cs.solve_ilp(problem, options.time_limit)
    fastest = cs.fastest(problem, m)
    by_class = []
    for i, c in enumerate(fleet.classes):
        mask = ft.members.class_index == i
        chosen = [np.isin(np.flatnonzero(mask), list(s.chosen or ())).sum() for s in (ilp, fastest)]
        by_class.append(SelectedPerClass(c.name, int(mask.sum()), int(chosen[0]), int(chosen[1])))
    return FLSelectResult(
        options=options,
        fleet=FleetSummary.of(fleet),
        model=ModelSummary.of(loaded),
        settings=SelectionSetup(m, low, high, options.epochs, options.batch_size, *weights),
        selections=[ilp, fastest, cs.random_expected(problem, m)],
        ilp_clients=list(ilp.chosen or ()),
        by_class=by_class,
        notes=[
            "round_s of a selection: its slowest client's download + training + upload; downloads share the "
            f"server link among {high} clients",
            "random: FedAvg's uniform m of the K clients (the same as dropping K - m at random); "
            "expectations, the round time by order statistics",
            *notes,
        ],
    )


def _accuracy_utility(samples: Any, options: FLSelectOptions, low: int, high: int) -> tuple[Any, str]:
    """Per-client accuracy terms (A_iid − κ·EMD_k)/m of the clients' label partition, and a note."""
    from planner.api.fl_noniid import label_table, load_partition
    from planner.cost.federated_accuracy import selection_utility
    from planner.cost.noniid import earth_movers_distance

    if low != high:
        raise SettingError(
            "min_clients",
            "the accuracy utility is the mean over the selected clients: select exactly m "
            "(min_clients = max_clients)",
            show_got=False,
        )
    labels = options.labels
    given = None if labels.partition is None else load_partition(labels.partition)
    table, source = label_table(samples, labels, given)
    emd = earth_movers_distance(table)
    note = f"labels: {source}; client EMD {emd.min():.3f} .. {emd.max():.3f}"
    return selection_utility(emd, high, options.iid_accuracy), note
