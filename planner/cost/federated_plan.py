"""Federated-learning plans: a fleet, a model and the round's settings in; plain result dicts out.

Each `plan_*` function combines the cost models (planner.cost.federated, heterofl, noniid; the selection
ILP of planner.optimize.client_selection; DGC message sizes from planner.cost.compression) and returns
a payload with units in its keys, which `planner fl` prints as tables or JSON / YAML. Bad settings raise
ValueError naming the setting (the CLI turns them into exit code 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from planner import limits
from planner.cost import federated as fl
from planner.cost.compute import LayerArrays, layer_arrays
from planner.spec.fleet import Fleet, Members, members
from planner.spec.hardware import Device
from planner.spec.profile import DTYPE_BYTES

ROUNDS_NOTE = (
    "the number of rounds is your input: accuracy after R rounds has no closed form (FedAvg needs 10-100x "
    "fewer rounds than FedSGD in McMahan et al. 2017, a published range, not a model)"
)


class SettingError(ValueError):
    """A setting the plan cannot use; `setting` names it (the CLI option without dashes)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class Model:
    """A catalog model as the federated planner uses it: layer vectors, sizes of its messages."""

    spec: Any
    arrays: LayerArrays
    dtype: str
    download_bytes: float
    upload_bytes: float
    upload_note: str

    @property
    def parameters(self) -> int:
        return int(self.arrays.parameters.sum())

    @property
    def flops_per_sample(self) -> float | None:
        if self.arrays.forward_flops is None or self.arrays.backward_flops is None:
            return None
        return float(self.arrays.forward_flops.sum() + self.arrays.backward_flops.sum())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "spec": self.spec.spec,
            "parameters": self.parameters,
            "dtype": self.dtype,
            "training_flops_per_sample": self.flops_per_sample,
            "download_bytes": self.download_bytes,
            "upload_bytes": self.upload_bytes,
            "upload": self.upload_note,
        }


def load_model(
    spec: Any, dtype: str = "fp32", density: float | None = None, encoding: str = "delta16"
) -> Model:
    """Layer vectors of a CNN architecture (derived) or a layer profile, the global model's bytes (the
    download) and the update's (the upload): dense, or DGC-sparsified at `density` (Lin et al. 2018:
    planner.cost.compression, whose local accumulation sends every element eventually)."""
    from planner.cost.compression import ENCODINGS, compress, gradient_tensors
    from planner.cost.layers import derive_profile

    if spec.spec == "llm":
        raise SettingError(
            "model", "expected a CNN architecture or a layer profile (LLM configs have no layers)"
        )
    if dtype not in ("fp32", "fp16", "bf16"):
        raise SettingError("dtype", f"expected fp32, fp16 or bf16, got '{dtype}'")
    if encoding not in ENCODINGS:  # checked with or without a density: a typo is not silently unused
        raise SettingError("upload-encoding", f"expected one of {', '.join(ENCODINGS)}, got '{encoding}'")
    profile = derive_profile(spec, 1) if spec.spec == "cnn" else spec
    try:
        arrays = layer_arrays(profile)
    except ValueError as exc:
        raise SettingError("model", str(exc)) from None
    size = float(arrays.parameters.sum()) * DTYPE_BYTES[dtype]
    upload, note = size, "dense model update"
    if density is not None:
        if density not in limits.FRACTION:  # 1e-300 made the message "infx smaller"
            raise SettingError(
                "upload-density", f"expected a fraction {limits.FRACTION.text()}, got {density}"
            )
        try:
            message = compress(gradient_tensors(spec), density, DTYPE_BYTES[dtype], encoding)
        except ValueError as exc:
            raise SettingError("upload-encoding", str(exc)) from None
        upload = message.message_bytes
        note = (
            f"DGC-style top-{density:g} sparsified update, {encoding} positions "
            f"({message.ratio:.1f}x smaller; unsent values accumulate locally, Lin et al. 2018)"
        )
    return Model(spec, arrays, dtype, size, upload, note)


@dataclass(frozen=True)
class RoundSettings:
    """The round's settings (SI units). `over_select`: extra fraction selected (0.3 selects 1.3 m)."""

    clients_per_round: int
    epochs: float = 1.0
    batch: int = 32
    optimizer: str = "sgd"
    deadline_s: float | None = None
    over_select: float = 0.0
    prox_mu: float = 0.0
    partial_work: bool = False
    relevant: float = 1.0
    rounds: int = 100
    trials: int = 4000
    seed: int = 0
    histogram_bins: int | None = None

    def selected(self, total: int) -> int:
        """Clients selected: ceil((1 + over_select) m), at most K."""
        return min(total, math.ceil(self.clients_per_round * (1.0 + self.over_select) - 1e-9))


