"""AmoebaNet-D as a chain of cells: per-cell parameters, FLOP and roofline times, built from its architecture.

Architecture: Real, Aggarwal, Huang & Le, "Regularized Evolution for Image Classifier Architecture Search",
AAAI 2019 (arXiv:1802.01548), Fig. 3 (AmoebaNet cells), in the form GPipe trained it (Huang et al., GPipe,
NeurIPS 2019, Sec. 4.1: AmoebaNet-D(L, D), L normal cells, filter size D). The cell wiring, the normal
concat [0, 3, 4, 6] and the operations follow the TensorFlow reference implementation
(github.com/tensorflow/tpu, models/official/amoeba_net) as kakaobrain/torchgpipe re-implements it
(benchmarks/models/amoebanet: genotype.py, operations.py, __init__.py), which reproduces GPipe Table 1's
parameter counts. AmoebaNet-D(L, D) on a 224x224 image:

  stem1 (ReLU, 3x3 conv stride 2, BN; D/4 channels) -> stem2, stem3 (reduction cells) ->
  L/3 normal cells -> reduction -> L/3 normal cells -> reduction -> L/3 normal cells -> classifier
  (7x7 average pool, fully connected).

The channels c start at D/4 and double at every reduction cell; a cell reads the previous two cells'
outputs (s1, s2), brings each to c channels (1x1 ReLU-conv-BN, or a factorised reduce when s2 is twice
s1's size), combines pairs of operations into five new states and concatenates some of them (normal: 4c
channels, reduction: 3c, at half the size); it passes its output and its input s1 on, so a boundary
between two cells carries both.

Costs per sample, per operation, then summed per cell:
* FLOP and parameters as planner.cost.layers counts them (conv: 2·MACs; BN 7 FLOP per element, ReLU and
  add 1, pooling one per window element; backward 2x forward for convolutions, 1x for the rest);
* bytes: forward W + b·(X + Y), backward 2W + b·(2X + Y) for b samples (planner.cost.compute: every
  operand once, no fusion); a concatenation copies its output once each way;
* time: the roofline of each operation on the device (planner.cost.compute.roofline_time), so the
  memory-bound operations (pooling, BN, ReLU, the adds) count at memory bandwidth, plus the device's
  `kernel_overhead` per kernel (the same field planner.cost.gemm adds per GEMM and per memory-bound
  kernel): one kernel per operation forward, two per convolution backward (data and weight gradient),
  one per other operation backward. The overhead is paid per kernel launch, so per micro-batch: a
  minibatch split in M pays it M times (the small-micro-batch loss GPipe's Table 2 shows on TPU).
Units: FLOP, bytes, seconds, elements, per sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.spec.hardware import Device
from planner.spec.profile import DTYPE_BYTES

IMAGE = 224  # GPipe Sec. 4.1 trains AmoebaNet-D on ImageNet at 224x224 (Table 1's AmoebaNet rows)
CLASSES = 1000
BN_FLOP_PER_ELEMENT = 7  # planner.cost.layers' training-mode batch norm
CONV_BACKWARD = 2.0  # data gradient + weight gradient (planner.cost.layers.BACKWARD_PER_FORWARD_MATMUL)

# (input state, operation) pairs; each two make one new state (torchgpipe genotype.py, AmoebaNet-D)
NORMAL_OPERATIONS = (
    (1, "conv_1x1"), (1, "max_pool_3x3"),
    (1, "none"), (0, "conv_1x7_7x1"),
    (0, "conv_1x1"), (0, "conv_1x7_7x1"),
    (2, "max_pool_3x3"), (2, "none"),
    (1, "avg_pool_3x3"), (5, "conv_1x1"),
)  # fmt: skip
NORMAL_CONCAT = (0, 3, 4, 6)
REDUCTION_OPERATIONS = (
    (0, "max_pool_2x2"), (0, "max_pool_3x3"),
    (2, "none"), (1, "conv_3x3"),
    (2, "conv_1x7_7x1"), (2, "max_pool_3x3"),
    (3, "none"), (1, "max_pool_2x2"),
    (2, "avg_pool_3x3"), (3, "conv_1x1"),
)  # fmt: skip
REDUCTION_CONCAT = (4, 5, 6)


@dataclass
class Cell:
    """One pipeline unit: its operations' forward/backward FLOP and bytes, parameters, and the elements
    it hands to the next cell (its output and the skip state), per sample."""

    name: str
    forward_flops: list[float] = field(default_factory=list)
    backward_flops: list[float] = field(default_factory=list)
    forward_elements: list[float] = field(default_factory=list)  # activations read + written
    backward_elements: list[float] = field(default_factory=list)
    weight_elements: list[float] = field(default_factory=list)
    backward_kernels: int = 0
    parameters: int = 0
    output_elements: int = 0

    def add(
        self, flops: float, inputs: float, outputs: float, weights: float = 0.0, matmul: bool = False
    ) -> None:
        """One operation: `flops` forward; inputs/outputs/weights in elements (bytes follow the dtype)."""
        self.forward_flops.append(flops)
        self.backward_flops.append(flops * (CONV_BACKWARD if matmul else 1.0))
        self.forward_elements.append(inputs + outputs)
        self.backward_elements.append(2 * inputs + outputs)
        self.weight_elements.append(weights)
        self.backward_kernels += 2 if matmul else 1  # a convolution's data and weight gradients
        self.parameters += int(weights)

    def relu(self, elements: float) -> None:
        self.add(elements, elements, elements)

    def bn(self, channels: int, pixels: int) -> None:
        n = channels * pixels
        self.add(BN_FLOP_PER_ELEMENT * n, n, n, weights=2 * channels)

    def conv(
        self, cin: int, cout: int, hw: tuple[int, int], kernel: tuple[int, int], stride: int
    ) -> tuple[int, int]:
        """A convolution with 'same' padding (stride along W only for a 1x7, along H only for a 7x1, as
        torchgpipe's operations.py strides them); its output's (H, W)."""
        (h, w), (kh, kw) = hw, kernel
        out = (-(-h // stride) if kh > 1 or kw == 1 else h, -(-w // stride) if kw > 1 or kh == 1 else w)
        weights = cin * cout * kh * kw
        self.add(2.0 * weights * out[0] * out[1], cin * h * w, cout * out[0] * out[1], weights, True)
        return out

    def pool(self, channels: int, size: int, window: int, stride: int) -> int:
        out = -(-size // stride) if window == 3 else size // stride
        self.add(window * window * channels * out * out, channels * size * size, channels * out * out)
        return out

    def relu_conv_bn(
        self, cin: int, cout: int, hw: tuple[int, int], kernel: tuple[int, int] = (1, 1), stride: int = 1
    ) -> tuple[int, int]:
        self.relu(cin * hw[0] * hw[1])
        out = self.conv(cin, cout, hw, kernel, stride)
        self.bn(cout, out[0] * out[1])
        return out

    def factorized_reduce(self, cin: int, cout: int, size: int) -> int:
        """ReLU, two 1x1 stride-2 convolutions to cout/2 channels each (one offset by a pixel), BN."""
        self.relu(cin * size * size)
        out = self.conv(cin, cout // 2, (size, size), (1, 1), 2)
        self.conv(cin, cout // 2, (size, size), (1, 1), 2)
        self.bn(cout, out[0] * out[1])
        return out[0]

    def operation(self, name: str, c: int, size: int, stride: int) -> int:
        """An AmoebaNet operation on c channels (torchgpipe operations.py); its output size."""
        if name == "none":
            return size if stride == 1 else self.factorized_reduce(c, c, size)
        if name in ("max_pool_3x3", "avg_pool_3x3"):  # both average in torchgpipe's operations.py
            return self.pool(c, size, 3, stride)
        if name == "max_pool_2x2":
            return self.pool(c, size, 2, stride)
        if name == "conv_1x1":
            return self.relu_conv_bn(c, c, (size, size), stride=stride)[0]
        # conv_3x3 and conv_1x7_7x1 are bottlenecks: 1x1 to c/4, the spatial conv(s), 1x1 back to c
        q = c // 4
        hw = self.relu_conv_bn(c, q, (size, size))
        for kernel in ((3, 3),) if name == "conv_3x3" else ((1, 7), (7, 1)):
            hw = self.relu_conv_bn(q, q, hw, kernel, stride)
        return self.relu_conv_bn(q, c, hw)[0]


def _amoeba_cell(
    name: str, prev_prev: tuple[int, int], prev: tuple[int, int], c: int, reduction: bool
) -> tuple[Cell, tuple[int, int]]:
    """A normal or reduction cell reading s1 = prev and s2 = prev_prev, (channels, size) each; the cell
    and its output's (channels, size)."""
    cell = Cell(name)
    (c2, size2), (c1, size1) = prev_prev, prev
    cell.relu_conv_bn(c1, c, (size1, size1))
    if size2 != size1:
        cell.factorized_reduce(c2, c, size2)
    elif c2 != c:
        cell.relu_conv_bn(c2, c, (size2, size2))
    operations, concat = (
        (REDUCTION_OPERATIONS, REDUCTION_CONCAT) if reduction else (NORMAL_OPERATIONS, NORMAL_CONCAT)
    )
    sizes = [size1, size1]
    for i in range(0, len(operations), 2):
        outs = [
            cell.operation(op, c, sizes[state], 2 if reduction and state < 2 else 1)
            for state, op in operations[i : i + 2]
        ]
        cell.add(outs[0] ** 2 * c, 2 * c * outs[0] ** 2, c * outs[0] ** 2)  # the pair's sum
        sizes.append(outs[0])
    out_size = sizes[-1]
    channels = c * len(concat)
    cell.add(0.0, channels * out_size**2, channels * out_size**2)  # the concatenation's copy
    cell.output_elements = channels * out_size**2 + c1 * size1**2  # output and the skip (its s1)
    return cell, (channels, out_size)


def amoebanet_d(normal_cells: int, filters: int) -> tuple[Cell, ...]:
    """AmoebaNet-D(normal_cells, filters) as its chain of cells (stem, cells, classifier), per sample."""
    if normal_cells < 3 or normal_cells % 3:
        raise ValueError(f"normal_cells must be a positive multiple of 3, got {normal_cells}")
    if filters < 16 or filters % 16:
        raise ValueError(f"filters must be a positive multiple of 16 (c/4 channels at D/4), got {filters}")
    c = filters // 4
    stem = Cell("stem1")
    size = stem.relu_conv_bn(3, c, (IMAGE, IMAGE), (3, 3), 2)[0]
    stem.output_elements = c * size * size
    cells = [stem]
    prev_prev = prev = (c, size)
    plan = [("stem2", True), ("stem3", True)]
    for stack in (1, 3, 5):
        plan += [(f"cell{stack}_normal{i + 1}", False) for i in range(normal_cells // 3)]
        if stack < 5:
            plan.append((f"cell{stack + 1}_reduction", True))
    for name, reduction in plan:
        c *= 2 if reduction else 1
        cell, out = _amoeba_cell(name, prev_prev, prev, c, reduction)
        cells.append(cell)
        prev_prev, prev = prev, out
    classify = Cell("classify")
    channels, size = prev
    classify.pool(channels, size, size, size)
    classify.add(2.0 * channels * CLASSES, channels, CLASSES, channels * CLASSES + CLASSES, True)
    classify.output_elements = CLASSES
    cells.append(classify)
    return tuple(cells)


def cell_times(
    cells: tuple[Cell, ...], device: Device, dtype: str, batch: float | None = None
) -> tuple[list[float], list[float]]:
    """Forward and backward seconds of each cell for `batch` samples: the sum of its operations'
    rooflines, each moving W + batch·(X + Y) forward and 2W + batch·(2X + Y) backward (planner.cost.
    compute), plus device.kernel_overhead per kernel. batch=None: seconds per sample in the
    large-batch limit, the weights' traffic and the kernels' overhead amortised away (what a ratio of
    throughputs needs when the batch is not stated)."""
    from planner.cost.compute import roofline_time

    width = DTYPE_BYTES[dtype]
    scale, per_batch = (1.0, 0.0) if batch is None else (float(batch), 1.0)
    forward: list[float] = []
    backward: list[float] = []
    for cell in cells:
        w = np.asarray(cell.weight_elements) * per_batch
        for flops, elements, weights, kernels, out in (
            (cell.forward_flops, cell.forward_elements, w, len(cell.forward_flops), forward),
            (cell.backward_flops, cell.backward_elements, 2 * w, cell.backward_kernels, backward),
        ):
            moved = (weights + scale * np.asarray(elements)) * width
            rooflines = roofline_time(np.asarray(flops) * scale, moved, device, dtype).sum()
            out.append(float(rooflines + per_batch * kernels * device.kernel_overhead))
    return forward, backward
