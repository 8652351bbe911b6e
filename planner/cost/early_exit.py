"""Early exits: expected latency and bytes sent when some samples leave the network early.

Sources:
* BranchyNet (Teerapittayanon, McDanel, Kung, ICPR 2016): side branches after some layers; a sample
  leaves at the first branch whose softmax entropy -Σ_c y_c log y_c is below that branch's threshold
  (Sec. III-B, Eq. 2); otherwise it continues to the final exit.
* DDNN (Teerapittayanon, McDanel, Kung, ICDCS 2017): the network is mapped onto end devices, an edge and
  the cloud; the devices' local exit classifies a sample from the aggregated class scores, and only
  samples that do not exit locally send their (binarised) features upward. Communication per end device
  and sample (Sec. IV-E, Eq. 1): c = 4·|C| + (1 - l)·f·o / 8 bytes, with |C| classes (a 4-byte float
  score each, always sent to the local aggregator), l the fraction exited locally, f filters and o the
  output size in bits of one filter of the last device layer (binarised: one bit per value).

Expected cost with exits 1..E (the last is the final classifier), exit fractions p_e (the fraction of all
samples leaving at exit e; they sum to 1): a sample leaving at exit e pays every stage up to e, every
branch classifier it evaluated (exits 1..e), and every transfer between tiers it crossed:
E[latency] = Σ_e p_e · (Σ_{i<=e} stage_i + Σ_{i<=e} branch_i + Σ_{i<=e} transfer_i + result_e), likewise
for bytes; result_e returns the answer of a sample that left at exit e on a remote tier.

Units: seconds, bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.cost.compute import roofline_time
from planner.cost.edge_model import EdgeModel, compute_dtype, layer_times, transfer_time
from planner.spec.hardware import Device, Link
from planner.spec.profile import DTYPE_BYTES

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Exit:
    """One exit: the stage before it (seconds from the previous exit), its branch classifier (seconds;
    0 for the final exit), the transfer a sample makes before this stage (seconds, bytes: 0 on the same
    tier), the fraction of all samples leaving here, and the delivery of this exit's result back to the
    user (seconds, bytes; only for the samples leaving here, e.g. from the cloud)."""

    name: str
    stage_s: float
    branch_s: float
    fraction: float
    transfer_s: float = 0.0
    transfer_bytes: float = 0.0
    result_s: float = 0.0
    result_bytes: float = 0.0


@dataclass(frozen=True)
class ExpectedCost:
    """Per-exit cumulative cost of the samples leaving there, and the expectation over samples."""

    names: tuple[str, ...]
    fractions: FloatArray
    latency_s: FloatArray
    bytes_sent: FloatArray

    @property
    def expected_latency_s(self) -> float:
        return float(self.fractions @ self.latency_s)

    @property
    def expected_bytes(self) -> float:
        return float(self.fractions @ self.bytes_sent)


def expected_cost(exits: list[Exit]) -> ExpectedCost:
    """Expected latency and bytes (module docstring). Raises ValueError unless fractions sum to 1."""
    if not exits:
        raise ValueError("give at least one exit (the final classifier)")
    fractions = np.array([e.fraction for e in exits], dtype=float)
    if np.any(fractions < 0) or abs(fractions.sum() - 1.0) > 1e-9:
        raise ValueError(f"exit fractions must be >= 0 and sum to 1, got {fractions.sum():.6g}")
    step = np.array([e.stage_s + e.branch_s + e.transfer_s for e in exits], dtype=float)
    sent = np.array([e.transfer_bytes for e in exits], dtype=float)
    result_s = np.array([e.result_s for e in exits], dtype=float)
    result_bytes = np.array([e.result_bytes for e in exits], dtype=float)
    return ExpectedCost(
        tuple(e.name for e in exits), fractions, np.cumsum(step) + result_s, np.cumsum(sent) + result_bytes
    )


def entropy(probabilities: npt.ArrayLike) -> FloatArray:
    """BranchyNet's exit criterion: -Σ_c y_c log y_c over the last axis (nats); 0·log 0 = 0."""
    y = np.asarray(probabilities, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y > 0, y * np.log(y), 0.0)
    return np.maximum(-terms.sum(axis=-1), 0.0)


def exit_fractions(entropies: npt.ArrayLike, thresholds: npt.ArrayLike) -> FloatArray:
    """Fraction of samples leaving at each exit, from per-sample entropies at every branch.

    `entropies` is samples × branches (the early exits only); a sample leaves at the first branch whose
    entropy is below its threshold, else at the final exit. Returns branches + 1 fractions summing to 1.
    """
    h = np.atleast_2d(np.asarray(entropies, dtype=float))
    t = np.asarray(thresholds, dtype=float)
    if h.shape[1] != t.shape[0]:
        raise ValueError(f"{h.shape[1]} branches of entropies but {t.shape[0]} thresholds")
    leaves = h < t
    first = np.where(leaves.any(axis=1), leaves.argmax(axis=1), h.shape[1])
    return np.bincount(first, minlength=h.shape[1] + 1) / h.shape[0]