@dataclass
class FleetTimes:
    """A fleet's members and their per-round times for a model and settings."""

    fleet: Fleet
    members: Members
    model: Model
    work: fl.Workload
    class_steps: npt.NDArray[np.float64]
    times: fl.ClientTimes
    notes: list[str] = field(default_factory=list)


def fleet_times(
    fleet: Fleet, model: Model, settings: RoundSettings, concurrent: int, measured_on: Device | None = None
) -> FleetTimes:
    """Every client's download, training and upload time when `concurrent` clients download at once."""
    if settings.epochs not in limits.EPOCHS:  # NaN fails this too; 1e300 overflowed the times
        raise SettingError("epochs", f"expected a number {limits.EPOCHS.text()}, got {settings.epochs}")
    problem = limits.count_problem(settings.batch, limits.MAX_COUNT_OPTION, "samples per batch")
    if problem:
        raise SettingError("batch-size", f"{problem}, got {settings.batch}")
    if settings.prox_mu not in limits.WEIGHT:
        raise SettingError("prox-mu", f"expected a number {limits.WEIGHT.text()}, got {settings.prox_mu}")
    if settings.optimizer not in ("sgd", "adam"):
        raise SettingError("optimizer", f"expected sgd or adam, got '{settings.optimizer}'")
    work = fl.Workload(
        settings.epochs,
        settings.batch,
        model.download_bytes,
        model.upload_bytes,
        model.dtype,
        settings.optimizer,
        settings.prox_mu > 0,
    )
    try:
        steps = fl.class_step_times(fleet, model.arrays, work, measured_on)
    except ValueError as exc:
        raise SettingError("model", str(exc)) from None
    crowd = members(fleet)
    times = fl.client_times(fleet, crowd, steps, work, concurrent)
    return FleetTimes(fleet, crowd, model, work, steps, times)


def _class_rows(ft: FleetTimes) -> list[dict[str, Any]]:
    rows = []
    total = ft.times.total_s
    for i, c in enumerate(ft.fleet.classes):
        mask = ft.members.class_index == i
        assert isinstance(c.device, Device)
        rows.append(
            {
                "name": c.name,
                "clients": int(mask.sum()),
                "device": c.device.name,
                "samples_mean": float(ft.members.samples[mask].mean()),
                "availability": c.availability,
                "step_s": float(ft.class_steps[i]),
                "download_s": float(ft.times.download_s[mask].mean()),
                "compute_s": float(ft.times.compute_s[mask].mean()),
                "upload_s": float(ft.times.upload_s[mask].mean()),
                "total_s": float(total[mask].mean()),
                "total_min_s": float(total[mask].min()),
                "total_max_s": float(total[mask].max()),
            }
        )
    return rows


