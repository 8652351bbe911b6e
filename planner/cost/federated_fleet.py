"""A fleet's round times for a model: the model's layer vectors and message sizes, and every client's
download, local training and upload time (planner.cost.federated), which planner.api's federated-learning
questions (round, select, heterofl, noniid) combine into their answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from planner.cost.compute import LayerArrays, layer_arrays
from planner.cost.federated_clients import ClientTimes, Workload, class_step_times, client_times
from planner.errors import SettingError
from planner.spec.fleet import Fleet, Members, members
from planner.spec.hardware import Device
from planner.spec.profile import DTYPE_BYTES


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
    planner.cost.compression, whose local accumulation sends every element eventually). The dtype,
    density and encoding are checked by the options that give them (planner.api.fl_common)."""
    from planner.cost.compression import compress, gradient_tensors
    from planner.cost.layers import derive_profile

    if spec.spec == "llm":
        raise SettingError(
            "model", "expected a CNN architecture or a layer profile (LLM configs have no layers)", spec.name
        )
    profile = derive_profile(spec, 1) if spec.spec == "cnn" else spec
    try:
        arrays = layer_arrays(profile)
    except ValueError as exc:
        raise SettingError("model", str(exc), show_got=False) from None
    size = float(arrays.parameters.sum()) * DTYPE_BYTES[dtype]
    upload, note = size, "dense model update"
    if density is not None:
        try:
            message = compress(gradient_tensors(spec), density, DTYPE_BYTES[dtype], encoding)
        except ValueError as exc:
            raise SettingError("upload_encoding", str(exc), show_got=False) from None
        upload = message.message_bytes
        note = (
            f"DGC-style top-{density:g} sparsified update, {encoding} positions "
            f"({message.ratio:.1f}x smaller; unsent values accumulate locally, Lin et al. 2018)"
        )
    return Model(spec, arrays, dtype, size, upload, note)


@dataclass(frozen=True)
class LocalWork:
    """How every client trains in a round: E local epochs at minibatch B with an optimizer; FedProx's
    proximal term (mu > 0) adds its cost to every step."""

    epochs: float = 1.0
    batch: int = 32
    optimizer: str = "sgd"
    prox_mu: float = 0.0


@dataclass
class FleetTimes:
    """A fleet's members and their per-round times for a model and its local training."""

    fleet: Fleet
    members: Members
    model: Model
    work: Workload
    class_steps: npt.NDArray[np.float64]
    times: ClientTimes


def fleet_times(
    fleet: Fleet,
    model: Model,
    local: LocalWork,
    concurrent: int,
    measured_on: Device | None = None,
    goodput: float = 1.0,
) -> FleetTimes:
    """Every client's download, training and upload time when `concurrent` clients download at once
    (`goodput`: the share of link bandwidth left by retransmissions, planner.cost.federated_lossy)."""
    work = Workload(
        local.epochs,
        local.batch,
        model.download_bytes,
        model.upload_bytes,
        model.dtype,
        local.optimizer,
        local.prox_mu > 0,
    )
    try:
        steps = class_step_times(fleet, model.arrays, work, measured_on)
    except ValueError as exc:
        raise SettingError("model", str(exc), show_got=False) from None
    crowd = members(fleet)
    times = client_times(fleet, crowd, steps, work, concurrent, goodput=goodput)
    return FleetTimes(fleet, crowd, model, work, steps, times)


@dataclass(frozen=True)
class Histogram:
    """Counts of values per bin; the bins' edges in seconds (one more than the counts)."""

    edges_s: list[float]
    counts: list[int]


def histogram(values: npt.ArrayLike, bins: int) -> Histogram:
    """Counts of `values` in `bins` bins, equal in log(time) between the smallest and largest value."""
    data = np.asarray(values, dtype=float)
    low, high = float(data.min()), float(data.max())
    if high <= low * (1 + 1e-12):
        edges = np.array([low, high if high > low else low * (1 + 1e-9) + 1e-12])
    else:
        edges = np.geomspace(low, high, bins + 1)
    counts, edges = np.histogram(data, bins=edges)
    return Histogram([float(e) for e in edges], [int(c) for c in counts])