def ddnn_device_bytes(classes: int, local_exit: float, filters: int, filter_bits: int) -> float:
    """DDNN's communication per end device and sample (Eq. 1): 4|C| + (1 - l)·f·o/8 bytes."""
    if not 0 <= local_exit <= 1:
        raise ValueError(f"the local exit fraction must be in [0, 1], got {local_exit}")
    return 4.0 * classes + (1.0 - local_exit) * filters * filter_bits / 8.0


def ddnn_reduction(
    raw_bytes: float, classes: int, local_exit: float, filters: int, filter_bits: int
) -> float:
    """How many times fewer bytes a DDNN end device sends than offloading its raw input."""
    return raw_bytes / ddnn_device_bytes(classes, local_exit, filters, filter_bits)


@dataclass(frozen=True)
class Tier:
    """One tier of a DDNN hierarchy: its compute time per sample, the fraction of samples that exit at
    it (of all samples), and the link time and bytes a sample's data takes to reach it from below."""

    name: str
    compute_s: float
    exit_fraction: float
    uplink_s: float = 0.0
    uplink_bytes: float = 0.0


def hierarchy_cost(tiers: list[Tier]) -> ExpectedCost:
    """Device -> edge -> cloud (DDNN, Sec. III): a sample runs every tier up to the one it exits at,
    crossing the links in between; the last tier takes the rest. Expected latency and bytes."""
    return expected_cost(
        [Exit(t.name, t.compute_s, 0.0, t.exit_fraction, t.uplink_s, t.uplink_bytes) for t in tiers]
    )


def branch_flops(shape: tuple[int, ...], classes: int) -> float:
    """FLOP of a minimal exit branch on a layer output of `shape`: global average pooling (one add per
    element) and a linear classifier to `classes` scores (2·C·classes + classes for the bias)."""
    channels = shape[0]
    return float(np.prod(shape)) + 2.0 * channels * classes + classes


def model_exits(
    model: EdgeModel,
    device: Device,
    exits: list[tuple[str, float]],
    classes: int,
    cloud: Device | None = None,
    link: Link | None = None,
    offload_after: str | None = None,
) -> list[Exit]:
    """BranchyNet exits on a catalog CNN run on `device`, optionally offloading the layers after
    `offload_after` to `cloud` over `link` (the crossing bytes once, for the samples that get there).

    `exits` are (layer, fraction) in layer order; the final classifier takes the remaining fraction.
    Branch time: branch_flops on the tier that runs the layer (roofline, compute-bound estimate with
    its weights streamed once). Raises ValueError for an unknown layer, out-of-order exits or fractions
    that exceed 1.
    """
    if model.shapes_out is None:
        raise ValueError(f"{model.name} has no layer shapes: exit branches need a CNN architecture")
    positions = [model.index(name) for name, _ in exits]
    if positions != sorted(set(positions)):
        raise ValueError("exits must be distinct layers in network order")
    if positions and positions[-1] >= model.size - 1:
        raise ValueError("an early exit must come before the last layer (the final exit is implied)")
    rest = 1.0 - sum(fraction for _, fraction in exits)
    if rest < -1e-12 or any(fraction < 0 for _, fraction in exits):
        raise ValueError("exit fractions must be >= 0 and sum to at most 1")
    cut = model.size if offload_after is None else model.index(offload_after) + 1
    if offload_after is not None and (cloud is None or link is None):
        raise ValueError("offloading needs a cloud device and a link")
    per_layer_device = layer_times(model, device)
    per_layer_cloud = layer_times(model, cloud) if cloud is not None else per_layer_device
    times = np.where(np.arange(model.size) < cut, per_layer_device, per_layer_cloud)
    bounds = [*(p + 1 for p in positions), model.size]
    names = [*(name for name, _ in exits), "final"]
    fractions = [*(fraction for _, fraction in exits), max(rest, 0.0)]
    out, start = [], 0
    answer = 4.0 * classes  # one fp32 score per class comes back from the cloud
    for name, stop, fraction in zip(names, bounds, fractions, strict=True):
        crossing = start <= cut < stop  # this stage's samples cross to the cloud before its layer `cut`
        nbytes = model.crossing_bytes(cut) if crossing else 0.0
        transfer = float(transfer_time(nbytes, link)) if crossing and link is not None else 0.0
        branch = 0.0
        if name != "final":
            tier = device if stop <= cut else cloud
            assert tier is not None
            shape = model.shapes_out[stop - 1]
            flops = branch_flops(shape, classes)
            weights = (shape[0] * classes + classes) * DTYPE_BYTES[model.dtype]
            moved = weights + float(model.output_bytes[stop - 1])
            branch = float(roofline_time(flops, moved, tier, compute_dtype(model, tier)))
        remote = stop > cut and link is not None
        back = float(transfer_time(answer, link)) if remote and link is not None else 0.0
        out.append(
            Exit(
                name,
                float(times[start:stop].sum()),
                branch,
                fraction,
                transfer,
                nbytes,
                back,
                answer if remote else 0.0,
            )
        )
        start = stop
    return out
