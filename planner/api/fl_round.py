"""A synchronous FedAvg / FedProx round on a fleet: options, result, and the question.

Each selected client downloads the model, trains E epochs over its samples at minibatch B and uploads its
update; the round ends with the slowest selected client (or its deadline), then the server aggregates
(planner.cost.federated). The number of rounds R is an input: accuracy is not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner import limits
from planner.api import inputs
from planner.api.fl_cmfl import check_cmfl, relevant_fraction
from planner.api.fl_common import (
    ROUNDS_NOTE,
    FleetSummary,
    LocalTraining,
    ModelSummary,
    check_count,
    check_deadline,
    check_dtype,
    check_fraction,
    check_range,
    load_fleet,
    result_dict,
)
from planner.errors import SettingError
from planner.validate.bands import FEDERATED, band_fields

if TYPE_CHECKING:
    from planner.cost.federated_fleet import FleetTimes, Histogram
    from planner.spec.fleet import Fleet


@dataclass(frozen=True)
class FLRoundOptions(LocalTraining):
    """The round's settings (SI units); the defaults are plain FedAvg with dense fp32 updates."""

    dtype: str = "fp32"
    deadline: float | None = None  # seconds: clients reporting later are dropped
    over_select: float = 0.0  # select (1 + this)·m clients, keep the first m reports
    prox_mu: float = 0.0  # FedProx mu > 0: the proximal term's cost is added to every step
    partial_work: bool = False  # FedProx: clients send what they did by the deadline
    relevant_fraction: float = 1.0  # CMFL: fraction of updates relevant enough to upload (given)
    cmfl_threshold: float | None = None  # CMFL: derive who uploads, relevance >= this (Wang et al. 2019)
    update_correlation: float | None = None  # ... from this local/global update correlation (rho)
    updates: str | None = None  # ... or from a .npz of `updates` (clients x parameters), `global_update`
    packet_loss: float = 0.0  # packet error rate p of every client link
    loss_recovery: str = "retransmit"  # retransmit (ARQ: bandwidth x (1 - p)) or drop (the update is lost)
    upload_density: float | None = None  # DGC-style sparsified upload keeping this fraction
    upload_encoding: str = "delta16"  # positions of a sparse upload: delta16, coo32, coo64, bitmap
    rounds: int = 100  # R: rounds to train (an input: accuracy is not modelled)
    trials: int = 4000  # Monte Carlo trials where no closed form applies
    seed: int = 0  # of the Monte Carlo
    histogram: bool = False  # also count the fleet's client round times per bin
    bins: int = 16

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        super().check()
        check_dtype(self.dtype)
        check_deadline(self.deadline)
        check_range("over_select", self.over_select, limits.OVER_SELECT)
        check_range("prox_mu", self.prox_mu, limits.WEIGHT)
        if self.partial_work and self.deadline is None:
            raise SettingError(
                "partial_work",
                "needs a deadline: without one every client finishes its epochs",
                show_got=False,
            )
        if self.partial_work and self.over_select > 0:
            raise SettingError(
                "partial_work", "keeps every selected client: over_select must be 0", show_got=False
            )
        check_fraction("relevant_fraction", self.relevant_fraction, low_open=False)
        check_cmfl(self.cmfl_threshold, self.update_correlation, self.updates, self.relevant_fraction)
        if not 0 <= self.packet_loss < 1:  # also refuses NaN
            raise SettingError("packet_loss", "expected a packet error rate in [0, 1)", self.packet_loss)
        if self.loss_recovery not in ("retransmit", "drop"):
            raise SettingError("loss_recovery", "expected retransmit or drop", self.loss_recovery)
        if self.upload_density is not None:  # 1e-300 made the message "infx smaller"
            check_range("upload_density", self.upload_density, limits.FRACTION, "a fraction")
        from planner.cost.compression import ENCODINGS

        if self.upload_encoding not in ENCODINGS:  # checked with or without a density: no silent typo
            raise SettingError(
                "upload_encoding", f"expected one of {', '.join(ENCODINGS)}", self.upload_encoding
            )
        if self.trials < 2:
            raise SettingError("trials", "expected >= 2", self.trials)
        check_count("rounds", self.rounds, limits.MAX_ROUNDS, "rounds")
        check_count("trials", self.trials, limits.MAX_TRIALS, "trials")
        check_count("bins", self.bins, limits.MAX_HISTOGRAM_BINS, "histogram bins")
        if self.seed < 0:
            raise SettingError("seed", "expected a seed >= 0", self.seed)


@dataclass(frozen=True)
class RoundSetup:
    """The settings the round was costed with, m and the clients selected resolved."""

    clients_per_round: int
    clients_selected: int
    epochs: float
    batch_size: int
    local_steps_mean: float
    optimizer: str
    deadline_s: float | None
    over_select: float
    prox_mu: float
    partial_work: bool
    relevant_fraction: float
    rounds: int
    cmfl_threshold: float | None
    packet_loss: float
    loss_recovery: str


