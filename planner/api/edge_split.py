"""Neurosurgeon (Kang et al., ASPLOS 2017): the best layer at which to split a model between a mobile
device and the cloud, for each uplink bandwidth: options, result, and the question (the latency and
energy of every split come from planner.cost.neurosurgeon; the choice per uplink is made here)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from planner.api.edge_inputs import check_input_dtype, model_error, setting_error
from planner.api.inputs import ModelRef, load_cluster, load_device, load_model, spec_name
from planner.errors import SettingError, SpecError
from planner.limits import BANDWIDTH, POWER, range_problem
from planner.validate.bands import EDGE, band_fields

if TYPE_CHECKING:
    from planner.cost.edge_model import EdgeModel
    from planner.cost.neurosurgeon import Power, SplitSweep
    from planner.spec.hardware import Cluster, Device


class SplitObjective(str, Enum):
    """What the split minimises: end-to-end latency, or the mobile's energy."""

    latency = "latency"
    energy = "energy"


@dataclass(frozen=True)
class EdgeSplitOptions:
    """Neurosurgeon's settings; powers in W, bandwidths in bytes/s."""

    device: str | Device = "raspberry-pi-3b-plus"  # the mobile / edge device
    cloud: str | Cluster = "cloud-v100"  # its top link is the WAN to the server
    uplink: tuple[float, ...] = ()  # uplink bandwidths to sweep; (): the WAN's
    objective: SplitObjective = SplitObjective.latency
    compute_power: float | None = None  # the mobile's power while computing
    transmit_power: float | None = None  # ... while transmitting
    idle_power: float = 0.0  # ... while waiting for the cloud
    measured_on: str | Device | None = None  # device a measured profile's times come from; None: its own
    batch_size: int | None = None  # samples per minibatch of a profile that does not say (PipeDream's)
    input_dtype: str | None = None  # the model input's dtype on the wire; None: the model's

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        for rate in self.uplink:
            problem = range_problem(rate, BANDWIDTH, "a bandwidth")
            if problem:
                raise SettingError("uplink", problem, rate)
        if self.objective not in tuple(SplitObjective):
            raise SettingError("objective", "expected latency or energy", self.objective)
        for setting in ("compute_power", "transmit_power", "idle_power"):
            value = getattr(self, setting)
            if value is not None and not (math.isfinite(value) and 0 <= value <= POWER.high):
                raise SettingError(setting, f"expected a power from 0 W to {POWER.show(POWER.high)}", value)
        if self.wants_power() and (self.compute_power is None or self.transmit_power is None):
            raise SettingError(
                "compute_power", "energy needs `compute_power` and `transmit_power`", show_got=False
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise SettingError("batch_size", "expected a whole number >= 1", self.batch_size)
        check_input_dtype(self.input_dtype)

    def wants_power(self) -> bool:
        """True when the mobile's energy is asked for: the objective, or a power given."""
        return (
            self.objective == SplitObjective.energy
            or self.compute_power is not None
            or self.transmit_power is not None
        )


@dataclass(frozen=True)
class SplitChoice:
    """The best split at one uplink bandwidth, with the cloud-only and mobile-only extremes."""

    uplink_bytes_per_s: float
    best_split: str  # the last layer on the mobile; "(cloud-only)" or "(mobile-only)" at the ends
    split_index: int
    crossing_bytes: float
    latency_s: float
    cloud_only_latency_s: float
    mobile_only_latency_s: float
    energy_j: float | None  # the three energies: None without a power model
    cloud_only_energy_j: float | None
    mobile_only_energy_j: float | None

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "uplink_bytes_per_s": self.uplink_bytes_per_s,
            "best_split": self.best_split,
            "split_index": self.split_index,
            "crossing_bytes": self.crossing_bytes,
            "latency_s": self.latency_s,
            "cloud_only_latency_s": self.cloud_only_latency_s,
            "mobile_only_latency_s": self.mobile_only_latency_s,
        }
        if self.energy_j is not None:
            row |= {
                "energy_j": self.energy_j,
                "cloud_only_energy_j": self.cloud_only_energy_j,
                "mobile_only_energy_j": self.mobile_only_energy_j,
            }
        return row


