"""Non-IID labels (Zhao et al. 2018): how far each client's label distribution is from the population's
(EMD), and the cost of a globally shared subset sent to every client (planner.cost.noniid). Options,
result, and the question."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner import limits
from planner.api import inputs
from planner.api.fl_common import (
    ROUNDS_NOTE,
    FleetSummary,
    LocalTraining,
    check_count,
    check_fraction,
    load_fleet,
    result_dict,
)
from planner.errors import SettingError
from planner.limits import MAX_LABEL_CELLS
from planner.validate.bands import FEDERATED, band_fields

if TYPE_CHECKING:
    from planner.spec.fleet import Fleet

Partition = str | os.PathLike[str] | Sequence[Sequence[int]]


@dataclass(frozen=True)
class FLNoniidOptions(LocalTraining):
    """A generated k-class partition (or a given one), the shared subset, and (with a model) the local
    training the shared samples add to a round."""

    classes: int = 10  # label classes (CIFAR-10: 10)
    classes_per_client: int = 1  # k of a generated k-class non-IID partition
    partition: Partition | None = None  # a `spec: partition` file, or per-client label counts, instead
    seed: int | None = None  # draw each client's classes at random (None: round-robin)
    shared_fraction: float = 0.05  # beta: globally shared data / all clients' data
    shared_portion: float = 1.0  # alpha: portion of the shared data sent to each client
    sample_bytes: float | None = None  # None: the CNN model's input, one byte a value

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (the fleet's size aside)."""
        super().check()
        check_count("classes", self.classes, limits.MAX_COUNT_OPTION, "label classes")
        if self.seed is not None and self.seed < 0:
            raise SettingError("seed", "expected a seed >= 0", self.seed)
        check_fraction("shared_fraction", self.shared_fraction)
        check_fraction("shared_portion", self.shared_portion)
        if self.sample_bytes is not None and not 0 < self.sample_bytes <= limits.SIZE.high:
            high = limits.SIZE.show(limits.SIZE.high)
            raise SettingError("sample_bytes", f"expected a size > 0 B and <= {high}", self.sample_bytes)


@dataclass(frozen=True)
class PartitionSummary:
    """The label partition: where it came from, its size, and the population's label distribution."""

    source: str
    clients: int
    classes: int
    samples: int
    population_distribution: list[float]


@dataclass(frozen=True)
class Spread:
    """Mean, least and greatest of a per-client figure."""

    mean: float
    min: float
    max: float


@dataclass(frozen=True)
class SkewOfClass:
    """A client class: its clients' EMD and their one-time download of the shared data."""

    name: str
    clients: int
    emd_mean: float
    emd_min: float
    emd_max: float
    shared_download_s: float


@dataclass(frozen=True)
class SharedSubsetCost:
    """The globally shared subset |G| = beta N, alpha |G| of it sent once to each client."""

    shared_samples: float
    samples_per_client: float
    bytes_per_client: float
    total_bytes: float
    fraction: float
    portion: float
    sample_bytes: float
    one_time_download_s: float
    accuracy_loss_points: float  # mean κ·EMD without the shared data (planner.cost.federated_accuracy)
    accuracy_loss_with_shared_points: float  # with each client's α|G| shared samples mixed in
    accuracy_gain_points: float  # what the shared data buys, in points of test accuracy


@dataclass(frozen=True)
class SharedTraining:
    """With a model: the local training the shared samples add, and the expected round without / with."""

    model: str
    extra_compute_s_mean: float
    round_s_without: float
    round_s_with: float
    clients_per_round: int


@dataclass(frozen=True)
class FLNoniidResult:
    """EMD per client and class, and the cost of the shared subset (and its training, with a model)."""

    options: FLNoniidOptions
    fleet: FleetSummary
    partition: PartitionSummary
    emd: Spread
    by_class: list[SkewOfClass]
    shared_subset: SharedSubsetCost
    notes: list[str]
    training_with_shared: SharedTraining | None = None

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self) | band_fields(FEDERATED)


