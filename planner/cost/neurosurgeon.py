"""Neurosurgeon: the best layer at which to split a model between a mobile device and the cloud.

Source: Kang, Hauswald, Gao, Rovinski, Mudge, Mars, Tang, "Neurosurgeon: Collaborative Intelligence
Between the Cloud and Mobile Edge", ASPLOS 2017, Sec. 5: for each candidate split k the mobile runs
layers [0, k), uploads the data crossing the split, the cloud runs [k, n) and sends the result back;
Neurosurgeon picks the k with the lowest end-to-end latency, or the lowest mobile energy, for the
current uplink bandwidth. k = 0 is cloud-only (upload the input), k = n is mobile-only (nothing sent).

    latency(k) = Σ_{i<k} t_mobile(i) + [k < n]·(α + D_k / B_up + Σ_{i>=k} t_cloud(i) + α + R / B_down)
    energy(k)  = P_compute · Σ_{i<k} t_mobile(i) + [k < n]·P_transmit · D_k / B_up
                 + P_idle · (the time the mobile waits for the cloud and the download)

D_k: bytes crossing the split (EdgeModel.crossing_bytes), R: the result's bytes, α: the WAN latency.
Layer times: roofline (or rescaled measured times) per layer, planner.cost.edge_model. Vectorised over
uplink bandwidths: arrays are bandwidths × splits.

Units: seconds, bytes, bytes/s, watts, joules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.cost.edge_model import EdgeModel, FloatArray, layer_times
from planner.spec.hardware import Device, Link


@dataclass(frozen=True)
class Power:
    """The mobile's power while computing, transmitting and waiting (W)."""

    compute: float
    transmit: float
    idle: float = 0.0

    def __post_init__(self) -> None:
        if min(self.compute, self.transmit, self.idle) < 0:
            raise ValueError("powers must be >= 0 W")


@dataclass(frozen=True)
class SplitSweep:
    """Latency (s) and, with a power model, mobile energy (J) for every uplink × split."""

    splits: tuple[str, ...]  # split k named by the last layer on the mobile; k = 0, n: cloud-, mobile-only
    uplinks: FloatArray
    crossing_bytes: FloatArray
    latency_s: FloatArray  # uplinks × (n + 1)
    energy_j: FloatArray | None

    def best(self, objective: str = "latency") -> npt.NDArray[np.int64]:
        """Index of the best split for each uplink (ties: the earliest split, i.e. less on the mobile)."""
        table = self.latency_s if objective == "latency" else self.energy_j
        if table is None:
            raise ValueError("energy needs a power model")
        return np.argmin(table, axis=1)


def split_sweep(
    model: EdgeModel,
    mobile: Device,
    cloud: Device,
    link: Link,
    uplinks: npt.ArrayLike,
    power: Power | None = None,
) -> SplitSweep:
    """Latency (and energy) of every split for every uplink bandwidth (bytes/s, effective).

    `link` gives the WAN latency and the download bandwidth (effective).
    """
    up = np.atleast_1d(np.asarray(uplinks, dtype=float))
    if np.any(up <= 0):
        raise ValueError("uplink bandwidths must be > 0")
    n = model.size
    mobile_t = np.concatenate([[0.0], np.cumsum(layer_times(model, mobile))])  # layers [0, k)
    cloud_layers = layer_times(model, cloud)
    cloud_t = np.concatenate([np.cumsum(cloud_layers[::-1])[::-1], [0.0]])  # layers [k, n)
    crossing = np.array([model.crossing_bytes(k) for k in range(n + 1)])
    offload = np.arange(n + 1) < n
    result = float(model.output_bytes[-1])
    down = np.where(offload, link.latency + result / link.effective_bandwidth, 0.0)
    upload = np.where(offload, link.latency + crossing[None, :] / up[:, None], 0.0)
    latency = mobile_t[None, :] + upload + np.where(offload, cloud_t, 0.0)[None, :] + down[None, :]
    energy = None
    if power is not None:
        sending = np.where(offload, crossing[None, :] / up[:, None], 0.0)
        waiting = upload - sending + np.where(offload, cloud_t, 0.0)[None, :] + down[None, :]
        energy = power.compute * mobile_t[None, :] + power.transmit * sending + power.idle * waiting
    names = ("(cloud-only)", *model.names[:-1], "(mobile-only)")
    return SplitSweep(names, up, crossing, latency, energy)