@dataclass(frozen=True)
class EdgeSplitResult:
    """The best split per uplink bandwidth."""

    model: str
    device: str
    cloud: str
    objective: SplitObjective
    wan_latency_s: float
    power: Power | None
    choices: tuple[SplitChoice, ...]

    def to_dict(self) -> dict[str, Any]:
        p = self.power
        return {
            "model": self.model,
            "device": self.device,
            "cloud": self.cloud,
            "objective": SplitObjective(self.objective).value,
            "wan_latency_s": self.wan_latency_s,
            "power_w": None if p is None else {"compute": p.compute, "transmit": p.transmit, "idle": p.idle},
            "sweep": [choice.to_dict() for choice in self.choices],
            **band_fields(EDGE),
        }


def edge_split(model: ModelRef, options: EdgeSplitOptions | None = None) -> EdgeSplitResult:
    """Neurosurgeon's split of `model` (a CNN architecture or a layer profile) per uplink bandwidth."""
    import numpy as np

    from planner.cost.edge_baselines import cloud_device, wan_link
    from planner.cost.neurosurgeon import Power, split_sweep

    options = options or EdgeSplitOptions()
    options.check()
    edge = _edge_model(model, options)
    mobile = load_device(options.device)
    remote = load_cluster(options.cloud, setting="cloud")
    link = wan_link(remote)
    rates = list(options.uplink) or [link.effective_bandwidth]
    power = None
    if options.wants_power():
        assert options.compute_power is not None and options.transmit_power is not None  # check()
        power = Power(options.compute_power, options.transmit_power, options.idle_power)
    with setting_error("device"):
        sweep = split_sweep(edge, mobile, cloud_device(remote), link, np.array(rates), power)
    objective = SplitObjective(options.objective)
    return EdgeSplitResult(
        edge.name, mobile.name, remote.name, objective, link.latency, power, best_splits(sweep, objective)
    )


def best_splits(sweep: SplitSweep, objective: SplitObjective) -> tuple[SplitChoice, ...]:
    """Neurosurgeon's choice at each uplink: the split of least latency or energy (ties: the earliest)."""
    energy = sweep.energy_j
    choices = []
    for i, k in enumerate(int(k) for k in sweep.best(objective.value)):
        choices.append(
            SplitChoice(
                uplink_bytes_per_s=float(sweep.uplinks[i]),
                best_split=sweep.splits[k],
                split_index=k,
                crossing_bytes=float(sweep.crossing_bytes[k]),
                latency_s=float(sweep.latency_s[i, k]),
                cloud_only_latency_s=float(sweep.latency_s[i, 0]),
                mobile_only_latency_s=float(sweep.latency_s[i, -1]),
                energy_j=None if energy is None else float(energy[i, k]),
                cloud_only_energy_j=None if energy is None else float(energy[i, 0]),
                mobile_only_energy_j=None if energy is None else float(energy[i, -1]),
            )
        )
    return tuple(choices)


def _edge_model(model: ModelRef, options: EdgeSplitOptions) -> EdgeModel:
    """The EdgeModel of a CNN architecture, or of a layer profile (measured on `measured_on`)."""
    from planner.cost.edge_model import from_architecture, from_profile

    spec = load_model(model)
    name = spec_name(model, spec)
    if spec.spec == "llm":
        raise SpecError(name, "spec", "expected a CNN architecture or a layer profile", spec.spec)
    with model_error(name):
        if spec.spec == "cnn":
            return from_architecture(spec, options.input_dtype)
        where = options.measured_on or spec.measured_on
        origin = load_device(where, setting="measured_on") if where else None
        return from_profile(spec, measured_on=origin, samples=options.batch_size)
