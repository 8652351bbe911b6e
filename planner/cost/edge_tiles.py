"""Spatial partition of a CNN's convolutional part across boards: tiles, FDSP, halo exchange, channels.

Source: Zhang, Lin, Zhang, "Adaptive Distributed Convolutional Neural Network Inference at the Network
Edge with ADCNN", ICPP 2020 (seed lecture): the input is split spatially into tiles; with the Fully
Decomposable Spatial Partition (FDSP) each tile is zero-padded at its edges like the whole image, so a
tile runs every conv layer up to the cut on its own, with no data from its neighbours; the Central node
gathers the tiles' outputs at the cut and runs the remaining layers.

Geometry. Tiles are defined on the feature map at the cut (H_c × W_c): `rows` × `cols` bands of
near-equal whole sizes (split_sizes), so tiles may differ by one row or column. A tile of h × w cells has
the share s = h·w / (H_c·W_c) of every layer's output before the cut (earlier maps are the same grid
scaled by the down-sampling), hence performs s of each layer's FLOP (planner.cost.edge_model).

Three ways to split the conv part over N devices, for comparison (each layer l with input C_l × H_l × W_l,
b bytes per element):

* FDSP (ADCNN): scatter the input tiles, gather the outputs at the cut; nothing in between.
* Halo exchange (exact convolution on spatial tiles; e.g. DeepThings / MoDNN-style 2-D grids): before
  each layer whose window is wider than its stride, every interior tile edge trades halo rows both ways:
  2 · halo_l · C_l · b · [(rows − 1)·W_l + (cols − 1)·H_l] bytes, halo_l = ceil((d(k − 1) + 1 − s) / 2)
  for kernel k, stride s, dilation d.
* Channel partition (input channels split, partial sums exchanged): each device convolves C_l / N input
  channels into partial sums of all C_out outputs; a reduce-scatter leaves each device C_out / N summed
  channels, the next layer's input slice: (N − 1) · Y_l bytes on the medium per conv layer (Y_l the
  layer's output), N − 1 messages per device (ring reduce-scatter, Patarasuk & Yuan 2009).

Output compression: tile outputs may be quantised before the gather; `compression` is compressed / raw
bytes (0.25 for fp32 → int8).

Units: bytes, seconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from planner.cost.edge_model import EdgeModel, FloatArray, layer_times
from planner.spec.hardware import Device

_KERNEL = re.compile(r"kernel_size=([0-9]+)")  # ASCII digits: see planner.units
_STRIDE = re.compile(r"stride=([0-9]+)")
_DILATION = re.compile(r"dilation=([0-9]+)")


def split_sizes(total: int, parts: int) -> tuple[int, ...]:
    """`total` cells in `parts` bands of near-equal whole sizes, larger bands first (sums to total)."""
    if parts < 1 or parts > total:
        raise ValueError(f"cannot split {total} cells into {parts} bands (need 1 <= bands <= {total})")
    base, extra = divmod(total, parts)
    return tuple(base + 1 if i < extra else base for i in range(parts))


@dataclass(frozen=True)
class TileGrid:
    """`rows` × `cols` tiles on the (height × width) feature map at the cut."""

    height: int
    width: int
    rows: int
    cols: int

    def __post_init__(self) -> None:
        split_sizes(self.height, self.rows)
        split_sizes(self.width, self.cols)

    @property
    def count(self) -> int:
        return self.rows * self.cols

    def tiles(self) -> list[tuple[int, int]]:
        """(h, w) of every tile in row-major order."""
        return [
            (h, w) for h in split_sizes(self.height, self.rows) for w in split_sizes(self.width, self.cols)
        ]

    def classes(self) -> dict[tuple[int, int], int]:
        """Identical tiles grouped: (h, w) -> how many tiles have that size, largest first."""
        counts: dict[tuple[int, int], int] = {}
        for tile in self.tiles():
            counts[tile] = counts.get(tile, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[0][0] * item[0][1]))

    def share(self, tile: tuple[int, int]) -> float:
        """Fraction of every pre-cut feature map a tile of (h, w) cells covers."""
        return tile[0] * tile[1] / (self.height * self.width)


def parse_grid(text: str) -> tuple[int, int]:
    """'4x4' -> (4, 4); ValueError says what is expected."""
    match = re.fullmatch(r"\s*([0-9]+)\s*[xX×]\s*([0-9]+)\s*", text)
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ValueError(f"expected ROWSxCOLS with whole numbers >= 1, e.g. 4x4, got '{text}'")
    return int(match.group(1)), int(match.group(2))


def cut_candidates(model: EdgeModel) -> list[int]:
    """Layers after which the Central node can take over: a spatial output that is the only tensor later
    layers read, with every earlier layer spatial too (the conv part is a prefix of the network)."""
    if model.shapes_out is None:
        raise ValueError(f"{model.name} has no layer shapes: spatial tiles need a CNN architecture")
    found = []
    for i in range(model.size):
        if not model.is_spatial(i):
            break
        if model.single_cut(i):
            found.append(i)
    if not found:
        raise ValueError(f"{model.name} has no spatial layer to cut after")
    return found


def grid_at(model: EdgeModel, cut: int, rows: int, cols: int) -> TileGrid:
    """The tile grid on layer `cut`'s output map."""
    assert model.shapes_out is not None
    _, height, width = model.shapes_out[cut]
    return TileGrid(height, width, rows, cols)


def tile_compute_time(model: EdgeModel, cut: int, share: float, device: Device) -> float:
    """Seconds for `device` to run layers [0, cut] on one FDSP tile of `share` (roofline per layer)."""
    return float(layer_times(model, device, share, slice(0, cut + 1)).sum())


