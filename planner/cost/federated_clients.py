"""Per-client times of a synchronous federated-learning round (FedAvg, FedProx; the round itself:
planner.cost.federated): t_k = download_k + u_k · step_k + upload_k, with u_k = E·n_k/B local steps
(McMahan et al., AISTATS 2017, Sec. 3).

* download / upload: the alpha-beta model, latency + bytes / (bandwidth · efficiency), per client link;
  downloads start together at the round's start, so where the fleet has a server link every one of the
  s selected clients gets at most the server's bandwidth / s (a fair share). Uploads end at different
  times and are not throttled by the server here (its ingress time is reported beside the round).
* step_k: forward + backward of one minibatch on the client's device (planner.cost.compute: roofline per
  layer; or FLOP / the class's measured `compute` speed), plus the optimizer update (memory-bound:
  parameters × planner.cost.memory.update_bytes_per_parameter / sustained memory bandwidth); a client's
  speed factor (fleet `vary`) divides the step.
* FedProx (Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020, Sec. 3): the local
  objective F_k(w) + (μ/2)‖w − w_t‖² adds one vector operation per step, g += μ(w − w_t): 3P FLOP, reading
  w, w_t and g and writing g (4P values), on the roofline. Its tolerance of partial work: with a deadline,
  a client that cannot finish its E epochs sends what it has done (at least one step);
  see planner.cost.federated.expected_round.
Units: seconds, bytes, FLOP, bytes/s, FLOP/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.cost.compute import LayerArrays, layer_times, roofline_time, sustained_memory_bandwidth
from planner.cost.memory import update_bytes_per_parameter
from planner.spec.fleet import Fleet, Members
from planner.spec.hardware import Device
from planner.spec.profile import DTYPE_BYTES

FloatArray = npt.NDArray[np.float64]
PROX_FLOPS_PER_PARAMETER = 3.0  # w − w_t, × μ, + g
PROX_VALUES_PER_PARAMETER = 4.0  # read w, w_t, g; write g


def local_steps(epochs: npt.ArrayLike, samples: npt.ArrayLike, batch: int) -> FloatArray:
    """Local SGD steps per round, u_k = E·n_k/B (McMahan et al. 2017, Sec. 3; a last partial batch counts
    as its fraction of a step)."""
    if batch < 1:
        raise ValueError(f"the local batch must be >= 1, got {batch}")
    return np.asarray(epochs, dtype=float) * np.asarray(samples, dtype=float) / batch


def transfer_time(size: npt.ArrayLike, bandwidth: npt.ArrayLike, latency: npt.ArrayLike) -> FloatArray:
    """Alpha-beta time of one message: latency + bytes / bandwidth (bandwidth already × efficiency)."""
    return np.asarray(latency, dtype=float) + np.asarray(size, dtype=float) / np.asarray(bandwidth, float)


def prox_time(parameters: int, dtype: str, device: Device) -> float:
    """FedProx's extra vector operation per step, g += μ(w − w_t) (Li et al. 2020, Sec. 3): the roofline of
    3P FLOP and 4P values of `dtype` moved."""
    flops = PROX_FLOPS_PER_PARAMETER * parameters
    moved = PROX_VALUES_PER_PARAMETER * parameters * DTYPE_BYTES[dtype]
    return float(roofline_time(flops, moved, device, dtype))


def step_time(
    arrays: LayerArrays,
    device: Device,
    dtype: str,
    batch: int,
    optimizer: str = "sgd",
    compute: float | None = None,
    prox: bool = False,
    measured_on: Device | None = None,
) -> float:
    """Seconds of one local step of `batch` samples: forward + backward + optimizer update (+ FedProx).

    Forward and backward: planner.cost.compute.layer_times (roofline per layer), or, when `compute` (a
    measured sustained FLOP/s) is given, the profile's FLOP × batch / compute. Update: memory-bound,
    parameters × update_bytes_per_parameter / sustained memory bandwidth (as planner.cost.data_parallel).
    """
    if compute is not None:
        if arrays.forward_flops is None or arrays.backward_flops is None:
            raise ValueError("a client class with a measured `compute` speed needs a model with FLOP counts")
        work = float(arrays.forward_flops.sum() + arrays.backward_flops.sum()) * batch / compute
    else:
        times = layer_times(arrays, device, dtype, batch, measured_on)
        work = float(times.forward.sum() + times.backward.sum())
    parameters = int(arrays.parameters.sum())
    update = parameters * update_bytes_per_parameter(dtype, optimizer) / sustained_memory_bandwidth(device)
    return work + update + (prox_time(parameters, dtype, device) if prox else 0.0)


@dataclass(frozen=True)
class Workload:
    """What a round asks of every client: E local epochs at batch B, the bytes it downloads (the global
    model) and uploads (its update, possibly compressed)."""

    epochs: float
    batch: int
    download_bytes: float
    upload_bytes: float
    dtype: str = "fp32"
    optimizer: str = "sgd"
    prox: bool = False

    def __post_init__(self) -> None:
        if not self.epochs > 0:
            raise ValueError(f"epochs must be > 0, got {self.epochs}")
        if self.batch < 1:
            raise ValueError(f"the local batch must be >= 1, got {self.batch}")
        if self.download_bytes < 0 or self.upload_bytes < 0:
            raise ValueError("message sizes must be >= 0")


@dataclass(frozen=True)
class ClientTimes:
    """Per-client seconds of one round, one entry per fleet member (Members order)."""

    class_index: npt.NDArray[np.int64]
    download_s: FloatArray
    compute_s: FloatArray
    upload_s: FloatArray
    step_s: FloatArray

    @property
    def total_s(self) -> FloatArray:
        """t_k = download + local training + upload."""
        return self.download_s + self.compute_s + self.upload_s

    @property
    def first_update_s(self) -> FloatArray:
        """The earliest a partial (FedProx) update can reach the server: download + one step + upload."""
        return self.download_s + np.minimum(self.step_s, self.compute_s) + self.upload_s


def class_step_times(
    fleet: Fleet, arrays: LayerArrays, work: Workload, measured_on: Device | None = None
) -> FloatArray:
    """Seconds per local step on each class's device (before the clients' speed factors)."""
    steps = []
    for c in fleet.classes:
        assert isinstance(c.device, Device), "resolve the fleet's devices first (catalog.build_spec)"
        try:
            steps.append(
                step_time(
                    arrays,
                    c.device,
                    work.dtype,
                    work.batch,
                    work.optimizer,
                    c.compute,
                    work.prox,
                    measured_on,
                )
            )
        except ValueError as exc:
            raise ValueError(f"class '{c.name}': {exc}") from None
    return np.array(steps, dtype=float)


def client_times(
    fleet: Fleet,
    members: Members,
    class_steps: FloatArray,
    work: Workload,
    concurrent_downloads: int = 1,
    epochs: npt.ArrayLike | None = None,
    goodput: float = 1.0,
) -> ClientTimes:
    """Download, training and upload seconds of every client for one round.

    `class_steps`: seconds per step on each class's device (class_step_times), divided by each client's
    speed factor. `concurrent_downloads`: the clients that download at once (the selected s), sharing the
    server's link fairly. `epochs`: per-client local epochs (FedProx's variable work), else work.epochs.
    `goodput`: the share of every link's bandwidth that carries new data (1 − p under retransmission of
    lost packets: planner.cost.federated_lossy).
    """
    cls = members.class_index
    down_bw = np.array([c.downlink.effective_bandwidth for c in fleet.classes])[cls] * members.bandwidth
    up_bw = np.array([c.uplink.effective_bandwidth for c in fleet.classes])[cls] * members.bandwidth
    down_lat = np.array([c.downlink.latency for c in fleet.classes])[cls]
    up_lat = np.array([c.uplink.latency for c in fleet.classes])[cls]
    if fleet.server is not None:
        if concurrent_downloads < 1:
            raise ValueError(f"concurrent downloads must be >= 1, got {concurrent_downloads}")
        share = fleet.server.link.effective_bandwidth / concurrent_downloads
        down_bw = np.minimum(down_bw, share)
        down_lat = down_lat + fleet.server.link.latency
        up_lat = up_lat + fleet.server.link.latency
    down_bw, up_bw = down_bw * goodput, up_bw * goodput
    step = class_steps[cls] / members.speed
    local = local_steps(work.epochs if epochs is None else epochs, members.samples, work.batch)
    return ClientTimes(
        class_index=cls,
        download_s=transfer_time(work.download_bytes, down_bw, down_lat),
        compute_s=local * step,
        upload_s=transfer_time(work.upload_bytes, up_bw, up_lat),
        step_s=step,
    )
