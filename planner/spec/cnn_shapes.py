"""Shape inference of CNN architectures (planner.spec.architecture): every layer in execution order, named,
with its input and output shapes, parameters and multiply-accumulates, and the DAG edges of residual
blocks. A spec fact, checked when a `spec: cnn` file loads; the cost model (planner.cost.layers) adds
FLOP and bytes.

Shapes follow the PyTorch formulas (torch.nn.Conv2d / MaxPool2d / AvgPool2d / AdaptiveAvgPool2d docs):
out = floor((in + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1, rounded up with ceil_mode (a
window may not start in the right padding). Shapes are per sample, in elements: (C, H, W) or
(features,). Parameters count what `sum(p.numel() for p in model.parameters())` counts; MACs are those
of the convolutions and linear layers only (conv = C_out·H_out·W_out·(C_in/groups)·k², linear = in·out).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from planner.limits import MAX_LAYER_SIZE
from planner.spec.architecture import (
    LAYER_KINDS,
    AdaptiveAvgPool,
    AvgPool,
    BasicBlock,
    BatchNorm,
    Bottleneck,
    CNNArchitecture,
    CNNLayer,
    Conv,
    Dropout,
    Flatten,
    LayerSpec,
    Linear,
    MaxPool,
    ReLU,
    Repeat,
)
from planner.spec.schema import FieldValueError

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ResidualAdd:
    """The addition that joins a residual block's main branch and its shortcut (not a YAML layer type)."""


Primitive = (
    Conv | BatchNorm | ReLU | MaxPool | AvgPool | AdaptiveAvgPool | Flatten | Linear | Dropout | ResidualAdd
)

# Stems of default names: torchvision-like, one counter for layers of the same nature.
_STEMS = {
    "conv": "conv",
    "bn": "bn",
    "relu": "relu",
    "maxpool": "maxpool",
    "avgpool": "avgpool",
    "adaptive_avgpool": "avgpool",
    "flatten": "flatten",
    "fc": "fc",
    "linear": "fc",
    "dropout": "dropout",
    "bottleneck": "bottleneck",
    "basic": "basic",
    "repeat": "repeat",
}


@dataclass(frozen=True)
class ShapedLayer:
    """One layer without sub-layers, per sample; `inputs` names the layers it reads (None: the previous
    one), `path` locates its entry in the spec."""

    name: str
    layer: Primitive
    input_shape: Shape
    output_shape: Shape
    parameters: int
    macs: int
    inputs: tuple[str, ...] | None
    path: tuple[str | int, ...]


def elements(shape: Shape) -> int:
    """Number of elements of a tensor of `shape` (one sample)."""
    return math.prod(shape)