def fl_noniid(
    fleet: Fleet | str, options: FLNoniidOptions | None = None, model: Any = None
) -> FLNoniidResult:
    """EMD of every client's labels from the population's, and the cost of a globally shared subset; with
    a model (a CNN architecture or layer profile), the local training it adds to a round."""
    import numpy as np

    from planner.cost import federated_accuracy as fa
    from planner.cost import noniid as ni
    from planner.cost.federated_clients import local_steps, transfer_time
    from planner.cost.federated_fleet import fleet_times, load_model
    from planner.cost.order_statistics import expected_max
    from planner.spec.fleet import members

    options = options or FLNoniidOptions()
    options.check()
    fleet = load_fleet(fleet)
    given = None if options.partition is None else load_partition(options.partition)  # files first
    spec = None if model is None else inputs.load_model(model)
    size = options.sample_bytes if options.sample_bytes is not None else _input_bytes(spec)
    m = None if spec is None else options.clients(fleet)
    crowd = members(fleet)
    table, source = label_table(crowd.samples, options, given)
    emd = ni.earth_movers_distance(table)
    own = table.sum(axis=1)
    try:  # the settings are checked: only a given partition without samples is left to refuse
        shared = ni.shared_subset(
            float(table.sum()), len(crowd), options.shared_fraction, size, options.shared_portion
        )
    except ValueError as exc:
        raise SettingError("partition", str(exc), show_got=False) from None
    down_bw = (
        np.array([c.downlink.effective_bandwidth for c in fleet.classes])[crowd.class_index] * crowd.bandwidth
    )
    down_lat = np.array([c.downlink.latency for c in fleet.classes])[crowd.class_index]
    if fleet.server is not None:
        down_bw = np.minimum(down_bw, fleet.server.link.effective_bandwidth / len(crowd))
    send_s = transfer_time(shared.bytes_per_client, down_bw, down_lat)
    mixed = fa.mixed_emd(emd, own, shared.samples_per_client)
    by_class = []
    for i, c in enumerate(fleet.classes):
        mask = crowd.class_index == i
        by_class.append(
            SkewOfClass(
                c.name,
                int(mask.sum()),
                float(emd[mask].mean()),
                float(emd[mask].min()),
                float(emd[mask].max()),
                float(send_s[mask].mean()),
            )
        )
    training = None
    if spec is not None and m is not None:
        loaded = load_model(spec)
        before = fleet_times(fleet, loaded, options.local_work(), m)
        extra = np.full(len(crowd), shared.samples_per_client)
        added = local_steps(options.epochs, extra, options.batch_size) * before.times.step_s
        training = SharedTraining(
            model=loaded.spec.name,
            extra_compute_s_mean=float(added.mean()),
            round_s_without=expected_max(before.times.total_s, m),
            round_s_with=expected_max(before.times.total_s + added, m),
            clients_per_round=m,
        )
    return FLNoniidResult(
        options=options,
        fleet=FleetSummary.of(fleet),
        partition=PartitionSummary(
            source,
            int(table.shape[0]),
            int(table.shape[1]),
            int(table.sum()),
            [float(v) for v in ni.population_distribution(table)],
        ),
        emd=Spread(float(emd.mean()), float(emd.min()), float(emd.max())),
        by_class=by_class,
        shared_subset=SharedSubsetCost(
            **shared.to_dict(),
            fraction=options.shared_fraction,
            portion=options.shared_portion,
            sample_bytes=size,
            one_time_download_s=float(send_s.max()),
            accuracy_loss_points=float(fa.accuracy_loss(emd).mean()),
            accuracy_loss_with_shared_points=float(fa.accuracy_loss(mixed).mean()),
            accuracy_gain_points=fa.shared_data_gain(emd, own, shared.samples_per_client),
        ),
        notes=[
            "EMD = sum over classes of |p_k(y) - p(y)|, 0 (IID) to 2; accuracy loss = "
            f"{fa.LOSS_PER_EMD:.1f} points x EMD (Zhao et al. 2018: up to 55% lower at 1-class non-IID, "
            "EMD 1.8); shared samples drawn from the population scale a client's EMD by n / (n + s)",
            "Zhao et al. 2018 report about +30% CIFAR-10 accuracy from 5% globally shared data (abstract); "
            "for their 10 clients this model gives +18.3 (planner validate: zhao-shared-5pct-cifar10-gain)",
            ROUNDS_NOTE,
        ],
        training_with_shared=training,
    )


def label_table(samples: Any, options: FLNoniidOptions, given: list[list[int]] | None) -> tuple[Any, str]:
    """Per-client label counts (clients × classes) and where they came from: the given partition, or a
    generated k-class non-IID one over the clients' samples (Zhao et al. 2018)."""
    import numpy as np

    from planner.cost import noniid as ni

    clients = len(samples)
    if given is not None:
        if len(given) != clients:
            raise SettingError(
                "partition", f"expected one row per client ({clients}), got {len(given)}", show_got=False
            )
        return np.asarray(given), "given label partition"
    if clients * options.classes > MAX_LABEL_CELLS:
        most = max(1, MAX_LABEL_CELLS // clients)
        raise SettingError(
            "classes",
            f"expected at most {most:,} label classes on a fleet of {clients:,} clients (clients x "
            f"classes at most {MAX_LABEL_CELLS:.0e}, the planner's bound)",
            options.classes,
        )
    try:
        table = ni.k_class_partition(samples, options.classes, options.classes_per_client, options.seed)
    except ValueError as exc:
        raise SettingError("classes_per_client", str(exc), show_got=False) from None
    source = (
        f"generated: {options.classes_per_client}-class non-IID over {options.classes} classes "
        "(Zhao et al. 2018)"
    )
    return table, source


def _input_bytes(spec: Any) -> float:
    """Bytes per sample of a CNN's input at one byte a value (an 8-bit image: 3 x 224 x 224 bytes)."""
    if spec is None or spec.spec != "cnn":
        raise SettingError(
            "sample_bytes", "give the bytes per sample (or a CNN model to derive them)", show_got=False
        )
    return float(math.prod(spec.input_shape))


def load_partition(partition: Partition) -> list[list[int]]:
    """Per-client label counts: as given, or read from a `spec: partition` YAML file."""
    if not isinstance(partition, (str, os.PathLike)):
        return [list(row) for row in partition]
    from pathlib import Path

    from planner.spec.fleet import LabelPartition
    from planner.spec.schema import build
    from planner.spec.yamlio import load_yaml

    doc = load_yaml(Path(partition))
    if not isinstance(doc.data, dict) or doc.data.get("spec") != "partition":
        raise doc.error(("spec",), "expected a `spec: partition` file", show_got=False)
    return [list(row) for row in build(LabelPartition, doc).counts]