@dataclass(frozen=True)
class ClassTimes:
    """A client class's clients and their mean round times (the range: its fastest and slowest)."""

    name: str
    clients: int
    device: str
    samples_mean: float
    availability: float
    step_s: float
    download_s: float
    compute_s: float
    upload_s: float
    total_s: float
    total_min_s: float
    total_max_s: float


@dataclass(frozen=True)
class RoundFigures:
    """The expected round: its time and how it was found, the updates received, the bytes moved."""

    method: str  # closed-form or monte-carlo
    clients_time_s: float
    clients_time_stderr_s: float
    aggregation_s: float
    round_s: float
    updates: float
    updates_stderr: float
    all_clients_max_s: float
    download_bytes: float
    upload_bytes: float
    bytes: float
    server_ingress_s: float | None
    cmfl_saved_upload_bytes: float
    partial_work_fraction: float | None
    prox_extra_s_per_step: float


@dataclass(frozen=True)
class TrainingTotals:
    """R rounds: time and bytes (R is the user's input)."""

    rounds: int
    time_s: float
    bytes: float
    rounds_are_input: bool = True


@dataclass(frozen=True)
class FLRoundResult:
    """The expected round on the fleet and R of them; per class, the clients' times."""

    options: FLRoundOptions
    fleet: FleetSummary
    model: ModelSummary
    settings: RoundSetup
    classes: list[ClassTimes]
    round: RoundFigures
    training: TrainingTotals
    notes: list[str]
    histogram: Histogram | None = None

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self) | band_fields(FEDERATED)


