"""MoDNN: a CNN partitioned layer by layer over a few mobile devices, in proportion to their speed.

Source: Mao, Chen, Nixon, Krieger, Chen, "MoDNN: Local Distributed Mobile Computing System for Deep
Neural Network", DATE 2017 (abstract, seed lecture): a Group Owner (GO) partitions each layer over the
worker nodes (itself included) and collects the results; convolutions by the Biased One-Dimensional
Partition (BODP: bands of rows sized in proportion to each worker's computing capability), fully
connected layers by splitting their output neurons (and weights) the same way; the data delivery time
(wake-up and transmission, serialised at the GO) is not parallel.

Model, layer group by layer group (a conv or fc layer with the light layers that follow it):

* delivery in: the GO sends each other worker k its share s_k of the group's input (conv: a band plus
  halo rows; fc: the whole input vector, unicast): (1 - s_0)·X + halo bytes, or (N - 1)·X for fc, or
  the inputs a sparse fc layer's partition makes the workers receive (`fc_bytes_in`, by layer name:
  planner.cost.modnn_mscc, MSCC or the 1-D split; its compute stays the dense share, sparse kernels are
  not modelled);
* compute: every worker runs its share of the group's layers; the group takes the slowest worker's
  time (roofline per layer; a conv band reads all weights, an fc slice only its share of them);
* delivery out: the others return their shares of the group's output, (1 - s_0)·Y;
* transfers serialise at the GO (its link, or the shared medium): bytes / effective bandwidth plus one
  latency per message, 2(N - 1) messages per group. Nothing overlaps (layer-synchronous).

Layers before the first conv / fc layer run on the GO alone. `partition="2d"` replaces the bands by a
near-square grid of tiles (more halo, the alternative MoDNN compares BODP against). Speedup = the GO's
time for the whole model alone / the partitioned time.

Units: bytes, seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from planner.cost.compute import forward_bytes, roofline_time, sustained_compute
from planner.cost.edge_model import EdgeModel, compute_dtype, layer_times, model_time
from planner.cost.edge_tiles import halo_bytes, near_square
from planner.spec.hardware import Device, Link


@dataclass(frozen=True)
class GroupCost:
    """One layer group: its heavy layer, bytes delivered in and out, compute and delivery seconds."""

    layer: str
    kind: str  # conv, fc or local (run on the GO alone)
    bytes_in: float
    bytes_out: float
    compute_s: float
    delivery_s: float


@dataclass(frozen=True)
class MoDNNResult:
    workers: int
    shares: tuple[float, ...]
    single_s: float
    groups: tuple[GroupCost, ...]

    @property
    def compute_s(self) -> float:
        return sum(g.compute_s for g in self.groups)

    @property
    def delivery_s(self) -> float:
        return sum(g.delivery_s for g in self.groups)

    @property
    def total_s(self) -> float:
        return self.compute_s + self.delivery_s

    @property
    def speedup(self) -> float:
        return self.single_s / self.total_s

    def to_dict(self) -> dict[str, object]:
        return {
            "workers": self.workers,
            "shares": list(self.shares),
            "single_device_s": self.single_s,
            "compute_s": self.compute_s,
            "delivery_s": self.delivery_s,
            "total_s": self.total_s,
            "speedup": self.speedup,
            "delivered_bytes": sum(g.bytes_in + g.bytes_out for g in self.groups),
        }


def speed_shares(devices: list[Device], dtype: str) -> np.ndarray:
    """BODP's bias: each worker's share of every layer in proportion to its sustained FLOP/s."""
    speeds = np.array([sustained_compute(d, dtype) for d in devices])
    return speeds / speeds.sum()


def _groups(model: EdgeModel) -> list[tuple[int, int, str]]:
    """(start, stop, kind) runs of layers: each conv / fc layer opens a group."""
    heavy = [i for i, op in enumerate(model.ops) if op.startswith(("Conv2d", "Linear"))]
    out: list[tuple[int, int, str]] = []
    if not heavy or heavy[0] > 0:
        out.append((0, heavy[0] if heavy else model.size, "local"))
    for n, start in enumerate(heavy):
        stop = heavy[n + 1] if n + 1 < len(heavy) else model.size
        out.append((start, stop, "conv" if model.ops[start].startswith("Conv2d") else "fc"))
    return out


def _fc_time(model: EdgeModel, device: Device, share: float, sel: slice) -> float:
    """A slice of `share` of the output neurons: share of the FLOP, of the weights and of the output."""
    dtype = compute_dtype(model, device)
    moved = forward_bytes(
        model.weight_bytes[sel] * share, model.input_bytes[sel], model.output_bytes[sel] * share
    )
    return float(roofline_time(model.flops[sel] * share, moved, device, dtype).sum())


def modnn(
    model: EdgeModel,
    devices: list[Device],
    link: Link,
    partition: str = "1d",
    fc_bytes_in: Mapping[str, float] | None = None,
) -> MoDNNResult:
    """MoDNN's latency for `model` over `devices` (the first is the Group Owner) on `link`;
    `fc_bytes_in` replaces the whole-input delivery of the fc layers it names."""
    if not devices:
        raise ValueError("MoDNN needs at least one worker")
    if partition not in ("1d", "2d"):
        raise ValueError(f"partition must be 1d (BODP) or 2d (grid), got '{partition}'")
    if model.shapes_out is None:
        raise ValueError(f"{model.name} has no layer shapes: MoDNN's partition needs a CNN architecture")
    if model.measured_time is not None:
        raise ValueError("MoDNN needs FLOP per layer (a CNN architecture), not measured times")
    n = len(devices)
    shares = speed_shares(devices, compute_dtype(model, devices[0]))
    rate = link.effective_bandwidth
    spatial_end = max(i for i in range(model.size) if model.is_spatial(i))
    if n > 1:
        grid = (n, 1) if partition == "1d" else near_square(n)
        halos = halo_bytes(model, spatial_end, *grid)
    else:
        halos = np.zeros(spatial_end + 1)
    groups = []
    for start, stop, kind in _groups(model):
        sel = slice(start, stop)
        if kind == "local" or n == 1:
            compute = model_time(model, devices[0], start, stop)
            groups.append(GroupCost(model.names[start], "local", 0.0, 0.0, compute, 0.0))
            continue
        x, y = float(model.input_bytes[start]), float(model.output_bytes[stop - 1])
        if kind == "conv":
            compute = max(
                float(layer_times(model, d, s, sel).sum()) for d, s in zip(devices, shares, strict=True)
            )
            bytes_in = (1.0 - shares[0]) * x + float(halos[start])
        else:
            compute = max(_fc_time(model, d, s, sel) for d, s in zip(devices, shares, strict=True))
            bytes_in = (fc_bytes_in or {}).get(model.names[start], (n - 1) * x)
        bytes_out = (1.0 - shares[0]) * y
        delivery = 2 * (n - 1) * link.latency + (bytes_in + bytes_out) / rate
        groups.append(GroupCost(model.names[start], kind, bytes_in, bytes_out, compute, delivery))
    return MoDNNResult(n, tuple(float(s) for s in shares), model_time(model, devices[0]), tuple(groups))
