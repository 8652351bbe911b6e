"""Inter-stage transfers as a pipeline runtime makes them: PipeDream's Gloo path staged through host memory.

The native model (planner.cost.cut_links) moves a stage's activations GPU to GPU over the link between the
two devices. PipeDream's runtime (msr-fiddle/pipedream, runtime/communication.py, the SOSP 2019 artifact;
every *_pipedream.yml driver config sets 'distributed_backend': 'gloo') does not:

* Between servers (`_send`, lines 683-712): a helper thread per tensor and direction calls `tensor.cpu()`
  (a copy into pageable host memory), sends the shape and then the tensor with `dist.send` (Gloo, TCP);
  the receiver's helper thread `dist.recv`s into a pageable CPU tensor and calls `.cuda()` (lines 665-678).
  Both copies run on the thread's current stream, PyTorch's default stream (the legacy default stream,
  which orders them with the compute kernels the main thread queued: CUDA C Programming Guide, "Implicit
  Synchronization"), so they take the GPU from the stage's compute: `serial_copy_s`.
* Inside a server (`num_ranks_in_server` = the GPUs per machine, runtime/driver.py lines 291-296): a
  `dist.broadcast` of the CUDA tensor in a two-rank Gloo group (lines 688-701). ProcessGroupGloo's
  AsyncBroadcastCUDAWork (PyTorch 1.x, torch/lib/c10d/ProcessGroupGloo.cpp) copies it into pinned host
  memory on a side stream, waits for the copy, runs gloo::broadcast on the host tensor over TCP, then
  copies it back to the GPU on a side stream: the GPUs' own link (PCIe peer, NVLink) carries nothing.
  The side-stream copies overlap compute.

The wire is the catalog's link at its sustained rate: one Gloo TCP connection reaches a NIC's line rate
with segmentation offload (gloo docs/latency.md: "10Gb/s without TSO at 100% CPU usage versus 40Gb/s
(line rate) with TSO"); Gloo publishes no throughput measurement of its own.
Each helper thread moves one message at a time (a blocking send / broadcast), so a cut's message takes
device-to-host copy + wire + host-to-device copy in series; the threads overlap the stages' compute
(communication is a pipeline term of its own, as planner.cost.cut_links has it). `staged_cluster` gives
each level's link that per-byte time: a/H + a/(bandwidth · efficiency) + a/H between servers (H the
device's host link), two messages' latency (the shape, then the tensor); inside a server 2a/H, the TCP
hop through the loopback interface not charged (no measured rate: a lower bound). Copies are charged at
the host link's datasheet rate, an upper bound on what a (pageable) copy reaches, so every added term is
a lower bound. Units: seconds, bytes, bytes/s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.cost.collective_transports import lookup
from planner.spec.hardware import Cluster, Level

Array = NDArray[np.float64]


@dataclass(frozen=True)
class StageTransport:
    """How a runtime moves activations between stages: staged through host memory over a host link."""

    name: str
    host_bandwidth: float  # bytes/s per direction of the device's host link (datasheet)
    messages: int  # messages per tensor transfer (each pays the link's latency)
    source: str


# Both Table 1 clusters' V100s reach the host over PCIe 3.0 x16: NVIDIA Tesla V100 datasheet ("Interconnect
# Bandwidth ... PCIe 32 GB/s", both directions, PCIe and SXM2 boards); 8 GT/s x 128/130 x 16 lanes / 8 =
# 15.75 GB/s per direction (PCI-SIG PCIe 3.0 base specification), the figure the catalog's
# pipedream-cluster-a PCIe link uses. Two messages: `_send` sends the shape, then the tensor.
GLOO_HOST_STAGED = StageTransport(
    "gloo-host-staged",
    15.75e9,
    2,
    "msr-fiddle/pipedream runtime/communication.py _send/_recv (tensor.cpu(), dist.send, .cuda()); "
    "PCIe 3.0 x16 host link, 15.75 GB/s per direction (V100 datasheet, PCIe 3.0 spec)",
)

STAGE_TRANSPORTS: dict[str, StageTransport] = {GLOO_HOST_STAGED.name: GLOO_HOST_STAGED}


def stage_transport(name: str) -> StageTransport:
    """The registered stage transport called `name`; ValueError naming the choices otherwise."""
    return lookup(STAGE_TRANSPORTS, name, "stage transport")


def staged_cluster(cluster: Cluster, name: str) -> Cluster:
    """`cluster` with each link's sustained rate and latency those of a staged transfer over it (module doc):
    the innermost level 1 / (2 / H), the levels above 1 / (1 / (bandwidth · efficiency) + 2 / H), every
    latency times the messages per transfer. For the cut terms only: collectives keep the cluster."""
    staging = stage_transport(name)
    copies = 2.0 / staging.host_bandwidth  # seconds per byte: device to host, then host to device

    def staged(level: Level, wire: float) -> Level:
        link = replace(
            level.link,
            bandwidth=1.0 / (wire + copies),
            efficiency=1.0,
            latency=level.link.latency * staging.messages,
            name=f"{level.link.name} via host ({staging.name})",
        )
        return replace(level, link=link)

    inner, *outer = cluster.levels
    between = tuple(staged(level, 1.0 / level.link.effective_bandwidth) for level in outer)
    return replace(cluster, levels=(staged(inner, 0.0), *between))


def cross_server_share(first: int, offset: int, end: int, per_server: int) -> tuple[float, float]:
    """For stage A on devices [first, offset) and stage B on [offset, end) (devices fill servers of
    `per_server` in order), the share of its minibatches whose transfer crosses servers, for A's and for
    B's worst replica: the partner picked uniformly from the other stage (round-robin, as
    planner.cost.cut_links approximates it)."""

    def worst(senders: range, partners: range) -> float:
        def on_server(device: int) -> int:
            server = device // per_server
            lo, hi = server * per_server, (server + 1) * per_server
            return max(0, min(hi, partners.stop) - max(lo, partners.start))

        return max(1.0 - on_server(device) / len(partners) for device in senders)

    a, b = range(first, offset), range(offset, end)
    return worst(a, b), worst(b, a)


def serial_copy_s(activation_bytes: Any, share: float, name: str) -> Array:
    """Seconds per minibatch a replica's GPU spends on the pageable copies of one cut's transfers between
    servers, taken from its compute (module doc): two copies of `activation_bytes` (its activations or
    gradients out, the other direction's in) at the host link's rate, for `share` of its minibatches."""
    staging = stage_transport(name)
    return 2.0 * np.asarray(activation_bytes, dtype=float) * share / staging.host_bandwidth