def histogram(values: npt.ArrayLike, bins: int) -> dict[str, Any]:
    """Counts of `values` in `bins` bins, equal in log(time) between the smallest and largest value."""
    data = np.asarray(values, dtype=float)
    low, high = float(data.min()), float(data.max())
    if high <= low * (1 + 1e-12):
        edges = np.array([low, high if high > low else low * (1 + 1e-9) + 1e-12])
    else:
        edges = np.geomspace(low, high, bins + 1)
    counts, edges = np.histogram(data, bins=edges)
    return {"edges_s": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _fleet_dict(fleet: Fleet) -> dict[str, Any]:
    server = fleet.server
    return {
        "name": fleet.name,
        "clients": fleet.total_clients,
        "classes": len(fleet.classes),
        "seed": fleet.seed,
        "server_bandwidth_bytes_per_s": None if server is None else server.link.effective_bandwidth,
        "server_device": None if server is None or server.device is None else server.device.name,  # type: ignore[union-attr]
    }


def _check_counts(settings: RoundSettings) -> None:
    """The round's count settings within planner.limits, before any array is made."""
    counts = [
        ("rounds", settings.rounds, limits.MAX_ROUNDS, "rounds"),
        ("trials", settings.trials, limits.MAX_TRIALS, "trials"),
        ("bins", settings.histogram_bins or 1, limits.MAX_HISTOGRAM_BINS, "histogram bins"),
    ]
    for setting, value, high, what in counts:
        problem = limits.count_problem(value, high, what)
        if problem:
            raise SettingError(setting, f"{problem}, got {value}")


def _check_draws(trials: int, clients: int) -> None:
    """The Monte Carlo draws one key per client per trial: their number within planner.limits."""
    if trials * clients > limits.MAX_MONTE_CARLO_DRAWS:
        most = max(2, int(limits.MAX_MONTE_CARLO_DRAWS // clients))
        raise SettingError(
            "trials",
            f"expected at most {most:,} Monte Carlo trials on a fleet of {clients:,} clients (trials x "
            f"clients at most {limits.MAX_MONTE_CARLO_DRAWS:.0e}, the planner's bound: planner/limits.py), "
            f"got {trials:,}",
        )


def plan_round(fleet: Fleet, model: Model, settings: RoundSettings) -> dict[str, Any]:
    """Expected time and bytes of one synchronous round and of R rounds (planner.cost.federated)."""
    total = fleet.total_clients
    m = settings.clients_per_round
    if not 1 <= m <= total:
        raise SettingError("clients-per-round", f"expected 1..{total} (the fleet's clients), got {m}")
    if settings.over_select not in limits.OVER_SELECT:
        raise SettingError(
            "over-select", f"expected a number {limits.OVER_SELECT.text()}, got {settings.over_select}"
        )
    if settings.partial_work and settings.deadline_s is None:
        raise SettingError("partial-work", "needs --deadline: without one every client finishes its epochs")
    if settings.partial_work and settings.over_select > 0:
        raise SettingError("partial-work", "keeps every selected client: drop --over-select")
    if not 0 <= settings.relevant <= 1:
        raise SettingError("relevant-fraction", f"expected a fraction in [0, 1], got {settings.relevant}")
    _check_counts(settings)
    selected = settings.selected(total)
    ft = fleet_times(fleet, model, settings, selected)
    times = ft.times
    arrival = times.first_update_s if settings.partial_work else None
    availability = ft.members.availability
    uniform = bool(np.all(availability == availability[0]))
    deadline = settings.deadline_s
    if uniform and settings.relevant == 1.0:
        expectation = fl.expected_round(times.total_s, selected, m, float(availability[0]), deadline, arrival)
    else:
        _check_draws(settings.trials, total)
        expectation = fl.monte_carlo_round(
            times.total_s,
            selected,
            m,
            availability,
            deadline,
            arrival,
            settings.relevant,
            times.upload_s,
            settings.trials,
            settings.seed,
        )
    notes = [ROUNDS_NOTE]
    if expectation.method == "monte-carlo":
        why = "availability differs between classes" if not uniform else "CMFL filtering"
        notes.append(f"expected round by Monte Carlo ({settings.trials} trials, seed {settings.seed}): {why}")
    aggregation = 0.0
    server = fleet.server
    if server is not None and isinstance(server.device, Device):
        aggregation = fl.aggregation_time(expectation.updates, model.parameters, model.dtype, server.device)
    else:
        notes.append("no server device in the fleet: aggregation time not modelled")
    moved = fl.round_bytes(selected, expectation.updates, ft.work)
    round_s = expectation.time_s + aggregation
    totals = fl.training_totals(settings.rounds, round_s, moved.total)
    ingress = None
    if server is not None:
        ingress = expectation.updates * model.upload_bytes / server.link.effective_bandwidth
        if ingress > expectation.time_s:
            notes.append(
                "the server's link cannot take the round's uploads in the round time: it is the bottleneck"
            )
    assert expectation.reports is not None
    saved = fl.cmfl_upload_savings(expectation.reports, model.upload_bytes, settings.relevant)
    work_fraction = None
    if arrival is not None and deadline is not None:
        on_time = arrival <= deadline
        room = np.clip(
            (deadline - times.download_s - times.upload_s) / np.maximum(times.compute_s, 1e-300), 0, 1
        )
        work_fraction = float(room[on_time].mean()) if on_time.any() else 0.0
    payload: dict[str, Any] = {
        "fleet": _fleet_dict(fleet),
        "model": model.to_dict(),
        "settings": {
            "clients_per_round": m,
            "clients_selected": selected,
            "epochs": settings.epochs,
            "batch_size": settings.batch,
            "local_steps_mean": float(
                fl.local_steps(settings.epochs, ft.members.samples, settings.batch).mean()
            ),
            "optimizer": settings.optimizer,
            "deadline_s": deadline,
            "over_select": settings.over_select,
            "prox_mu": settings.prox_mu,
            "partial_work": settings.partial_work,
            "relevant_fraction": settings.relevant,
            "rounds": settings.rounds,
        },
        "classes": _class_rows(ft),
        "round": {
            "method": expectation.method,
            "clients_time_s": expectation.time_s,
            "clients_time_stderr_s": expectation.time_stderr_s,
            "aggregation_s": aggregation,
            "round_s": round_s,
            "updates": expectation.updates,
            "updates_stderr": expectation.updates_stderr,
            "all_clients_max_s": float(times.total_s.max()),
            "download_bytes": moved.download,
            "upload_bytes": moved.upload,
            "bytes": moved.total,
            "server_ingress_s": ingress,
            "cmfl_saved_upload_bytes": saved,
            "partial_work_fraction": work_fraction,
            "prox_extra_s_per_step": (
                float(np.mean([fl.prox_time(model.parameters, model.dtype, c.device) for c in fleet.classes]))  # type: ignore[arg-type]
                if settings.prox_mu > 0
                else 0.0
            ),
        },
        "training": {
            "rounds": totals.rounds,
            "time_s": totals.time_s,
            "bytes": totals.bytes,
            "rounds_are_input": True,
        },
        "notes": notes,
    }
    if settings.histogram_bins:
        payload["histogram"] = histogram(times.total_s, settings.histogram_bins)
    return payload


def plan_selection(
    fleet: Fleet,
    model: Model,
    settings: RoundSettings,
    weights: tuple[float, float, float],
    min_clients: int | None = None,
    max_clients: int | None = None,
    time_limit_s: float = 60.0,
) -> dict[str, Any]:
    """The selection ILP against the random and fastest-m baselines (planner.optimize.client_selection)."""
    from planner.optimize import client_selection as cs

    total = fleet.total_clients
    m = settings.clients_per_round
    low = m if min_clients is None else min_clients
    high = m if max_clients is None else max_clients
    if not 1 <= m <= total:
        raise SettingError("clients-per-round", f"expected 1..{total} (the fleet's clients), got {m}")
    if not 1 <= low <= m <= high <= total:
        raise SettingError(
            "min-clients",
            f"need 1 <= min-clients ({low}) <= clients-per-round ({m}) <= max-clients ({high}) <= {total}",
        )
    for setting, weight in zip(("w-utility", "w-latency", "w-bytes"), weights, strict=True):
        if weight not in limits.WEIGHT:  # 1e308 left the ILP no feasible point within its tolerances
            raise SettingError(setting, f"expected a weight {limits.WEIGHT.text()}, got {weight}")
    ft = fleet_times(fleet, model, settings, high)
    per_client_bytes = np.full(total, model.download_bytes + model.upload_bytes)
    problem = cs.SelectionProblem(
        ft.times.total_s,
        cs.data_utility(ft.members.samples, ft.members.availability),
        per_client_bytes,
        *weights,
        low,
        high,
    )
    ilp = cs.solve_ilp(problem, time_limit_s)
    results = [ilp, cs.fastest(problem, m), cs.random_expected(problem, m)]
    by_class = []
    for i, c in enumerate(fleet.classes):
        mask = ft.members.class_index == i
        row = {"name": c.name, "clients": int(mask.sum())}
        for result in results[:2]:
            chosen = np.zeros(total, dtype=bool)
            chosen[list(result.chosen or ())] = True
            row[f"{result.method}_selected"] = int((chosen & mask).sum())
        by_class.append(row)
    return {
        "fleet": _fleet_dict(fleet),
        "model": model.to_dict(),
        "settings": {
            "clients_per_round": m,
            "min_clients": low,
            "max_clients": high,
            "epochs": settings.epochs,
            "batch_size": settings.batch,
            "w_utility": weights[0],
            "w_latency_per_s": weights[1],
            "w_bytes_per_gb": weights[2],
        },
        "objective": "w_utility * utility - w_latency * round_s - w_bytes * bytes / 1e9",
        "utility": "expected share of the fleet's samples: availability * samples / total samples",
        "selections": [r.to_dict() for r in results],
        "ilp_clients": list(ilp.chosen or ()),
        "by_class": by_class,
        "notes": [
            "round_s of a selection: its slowest client's download + training + upload; downloads share the "
            f"server link among {high} clients",
            "random: expectations over uniform selection of m clients (round time by order statistics)",
        ],
    }


def plan_heterofl(
    fleet: Fleet,
    spec: Any,
    settings: RoundSettings,
    ratio: float,
    levels: int,
    memory_fraction: float = 1.0,
) -> dict[str, Any]:
    """HeteroFL levels per client (planner.cost.heterofl) and the round vs one full-width model."""
    from planner.cost import heterofl as hf

    total = fleet.total_clients
    m = settings.clients_per_round
    if not 1 <= m <= total:
        raise SettingError("clients-per-round", f"expected 1..{total} (the fleet's clients), got {m}")
    if not 0 < ratio < 1:
        raise SettingError("ratio", f"expected a width ratio in (0, 1), got {ratio}")
    if not 1 <= levels <= 12:
        raise SettingError("levels", f"expected 1..12, got {levels}")
    if not 0 < memory_fraction <= 1:
        raise SettingError("memory-fraction", f"expected a fraction in (0, 1], got {memory_fraction}")
    base = load_model(spec)
    try:
        sub_models = hf.model_levels(spec, ratio, levels)
    except ValueError as exc:
        raise SettingError("ratio", str(exc)) from None
    level_times, level_memory, level_rows = [], [], []
    crowd = None
    for lv in sub_models:
        size = lv.parameters * DTYPE_BYTES[base.dtype]
        model = Model(spec, lv.arrays, base.dtype, size, size, "dense sub-model update")
        ft = fleet_times(fleet, model, settings, m)
        crowd = ft.members
        memory = lv.memory_bytes(settings.batch, base.dtype, settings.optimizer)
        level_times.append(ft.times.total_s)
        level_memory.append(np.full(total, memory))
        level_rows.append(
            {
                "level": lv.level,
                "width": lv.width,
                "parameter_fraction_formula": lv.formula_fraction,
                "parameter_fraction": lv.parameters / base.parameters,
                "parameters": lv.parameters,
                "model_bytes": size,
                "training_memory_bytes": memory,
            }
        )
    assert crowd is not None
    budget = np.array([c.device.memory for c in fleet.classes])[crowd.class_index] * memory_fraction  # type: ignore[union-attr]
    times = np.array(level_times)
    assigned = hf.assign_levels(times, np.array(level_memory), budget, settings.deadline_s)
    fits = assigned > 0
    own_s = np.where(fits, times[np.maximum(assigned, 1) - 1, np.arange(total)], np.nan)
    notes = []
    hetero: dict[str, Any] = {"eligible_clients": int(fits.sum())}
    if fits.sum() >= m:
        hetero["round_s"] = fl.expected_max(own_s[fits], m)
        sizes = np.array([row["model_bytes"] for row in level_rows])[assigned[fits] - 1]
        hetero["bytes"] = float(m * 2.0 * sizes.mean())
    else:
        hetero["round_s"] = hetero["bytes"] = None
        notes.append(f"fewer than m = {m} clients fit any level: no HeteroFL round")
    full_fits = np.array(level_memory)[0] <= budget
    full: dict[str, Any] = {"eligible_clients": int(full_fits.sum())}
    if full_fits.sum() >= m:
        full["round_s"] = fl.expected_max(times[0, full_fits], m)
        full["bytes"] = float(m * 2.0 * level_rows[0]["model_bytes"])
    else:
        full["round_s"] = full["bytes"] = None
        notes.append(f"fewer than m = {m} clients fit the full model in memory: no full-width round")
    by_class = []
    for i, c in enumerate(fleet.classes):
        mask = crowd.class_index == i
        counts = np.bincount(assigned[mask], minlength=levels + 1)
        by_class.append(
            {
                "name": c.name,
                "clients": int(mask.sum()),
                "memory_budget_bytes": float(budget[mask][0]),
                "clients_per_level": {str(p): int(counts[p]) for p in range(1, levels + 1)},
                "clients_without_level": int(counts[0]),
                "full_width_s": float(times[0, mask].mean()),
                "assigned_s": float(np.nanmean(own_s[mask])) if fits[mask].any() else None,
            }
        )
    notes.append(
        "HeteroFL scales hidden channels by r^(p-1): parameters and FLOP of hidden layers by r^(2(p-1)); "
        "the input and classifier do not shrink, so whole-model fractions sit above the formula"
    )
    return {
        "fleet": _fleet_dict(fleet),
        "model": base.to_dict(),
        "settings": {
            "ratio": ratio,
            "levels": levels,
            "clients_per_round": m,
            "epochs": settings.epochs,
            "batch_size": settings.batch,
            "deadline_s": settings.deadline_s,
            "memory_fraction": memory_fraction,
        },
        "levels": level_rows,
        "by_class": by_class,
        "heterofl": hetero,
        "full_width": full,
        "notes": notes,
    }


def plan_noniid(
    fleet: Fleet,
    counts: npt.ArrayLike | None,
    classes: int,
    per_client: int,
    seed: int | None,
    shared_fraction: float,
    shared_portion: float,
    sample_bytes: float,
    model: Model | None = None,
    settings: RoundSettings | None = None,
) -> dict[str, Any]:
    """EMD of every client's labels from the population's, and the cost of a globally shared subset."""
    from planner.cost import noniid as ni

    crowd = members(fleet)
    if counts is None:
        try:
            table = ni.k_class_partition(crowd.samples, classes, per_client, seed)
        except ValueError as exc:
            raise SettingError("classes-per-client", str(exc)) from None
        source = f"generated: {per_client}-class non-IID over {classes} classes (Zhao et al. 2018)"
    else:
        table = np.asarray(counts)
        source = "given label partition"
        if table.shape[0] != len(crowd):
            raise SettingError(
                "partition", f"expected one row per client ({len(crowd)}), got {table.shape[0]}"
            )
    emd = ni.earth_movers_distance(table)
    try:
        shared = ni.shared_subset(
            float(table.sum()), len(crowd), shared_fraction, sample_bytes, shared_portion
        )
    except ValueError as exc:
        raise SettingError("shared-fraction", str(exc)) from None
    down_bw = (
        np.array([c.downlink.effective_bandwidth for c in fleet.classes])[crowd.class_index] * crowd.bandwidth
    )
    down_lat = np.array([c.downlink.latency for c in fleet.classes])[crowd.class_index]
    if fleet.server is not None:
        down_bw = np.minimum(down_bw, fleet.server.link.effective_bandwidth / len(crowd))
    send_s = fl.transfer_time(shared.bytes_per_client, down_bw, down_lat)
    by_class = []
    for i, c in enumerate(fleet.classes):
        mask = crowd.class_index == i
        by_class.append(
            {
                "name": c.name,
                "clients": int(mask.sum()),
                "emd_mean": float(emd[mask].mean()),
                "emd_min": float(emd[mask].min()),
                "emd_max": float(emd[mask].max()),
                "shared_download_s": float(send_s[mask].mean()),
            }
        )
    payload: dict[str, Any] = {
        "fleet": _fleet_dict(fleet),
        "partition": {
            "source": source,
            "clients": int(table.shape[0]),
            "classes": int(table.shape[1]),
            "samples": int(table.sum()),
            "population_distribution": [float(v) for v in ni.population_distribution(table)],
        },
        "emd": {"mean": float(emd.mean()), "min": float(emd.min()), "max": float(emd.max())},
        "by_class": by_class,
        "shared_subset": {
            **shared.to_dict(),
            "fraction": shared_fraction,
            "portion": shared_portion,
            "sample_bytes": sample_bytes,
            "one_time_download_s": float(send_s.max()),
        },
        "notes": [
            "EMD = sum over classes of |p_k(y) - p(y)|, 0 (IID) to 2; Zhao et al. 2018 tie it to weight "
            "divergence and accuracy loss; accuracy itself is not predicted",
            ROUNDS_NOTE,
        ],
    }
    if model is not None and settings is not None:
        before = fleet_times(fleet, model, settings, settings.clients_per_round)
        extra = np.full(len(crowd), shared.samples_per_client)
        steps = fl.local_steps(settings.epochs, extra, settings.batch)
        added = steps * before.times.step_s
        payload["training_with_shared"] = {
            "model": model.spec.name,
            "extra_compute_s_mean": float(added.mean()),
            "round_s_without": fl.expected_max(before.times.total_s, settings.clients_per_round),
            "round_s_with": fl.expected_max(before.times.total_s + added, settings.clients_per_round),
            "clients_per_round": settings.clients_per_round,
        }
    return payload