def fl_round(fleet: Fleet | str, model: Any, options: FLRoundOptions | None = None) -> FLRoundResult:
    """Expected time and bytes of one synchronous round and of R rounds (planner.cost.federated)."""
    import numpy as np

    from planner.cost import federated as fl
    from planner.cost import federated_lossy as lossy
    from planner.cost.federated_clients import local_steps, prox_time
    from planner.cost.federated_fleet import fleet_times, histogram, load_model
    from planner.spec.hardware import Device

    options = options or FLRoundOptions()
    options.check()
    fleet = load_fleet(fleet)
    loaded = load_model(
        inputs.load_model(model), options.dtype, options.upload_density, options.upload_encoding
    )
    total, m = fleet.total_clients, options.clients(fleet)
    selected = min(total, math.ceil(m * (1.0 + options.over_select) - 1e-9))  # ceil((1 + x) m), at most K
    retransmit = options.loss_recovery == "retransmit"
    goodput = lossy.goodput_factor(options.packet_loss) if retransmit else 1.0
    ft = fleet_times(fleet, loaded, options.local_work(options.prox_mu), selected, goodput=goodput)
    times, availability, deadline = ft.times, ft.members.availability, options.deadline
    if not retransmit:  # a lost model or update: the client contributes nothing, as a dropout
        sizes = [loaded.download_bytes, loaded.upload_bytes]
        availability = availability * lossy.delivery_probability(sizes, options.packet_loss)
    relevant = relevant_fraction(
        options.relevant_fraction,
        options.cmfl_threshold,
        options.update_correlation,
        options.updates,
        loaded.parameters,
    )
    arrival = times.first_update_s if options.partial_work else None
    uniform = bool(np.all(availability == availability[0]))
    if uniform and relevant == 1.0:
        expectation = fl.expected_round(times.total_s, selected, m, float(availability[0]), deadline, arrival)
    else:
        _check_draws(options.trials, total)
        expectation = fl.monte_carlo_round(
            times.total_s,
            selected,
            m,
            availability,
            deadline,
            arrival,
            relevant,
            times.upload_s,
            options.trials,
            options.seed,
        )
    notes = [ROUNDS_NOTE]
    if expectation.method == "monte-carlo":
        why = "availability differs between clients" if not uniform else "CMFL filtering"
        notes.append(f"expected round by Monte Carlo ({options.trials} trials, seed {options.seed}): {why}")
    aggregation, server = 0.0, fleet.server
    if server is not None and isinstance(server.device, Device):
        aggregation = fl.aggregation_time(expectation.updates, loaded.parameters, loaded.dtype, server.device)
    else:
        notes.append("no server device in the fleet: aggregation time not modelled")
    moved = fl.round_bytes(selected, expectation.updates, ft.work)
    if retransmit and options.packet_loss > 0:  # every byte is sent 1 / (1 - p) times on average
        wire = lossy.wire_bytes(1.0, options.packet_loss)
        moved = fl.RoundBytes(moved.download * wire, moved.upload * wire)
        notes.append(
            f"packet loss {options.packet_loss:g}, retransmitted: links carry {1 - options.packet_loss:g} of "
            "their bandwidth as new data (selective-repeat ARQ, Bertsekas & Gallager 1992, Sec. 2.4)"
        )
    elif options.packet_loss > 0:
        notes.append(
            f"packet loss {options.packet_loss:g}, not recovered: a model and update arrive with probability "
            f"(1 - p)^packets of {lossy.MTU_BYTES:g} B, "
            f"{float(lossy.delivery_probability(sizes, options.packet_loss)):.3g} here (a loss is a dropout)"
        )
    if options.cmfl_threshold is not None:
        notes.append(
            f"CMFL: clients upload when their relevance reaches {options.cmfl_threshold:g}: "
            f"{relevant:.3g} of the updates (derived; planner.cost.federated_cmfl)"
        )
    round_s = expectation.time_s + aggregation
    totals = fl.training_totals(options.rounds, round_s, moved.total)
    ingress = None
    if server is not None:
        ingress = expectation.updates * loaded.upload_bytes / server.link.effective_bandwidth
        if ingress > expectation.time_s:
            notes.append(
                "the server's link cannot take the round's uploads in the round time: it is the bottleneck"
            )
    assert expectation.reports is not None
    work_fraction = None
    if arrival is not None and deadline is not None:
        on_time = arrival <= deadline
        room = np.clip(
            (deadline - times.download_s - times.upload_s) / np.maximum(times.compute_s, 1e-300), 0, 1
        )
        work_fraction = float(room[on_time].mean()) if on_time.any() else 0.0
    prox_extra = 0.0
    if options.prox_mu > 0:
        devices = [c.resolved_device for c in fleet.classes]
        prox_extra = float(np.mean([prox_time(loaded.parameters, loaded.dtype, d) for d in devices]))
    setup = RoundSetup(
        clients_per_round=m,
        clients_selected=selected,
        epochs=options.epochs,
        batch_size=options.batch_size,
        local_steps_mean=float(local_steps(options.epochs, ft.members.samples, options.batch_size).mean()),
        optimizer=options.optimizer,
        deadline_s=deadline,
        over_select=options.over_select,
        prox_mu=options.prox_mu,
        partial_work=options.partial_work,
        relevant_fraction=relevant,
        rounds=options.rounds,
        cmfl_threshold=options.cmfl_threshold,
        packet_loss=options.packet_loss,
        loss_recovery=options.loss_recovery,
    )
    figures = RoundFigures(
        method=expectation.method,
        clients_time_s=expectation.time_s,
        clients_time_stderr_s=expectation.time_stderr_s,
        aggregation_s=aggregation,
        round_s=round_s,
        updates=expectation.updates,
        updates_stderr=expectation.updates_stderr,
        all_clients_max_s=float(times.total_s.max()),
        download_bytes=moved.download,
        upload_bytes=moved.upload,
        bytes=moved.total,
        server_ingress_s=ingress,
        cmfl_saved_upload_bytes=fl.cmfl_upload_savings(expectation.reports, loaded.upload_bytes, relevant),
        partial_work_fraction=work_fraction,
        prox_extra_s_per_step=prox_extra,
    )
    return FLRoundResult(
        options=options,
        fleet=FleetSummary.of(fleet),
        model=ModelSummary.of(loaded),
        settings=setup,
        classes=class_times(ft),
        round=figures,
        training=TrainingTotals(totals.rounds, totals.time_s, totals.bytes),
        notes=notes,
        histogram=histogram(times.total_s, options.bins) if options.histogram else None,
    )


def class_times(ft: FleetTimes) -> list[ClassTimes]:
    """Per client class: its clients' mean times, and the fastest and slowest total."""
    rows, total = [], ft.times.total_s
    for i, c in enumerate(ft.fleet.classes):
        mask = ft.members.class_index == i
        rows.append(
            ClassTimes(
                name=c.name,
                clients=int(mask.sum()),
                device=getattr(c.device, "name", str(c.device)),
                samples_mean=float(ft.members.samples[mask].mean()),
                availability=c.availability,
                step_s=float(ft.class_steps[i]),
                download_s=float(ft.times.download_s[mask].mean()),
                compute_s=float(ft.times.compute_s[mask].mean()),
                upload_s=float(ft.times.upload_s[mask].mean()),
                total_s=float(total[mask].mean()),
                total_min_s=float(total[mask].min()),
                total_max_s=float(total[mask].max()),
            )
        )
    return rows


def _check_draws(trials: int, clients: int) -> None:
    """The Monte Carlo draws one key per client per trial: their number within planner.limits."""
    if trials * clients > limits.MAX_MONTE_CARLO_DRAWS:
        most = max(2, int(limits.MAX_MONTE_CARLO_DRAWS // clients))
        raise SettingError(
            "trials",
            f"expected at most {most:,} Monte Carlo trials on a fleet of {clients:,} clients (trials x "
            f"clients at most {limits.MAX_MONTE_CARLO_DRAWS:.0e}, the planner's bound: planner/limits.py)",
            trials,
        )
