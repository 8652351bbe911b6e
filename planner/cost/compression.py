"""Deep Gradient Compression (Lin, Han, Mao, Wang & Dally, ICLR 2018): sparse gradient traffic, when it pays.

Units: elements (counts), bytes, bytes/s, seconds.

DGC sends only the top s (density, e.g. 0.001 = 0.1 %) of each gradient tensor by magnitude and keeps the
rest in a local accumulator that is added to the next gradient (Lin et al. 2018, Sec. 3.1), so every
element is eventually sent. The reference implementation (synxlin/deep-gradient-compression,
train.py) sparsifies only tensors with more than one dimension (convolution and linear weights); the
1-D tensors (biases, batch-norm scale and shift) are all-reduced dense. Each sparsified tensor keeps
ceil(numel * s) elements (dgc/compression.py `num_selects`).

A kept element costs its value plus its position. Encodings (`ENCODINGS`):

* ``coo32``: value + 32-bit index (8 bytes per fp32 element; the reference code's `int32_indices`);
* ``coo64``: value + 64-bit index (12 bytes; the reference code's default, torch's int64 indices);
* ``delta16``: value + the 16-bit gap to the previous kept element (run-length / delta coding, Lin et al.
  2018, Sec. 1: "run-length encoding"); a gap of 65,536 or more needs one more 16-bit escape word. With
  kept positions spread at random the gaps are geometric, P(gap > 65,535) = q = (1-s)^65536, and the
  expected escapes per element are q / (1-q): negligible at s = 0.001 (q ~ 3e-29), one word at s ~ 1e-5;
* ``bitmap``: value per kept element + one bit per element of the tensor (ceil(numel / 8) bytes).

Which one the paper used is not stated. The paper's ResNet-50 example, 97 MB -> 0.35 MB (its MB are
MiB: 25,557,032 fp32 values = 97.49 MiB), is reproduced by s = 0.001 on the 4-D weights, fp32 values with
16-bit delta-coded positions (6 bytes per kept element) and the 53,120 batch-norm and 1,000 bias elements
sent dense: 0.352 MiB, 277x. With 32-bit indices (8 bytes) the same density gives 0.40 MiB (244x), with
values only 0.30 MiB.

Sparse gradients of different workers keep different positions, so they cannot be summed in place by a
ring all-reduce: DGC all-gathers them (every worker receives the other N-1 sparse messages, traffic that
grows with N), or a parameter server sums them and returns the union, whose density 1 - (1-s)^N also
grows with N. Compression pays when the all-gather of N-1 small messages beats the dense ring all-reduce:
below a bandwidth and below a number of workers (`break_even_bandwidth`, `break_even_devices`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner.cost.collective_layout import ring_link
from planner.cost.collectives import ring_allgather_time, ring_allreduce_time
from planner.limits import FRACTION
from planner.spec.hardware import Cluster

ENCODINGS: tuple[str, ...] = ("delta16", "coo32", "coo64", "bitmap")
GAP_LIMIT = 65536  # a 16-bit gap covers 0..65535

Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def kept_elements(tensor_elements: ArrayLike, density: ArrayLike) -> Array:
    """Elements DGC sends per tensor: ceil(numel * s) (the reference code's `num_selects`)."""
    n, s = (np.asarray(v, dtype=np.float64) for v in (tensor_elements, density))
    return np.ceil(n * s - 1e-9)


def escape_words_per_element(density: ArrayLike) -> Array:
    """Expected extra 16-bit words per kept element in delta16: q / (1 - q), q = (1 - s)^65536.

    Gaps between kept positions spread at random are geometric with mean 1/s; a gap of j * 65536 or more
    needs j escape words, so the expectation is sum_j q^j = q / (1 - q).
    """
    s = np.asarray(density, dtype=np.float64)
    q = np.exp(GAP_LIMIT * np.log1p(-np.minimum(s, 1.0 - 1e-16)))
    return q / (1.0 - q)


def sparse_bytes(
    tensor_elements: ArrayLike, density: ArrayLike, value_bytes: float = 4.0, encoding: str = "delta16"
) -> Array:
    """Bytes of one worker's sparse message for each tensor (elementwise over tensors and densities)."""
    n = np.asarray(tensor_elements, dtype=np.float64)
    kept = kept_elements(n, density)
    if encoding == "delta16":
        return kept * (value_bytes + 2.0 * (1.0 + escape_words_per_element(density)))
    if encoding == "coo32":
        return kept * (value_bytes + 4.0)
    if encoding == "coo64":
        return kept * (value_bytes + 8.0)
    if encoding == "bitmap":
        return kept * value_bytes + np.ceil(n / 8.0)
    raise ValueError(f"unknown encoding '{encoding}'; expected one of {', '.join(ENCODINGS)}")


@dataclass(frozen=True)
class GradientTensors:
    """A model's gradient as DGC sees it: tensors it sparsifies (sizes) and 1-D elements it sends dense."""

    sparse: tuple[int, ...]
    dense: int
    note: str = ""

    @property
    def elements(self) -> int:
        return sum(self.sparse) + self.dense


def gradient_tensors(model: Any) -> GradientTensors:
    """Split a catalog model's parameters into DGC-sparsified tensors and dense 1-D ones.

    CNN architecture: each conv / linear weight is one sparsified tensor; biases (parameters - MACs per
    output position) and batch-norm parameters are dense. Measured profile: each layer's parameters as one
    tensor (no 1-D split known). LLM: each part of the parameter breakdown as one tensor, norms dense
    (biases, if any, are counted with their matrices).
    """
    if model.spec == "cnn":
        from planner.cost.layers import derive_layers

        sparse: list[int] = []
        dense = 0
        for layer in derive_layers(model):
            if layer.macs > 0:
                positions = math.prod(layer.output_shape[1:]) if len(layer.output_shape) > 1 else 1
                weights = layer.macs // positions
                sparse.append(weights)
                dense += layer.parameters - weights
            else:
                dense += layer.parameters
        return GradientTensors(tuple(sparse), dense, "weights sparsified; biases and batch norm dense")
    if model.spec == "llm":
        from planner.cost.transformer import parameter_breakdown

        parts = parameter_breakdown(model)
        sizes = tuple(int(v) for k, v in parts.items() if k != "norms" and v > 0)
        return GradientTensors(sizes, int(parts.get("norms", 0)), "norms dense; each part one tensor")
    sizes = tuple(layer.parameters for layer in model.layers if layer.parameters > 0)
    return GradientTensors(sizes, 0, "each layer's parameters one sparsified tensor (no 1-D split known)")


@dataclass(frozen=True)
class CompressedGradient:
    """One worker's DGC message (bytes) next to the dense gradient."""

    dense_gradient_bytes: float
    sparse_bytes: float  # the encoded top-s part
    dense_part_bytes: float  # 1-D tensors sent dense
    density: float
    encoding: str

    @property
    def message_bytes(self) -> float:
        return self.sparse_bytes + self.dense_part_bytes

    @property
    def ratio(self) -> float:
        """Dense gradient bytes / compressed message bytes."""
        return self.dense_gradient_bytes / self.message_bytes if self.message_bytes > 0 else math.inf


def compress(
    tensors: GradientTensors, density: float, value_bytes: float = 4.0, encoding: str = "delta16"
) -> CompressedGradient:
    """DGC message of a model's gradient at `density` with `value_bytes`-byte values."""
    if density not in FRACTION:  # below 1e-6 the escape words' q / (1 - q) overflowed
        raise ValueError(f"density must be {FRACTION.text()}, got {density}")
    sparse = float(
        np.sum(sparse_bytes(np.asarray(tensors.sparse, dtype=np.float64), density, value_bytes, encoding))
    )
    return CompressedGradient(
        dense_gradient_bytes=tensors.elements * value_bytes,
        sparse_bytes=sparse,
        dense_part_bytes=tensors.dense * value_bytes,
        density=density,
        encoding=encoding,
    )


# ------------------------------------------------------------------------------------------------------
# Time: sparse all-gather (+ dense ring of the 1-D part) vs dense ring all-reduce; vectorised
# ------------------------------------------------------------------------------------------------------


def dgc_allgather_time(
    sparse_bytes: ArrayLike,
    dense_part_bytes: ArrayLike,
    devices: ArrayLike,
    bandwidth: ArrayLike,
    latency: ArrayLike = 0.0,
) -> Array:
    """DGC synchronisation time (s): ring all-gather of the S-byte sparse messages, (N-1)(alpha + S/B), plus
    a ring all-reduce of the D dense bytes when there are any (Thakur et al. 2005 for both rings).
    Every worker receives (N-1) S bytes: the sparse traffic grows linearly with N."""
    s, d, n, b, a = (
        np.asarray(v, dtype=np.float64) for v in (sparse_bytes, dense_part_bytes, devices, bandwidth, latency)
    )
    dense = np.where(d > 0, ring_allreduce_time(d, n, b, a), 0.0)
    return ring_allgather_time(s, n, b, a) + dense


def _linear_terms(
    dense_bytes: Array, sparse: Array, dense_part: Array, n: Array
) -> tuple[Array, Array, Array, Array]:
    """Times as a + b / B: (a_dense, b_dense, a_dgc, b_dgc), latency counts in units of alpha."""
    a_dense = 2.0 * (n - 1.0)
    b_dense = 2.0 * (n - 1.0) / n * dense_bytes
    a_dgc = (n - 1.0) + np.where(dense_part > 0, 2.0 * (n - 1.0), 0.0)
    b_dgc = (n - 1.0) * sparse + 2.0 * (n - 1.0) / n * dense_part
    return a_dense, b_dense, a_dgc, b_dgc


def break_even_bandwidth(
    dense_bytes: ArrayLike,
    sparse_bytes: ArrayLike,
    dense_part_bytes: ArrayLike,
    devices: ArrayLike,
    latency: ArrayLike,
) -> tuple[Array, BoolArray]:
    """Bandwidth B* (bytes/s) at which DGC's all-gather time equals the dense ring's, and whether DGC pays
    below it (True) or above it (False).

    Both times are alpha-terms + bytes / B (`dgc_allgather_time`, `ring_allreduce_time`), so they cross
    once: B* = (b_dense - b_dgc) / (alpha (a_dgc - a_dense)). NaN when they never cross: then DGC either
    always or never pays (see `dgc_pays`).
    """
    g, s, d, n, a = (
        np.asarray(v, dtype=np.float64)
        for v in (dense_bytes, sparse_bytes, dense_part_bytes, devices, latency)
    )
    a_dense, b_dense, a_dgc, b_dgc = _linear_terms(g, s, d, n)
    # equal byte terms (e.g. N = 2 G / S without a dense part) differ only by round-off: no crossing
    tie = np.abs(b_dense - b_dgc) <= 1e-12 * np.maximum(np.abs(b_dense), np.abs(b_dgc))
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = (b_dense - b_dgc) / (a * (a_dgc - a_dense))
    valid = np.isfinite(crossing) & (crossing > 0) & ~tie
    return np.where(valid, crossing, np.nan), b_dense > b_dgc


def break_even_devices(
    dense_bytes: ArrayLike,
    sparse_bytes: ArrayLike,
    dense_part_bytes: ArrayLike,
    bandwidth: ArrayLike,
    latency: ArrayLike,
) -> Array:
    """Workers N* below which DGC's all-gather beats the dense ring at bandwidth B (inf: always).

    Dividing both times by (N - 1): 2 alpha + 2G/(N B) > alpha (1 + 2[D > 0]) + S/B + 2D/(N B), i.e.
    N < N* = 2 (G - D) / (S + alpha B (2[D > 0] - 1)). The dense ring's per-worker bytes fall towards 2G
    while the all-gather's grow as (N - 1) S: with S = G / 277, N* is a few hundred at high bandwidth.
    """
    g, s, d, b, a = (
        np.asarray(v, dtype=np.float64)
        for v in (dense_bytes, sparse_bytes, dense_part_bytes, bandwidth, latency)
    )
    denominator = s + a * b * np.where(d > 0, 1.0, -1.0)
    with np.errstate(divide="ignore"):
        return np.where(denominator > 0, 2.0 * (g - d) / denominator, np.inf)


def dgc_pays(
    dense_bytes: ArrayLike,
    sparse_bytes: ArrayLike,
    dense_part_bytes: ArrayLike,
    devices: ArrayLike,
    bandwidth: ArrayLike,
    latency: ArrayLike = 0.0,
) -> BoolArray:
    """True where DGC's all-gather is faster than the dense ring all-reduce."""
    g, s, d, n, b, a = (
        np.asarray(v, dtype=np.float64)
        for v in (dense_bytes, sparse_bytes, dense_part_bytes, devices, bandwidth, latency)
    )
    return dgc_allgather_time(s, d, n, b, a) < ring_allreduce_time(g, n, b, a)


@dataclass(frozen=True)
class CompressionComparison:
    """DGC vs the dense ring all-reduce on one cluster (SI units)."""

    devices: int
    message: CompressedGradient
    dense_ring_time_s: float
    dgc_time_s: float
    latency_s: float  # of the ring step on the cluster
    bandwidth_bytes_per_s: float  # of the ring step's slowest hop
    break_even_bandwidth_bytes_per_s: float | None
    pays_below_bandwidth: bool
    break_even_devices: float | None
    notes: str

    @property
    def speedup(self) -> float:
        return self.dense_ring_time_s / self.dgc_time_s if self.dgc_time_s > 0 else 1.0

    def to_dict(self) -> dict[str, object]:
        m = self.message
        return {
            "devices": self.devices,
            "density": m.density,
            "encoding": m.encoding,
            "dense_gradient_bytes": m.dense_gradient_bytes,
            "message_bytes": m.message_bytes,
            "sparse_bytes": m.sparse_bytes,
            "dense_part_bytes": m.dense_part_bytes,
            "compression_ratio": m.ratio,
            "dense_ring_time_s": self.dense_ring_time_s,
            "dgc_time_s": self.dgc_time_s,
            "speedup": self.speedup,
            "ring_step_latency_s": self.latency_s,
            "ring_step_bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "break_even_bandwidth_bytes_per_s": self.break_even_bandwidth_bytes_per_s,
            "pays_below_break_even_bandwidth": self.pays_below_bandwidth,
            "break_even_devices": self.break_even_devices,
            "notes": self.notes,
        }


def compare_on_cluster(
    cluster: Cluster, message: CompressedGradient, devices: int | None = None
) -> CompressionComparison:
    """DGC (ring all-gather) vs dense ring all-reduce on a cluster, both costed with the ring's step link
    (`planner.cost.collective_layout.ring_link`: the slowest hop, the outermost latency)."""
    latency, bandwidth = ring_link(cluster, devices)
    n = cluster.total_devices if devices is None else devices
    g, s, d = message.dense_gradient_bytes, message.sparse_bytes, message.dense_part_bytes
    dense = float(ring_allreduce_time(g, n, bandwidth, latency))
    dgc = float(dgc_allgather_time(s, d, n, bandwidth, latency))
    b_star, below = break_even_bandwidth(g, s, d, n, latency)
    n_star = float(break_even_devices(g, s, d, bandwidth, latency))
    return CompressionComparison(
        devices=n,
        message=message,
        dense_ring_time_s=dense,
        dgc_time_s=dgc,
        latency_s=latency,
        bandwidth_bytes_per_s=bandwidth,
        break_even_bandwidth_bytes_per_s=None if np.isnan(b_star) else float(b_star),
        pays_below_bandwidth=bool(below),
        break_even_devices=None if math.isinf(n_star) else n_star,
        notes=(
            f"top {message.density:g} of each sparsified tensor, {message.encoding} positions; sparse "
            "messages are all-gathered (every worker receives N-1 of them), 1-D tensors ring-all-reduced "
            "dense; compression and decompression time not charged"
        ),
    )