def fmt_shape(shape: Shape) -> str:
    """`(3, 224, 224)` -> `3x224x224`."""
    return "x".join(map(str, shape))


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis (pixels), as torch.nn.Conv2d computes it.

    Raises ValueError when the (dilated) kernel is larger than the padded input.
    """
    extent = dilation * (kernel - 1) + 1
    if extent > size + 2 * padding:
        dilated = f" (dilated to {extent})" if dilation != 1 else ""
        raise ValueError(
            f"kernel {kernel}{dilated} is larger than the input {size} padded by {padding} on each side"
        )
    return (size + 2 * padding - extent) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> int:
    """Output length of max / average pooling along one axis (pixels), as PyTorch computes it.

    With ceil_mode the size rounds up, but the last window must start inside the input or left padding.
    Raises ValueError when the padding exceeds half the kernel (PyTorch refuses it) or the window is
    larger than the padded input.
    """
    if 2 * padding > kernel:
        raise ValueError(f"padding {padding} is more than half the pooling kernel {kernel}")
    if kernel > size + 2 * padding:
        raise ValueError(f"pooling kernel {kernel} is larger than the input {size} padded by {padding}")
    span = size + 2 * padding - kernel
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv2d_parameters(c_in: int, c_out: int, kernel: int, groups: int = 1, bias: bool = True) -> int:
    """Weights (c_out · c_in/groups · k²) plus a bias per output channel."""
    return c_out * (c_in // groups) * kernel * kernel + (c_out if bias else 0)


def linear_parameters(n_in: int, n_out: int, bias: bool = True) -> int:
    """Weights (in·out) plus a bias per output feature."""
    return n_in * n_out + (n_out if bias else 0)


def spatial(shape: Shape, what: str) -> tuple[int, int, int]:
    """(C, H, W) of an input that `what` needs to be spatial; ValueError otherwise."""
    if len(shape) != 3:
        raise ValueError(f"{what} needs a (channels, height, width) input, got shape {fmt_shape(shape)}")
    return shape[0], shape[1], shape[2]


def infer(layer: Primitive, shape: Shape) -> tuple[Shape, int, int]:
    """(output shape, parameters, MACs) of a layer on an input of per-sample `shape`; ValueError when the
    layer cannot take it. A ResidualAdd's second operand is checked by the walker."""
    if isinstance(layer, Conv):
        c, h, w = spatial(shape, "conv")
        if c % layer.groups or layer.out % layer.groups:
            raise ValueError(
                f"groups {layer.groups} must divide the input channels {c} and the output channels "
                f"{layer.out}"
            )
        h_out = conv_output_size(h, layer.kernel, layer.stride, layer.padding, layer.dilation)
        w_out = conv_output_size(w, layer.kernel, layer.stride, layer.padding, layer.dilation)
        macs = layer.out * h_out * w_out * (c // layer.groups) * layer.kernel**2
        return (
            (layer.out, h_out, w_out),
            conv2d_parameters(c, layer.out, layer.kernel, layer.groups, layer.bias),
            macs,
        )
    if isinstance(layer, Linear):
        if len(shape) != 1:
            raise ValueError(
                f"fc needs a flat input (add `- flatten: {{}}` before it), got shape {fmt_shape(shape)}"
            )
        return (layer.out,), linear_parameters(shape[0], layer.out, layer.bias), shape[0] * layer.out
    if isinstance(layer, BatchNorm):
        return shape, 2 * shape[0], 0  # scale and shift per channel (running statistics are buffers)
    if isinstance(layer, Flatten):
        return (elements(shape),), 0, 0
    if isinstance(layer, (MaxPool, AvgPool)):
        c, h, w = spatial(shape, "MaxPool2d" if isinstance(layer, MaxPool) else "AvgPool2d")
        stride = layer.stride or layer.kernel
        h_out = pool_output_size(h, layer.kernel, stride, layer.padding, layer.ceil_mode)
        w_out = pool_output_size(w, layer.kernel, stride, layer.padding, layer.ceil_mode)
        return (c, h_out, w_out), 0, 0
    if isinstance(layer, AdaptiveAvgPool):
        c, _, _ = spatial(shape, "adaptive_avgpool")
        return (c, layer.output, layer.output), 0, 0
    if isinstance(layer, (ReLU, Dropout, ResidualAdd)):
        return shape, 0, 0
    raise TypeError(f"not a layer: {layer!r}")


class _Walker:
    """Walks the layer list, inferring shapes and naming layers; the DAG edges of residual blocks."""

    def __init__(self, arch: CNNArchitecture) -> None:
        self.shape: Shape = tuple(arch.input_shape)
        self.last: str | None = None  # the layer whose output is the current tensor (None: the input)
        self.layers: list[ShapedLayer] = []
        self.names: set[str] = set()

    def emit(
        self,
        path: tuple[str | int, ...],
        name: str,
        layer: Primitive,
        inputs: tuple[str, ...] | None = None,
        shape: Shape | None = None,
        check: Callable[[], None] = lambda: None,
    ) -> None:
        """Add one layer on the current tensor (or `shape`); errors become FieldValueError at `path`."""
        source = self.shape if shape is None else shape
        if name in self.names:
            raise FieldValueError(path, f"layer name '{name}' is used twice")
        try:
            check()
            output, parameters, macs = infer(layer, source)
        except ValueError as exc:
            raise FieldValueError(path, f"layer '{name}' (input {fmt_shape(source)}): {exc}") from None
        if max(parameters, macs, elements(output)) > MAX_LAYER_SIZE:
            raise FieldValueError(  # a typo in a shape: its sizes would overflow int64 sums downstream
                path,
                f"layer '{name}' (input {fmt_shape(source)}): expected at most {MAX_LAYER_SIZE:.0e} "
                "parameters, MACs and output values per sample",
            )
        self.layers.append(ShapedLayer(name, layer, source, output, parameters, macs, inputs, path))
        self.names.add(name)
        self.shape, self.last = output, name

    def walk(
        self,
        entries: tuple[CNNLayer | LayerSpec, ...],
        path: tuple[str | int, ...],
        prefix: str,
        counters: dict[str, int],
    ) -> None:
        for index, entry in enumerate(entries):
            layer = entry.layer if isinstance(entry, CNNLayer) else entry
            kind = entry.kind if isinstance(entry, CNNLayer) else LAYER_KINDS[type(layer)]
            where = (*path, index, kind)
            stem = _STEMS[kind]
            counters[stem] = counters.get(stem, 0) + 1
            name = layer.name or f"{stem}{counters[stem]}"
            if isinstance(layer, Repeat):
                for iteration in range(layer.times):
                    if layer.name is None:
                        self.walk(layer.layers, (*where, "layers"), prefix, counters)
                    else:
                        self.walk(layer.layers, (*where, "layers"), f"{prefix}{name}.{iteration}.", {})
            elif isinstance(layer, (Bottleneck, BasicBlock)):
                for block in range(layer.blocks):
                    self.residual(layer, block, where, f"{prefix}{name}.{block}.")
            else:
                self.emit(where, prefix + name, layer)

    def residual(
        self, block: Bottleneck | BasicBlock, index: int, path: tuple[str | int, ...], prefix: str
    ) -> None:
        """One torchvision BasicBlock / Bottleneck: main branch, shortcut, add, relu."""
        source, source_shape = self.last, self.shape
        stride = block.stride if index == 0 else 1
        out_channels = block.planes * block.expansion
        entry = (source,) if source is not None else None
        if isinstance(block, Bottleneck):
            width = block.planes * block.base_width // 64 * block.groups
            convs = [
                Conv(out=width, kernel=1, bias=False),
                Conv(out=width, kernel=3, stride=stride, padding=1, groups=block.groups, bias=False),
                Conv(out=out_channels, kernel=1, bias=False),
            ]
        else:
            convs = [
                Conv(out=block.planes, kernel=3, stride=stride, padding=1, bias=False),
                Conv(out=block.planes, kernel=3, padding=1, bias=False),
            ]
        for number, conv in enumerate(convs, start=1):
            self.emit(path, f"{prefix}conv{number}", conv, entry if number == 1 else None)
            self.emit(path, f"{prefix}bn{number}", BatchNorm())
            if number < len(convs):
                self.emit(path, f"{prefix}relu{number}", ReLU())
        main, main_shape = self.last, self.shape
        shortcut, shortcut_shape = source, source_shape
        if stride != 1 or source_shape[0] != out_channels:
            down = Conv(out=out_channels, kernel=1, stride=stride, bias=False)
            self.emit(path, f"{prefix}downsample.0", down, entry or (), shape=source_shape)
            self.emit(path, f"{prefix}downsample.1", BatchNorm())
            shortcut, shortcut_shape = self.last, self.shape
        assert main is not None
        inputs = (main,) if shortcut is None else (main, shortcut)

        def same_shapes() -> None:
            if main_shape != shortcut_shape:
                raise ValueError(
                    f"the residual branch gives {fmt_shape(main_shape)} but the shortcut "
                    f"{fmt_shape(shortcut_shape)}"
                )

        self.emit(path, f"{prefix}add", ResidualAdd(), inputs, main_shape, check=same_shapes)
        self.emit(path, f"{prefix}relu{len(convs)}", ReLU())


def shape_layers(arch: CNNArchitecture) -> tuple[ShapedLayer, ...]:
    """Every layer of `arch` in execution order with its shapes, parameters and MACs, per sample.

    Raises FieldValueError (a ValueError) naming the spec entry and the layer for an impossible shape:
    a kernel larger than its input, groups that do not divide the channels, an fc on an unflattened
    input, a residual add of different shapes, or a duplicate layer name.
    """
    walker = _Walker(arch)
    walker.walk(arch.layers, ("layers",), "", {})
    return tuple(walker.layers)