def tile_input_bytes(model: EdgeModel, share: float) -> float:
    """Bytes of a tile's input: its share of the model input (FDSP needs no overlap)."""
    return share * model.image_bytes


def tile_output_bytes(model: EdgeModel, cut: int, share: float, compression: float = 1.0) -> float:
    """Bytes a tile returns: its share of the cut layer's output, times `compression`."""
    if not 0 < compression <= 1:
        raise ValueError(f"compression must be in (0, 1] (compressed / raw bytes), got {compression}")
    return share * float(model.output_bytes[cut]) * compression


def window(op: str) -> tuple[int, int, int] | None:
    """(kernel, stride, dilation) of a Conv2d / pooling op string from planner.cost.layers, else None.

    Convolutions default to stride 1; pooling ops always state theirs.
    """
    kernel = _KERNEL.search(op)
    if kernel is None:
        return None
    stride = _STRIDE.search(op)
    dilation = _DILATION.search(op)
    return (
        int(kernel.group(1)),
        int(stride.group(1)) if stride else 1,
        int(dilation.group(1)) if dilation else 1,
    )


def halo_width(kernel: int, stride: int, dilation: int = 1) -> int:
    """Rows (or columns) a tile needs from each neighbour: ceil((d(k - 1) + 1 - s) / 2), at least 0."""
    return max(0, math.ceil((dilation * (kernel - 1) + 1 - stride) / 2))


def halo_bytes(model: EdgeModel, cut: int, rows: int, cols: int) -> FloatArray:
    """Bytes exchanged before each layer [0, cut] to give tiles their halos (module docstring)."""
    assert model.shapes_in is not None
    per_element = model.input_bytes / np.maximum(
        1, [math.prod(shape) for shape in model.shapes_in]
    )  # bytes per element of each layer's input (its dtype)
    out = np.zeros(cut + 1)
    for i in range(cut + 1):
        found = window(model.ops[i])
        shape = model.shapes_in[i]
        if found is None or len(shape) != 3:
            continue
        halo = halo_width(*found)
        channels, height, width = shape
        out[i] = 2 * halo * channels * per_element[i] * ((rows - 1) * width + (cols - 1) * height)
    return out


def channel_partition_bytes(model: EdgeModel, cut: int, devices: int) -> FloatArray:
    """Bytes on the medium per layer [0, cut] for the input-channel partition: a reduce-scatter of the
    partial sums, (N - 1) · Y, after each convolution; nothing for elementwise and pooling layers."""
    out = np.zeros(cut + 1)
    for i in range(cut + 1):
        if model.ops[i].startswith("Conv2d"):
            out[i] = (devices - 1) * float(model.output_bytes[i])
    return out


@dataclass(frozen=True)
class SchemeCost:
    """One way of splitting the conv part [0, cut] equally over `devices` devices on one link."""

    scheme: str
    compute_s: float
    bytes_on_medium: float
    messages: int
    comm_s: float

    @property
    def total_s(self) -> float:
        return self.compute_s + self.comm_s


def compare_schemes(
    model: EdgeModel,
    cut: int,
    device: Device,
    devices: int,
    bandwidth: float,
    latency: float,
    shared: bool,
    compression: float = 1.0,
) -> list[SchemeCost]:
    """FDSP vs halo exchange vs channel partition of layers [0, cut] over `devices` equal devices.

    Every scheme scatters the input and gathers the cut's output (compressed for FDSP only: the others
    are exact). Compute: each device runs 1/N of every layer (roofline at share 1/N). Communication on
    one link of effective `bandwidth` bytes/s and per-message `latency`: on a `shared` medium every byte
    crosses it in turn; on a switched network the transfers of different devices overlap, so the time
    is that of one device's share (1/N of the bytes, its own messages). Halo and channel exchanges sit
    between layers, so they add to compute (no overlap).
    """
    if devices < 1:
        raise ValueError(f"devices must be >= 1, got {devices}")
    share = 1.0 / devices
    compute = float(layer_times(model, device, share, slice(0, cut + 1)).sum())
    io = model.image_bytes + float(model.output_bytes[cut])
    io_fdsp = model.image_bytes + float(model.output_bytes[cut]) * compression
    scatter_messages = 2 * devices  # one scatter and one gather per device
    layers_with = lambda values: int(np.count_nonzero(values))  # noqa: E731
    halo = halo_bytes(model, cut, *near_square(devices)) if devices > 1 else np.zeros(cut + 1)
    channel = channel_partition_bytes(model, cut, devices)
    rows = [
        ("fdsp", io_fdsp, scatter_messages),
        ("halo", io + float(halo.sum()), scatter_messages + layers_with(halo) * 4 * devices),
        (
            "channel",
            io + float(channel.sum()),
            scatter_messages + layers_with(channel) * devices * (devices - 1),
        ),
    ]
    out = []
    for scheme, nbytes, messages in rows:
        if devices == 1:
            nbytes, messages = 0.0, 0
        if shared:
            comm = messages * latency + nbytes / bandwidth
        else:
            comm = messages / max(devices, 1) * latency + nbytes * share / bandwidth
        out.append(SchemeCost(scheme, compute, nbytes, messages, comm))
    return out


def near_square(devices: int) -> tuple[int, int]:
    """rows × cols = devices with rows <= cols as close as possible (a 2-D grid of tiles)."""
    rows = math.isqrt(devices)
    while devices % rows:
        rows -= 1
    return rows, devices // rows
