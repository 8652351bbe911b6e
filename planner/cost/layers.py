"""Per-layer costs of CNNs: shapes, parameters, MACs / FLOPs and activation sizes.

Units: shapes in elements (C, H, W) or (features,), per sample; parameters are counts of scalar weights;
MACs are multiply-accumulates and FLOP counts use 1 MAC = 2 FLOP; activation sizes are bytes.

Conventions and sources:

* Shapes follow the PyTorch formulas (torch.nn.Conv2d / MaxPool2d / AvgPool2d / AdaptiveAvgPool2d docs):
  out = floor((in + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1, rounded up with ceil_mode
  (a window may not start in the right padding).
* Parameters count what `sum(p.numel() for p in model.parameters())` counts: conv weights and biases,
  linear weights and biases, batch-norm scale and shift (the running statistics are buffers).
* MACs are those of the convolutions and linear layers only, which is what published GFLOP(s) figures of
  torchvision models count (e.g. ResNet-50 4.09 G, VGG-16 15.47 G, AlexNet 0.71 G "GFLOPS" are MACs):
  conv = C_out·H_out·W_out·(C_in/groups)·k_h·k_w, linear = in·out.
* Forward FLOP: 2·MACs plus one add per output element for a bias; elementwise layers count the
  arithmetic per element below (ReLU 1, dropout 1, residual add 1, training-mode batch norm 7: mean 1,
  variance as E[x²] − mean² 2, normalise 2, scale and shift 2), pooling one FLOP per window element,
  flatten none.
* Backward FLOP: 2 × forward for conv and linear layers: the data gradient dX = dY·Wᵀ and the weight
  gradient dW = Xᵀ·dY are each a matrix product as large as the forward one (Narayanan et al., "Efficient
  Large-Scale Language Model Training on GPU Clusters Using Megatron-LM", SC 2021, Sec. 5.1; Kaplan et
  al., "Scaling Laws for Neural Language Models", 2020, Sec. 2.1: 6N FLOP per token = 2N forward + 4N
  backward). The first layer needs no data gradient (the input requires none), which this ignores (about
  3% of ResNet-50's backward work). Elementwise and pooling layers: backward ≈ forward (one pass of
  similar arithmetic per element; a residual add's backward is the gradient sum at its fork).
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
from planner.spec.profile import DTYPE_BYTES, Layer, ModelProfile
from planner.spec.schema import FieldValueError

Shape = tuple[int, ...]

RELU_FLOPS_PER_ELEMENT = 1
DROPOUT_FLOPS_PER_ELEMENT = 1
ADD_FLOPS_PER_ELEMENT = 1
BATCHNORM_FLOPS_PER_ELEMENT = 7
BACKWARD_PER_FORWARD_MATMUL = 2.0  # conv / linear: data gradient + weight gradient
BACKWARD_PER_FORWARD_ELEMENTWISE = 1.0

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
class LayerCost:
    """What one layer computes, per sample: output shape, parameters, MACs and FLOP."""

    op: str
    output_shape: Shape
    parameters: int = 0
    macs: int = 0
    forward_flops: int = 0
    backward_flops: float = 0.0


@dataclass(frozen=True)
class DerivedLayer:
    """A layer of a derived CNN profile, per sample; `path` locates its entry in the spec."""

    name: str
    op: str
    input_shape: Shape
    output_shape: Shape
    parameters: int
    macs: int
    forward_flops: int
    backward_flops: float
    inputs: tuple[str, ...] | None
    path: tuple[str | int, ...]


def elements(shape: Shape) -> int:
    """Number of elements of a tensor of `shape` (one sample)."""
    return math.prod(shape)


def activation_bytes(shape: Shape, dtype: str, batch_size: int = 1) -> int:
    """Bytes of an activation of per-sample `shape` for `batch_size` samples: elements × dtype size."""
    return elements(shape) * DTYPE_BYTES[dtype] * batch_size


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


def adaptive_window_total(size: int, output: int) -> int:
    """Sum of the window lengths of adaptive pooling from `size` to `output` along one axis.

    Window i covers [floor(i·size/output), ceil((i+1)·size/output)) as in torch.nn.AdaptiveAvgPool2d.
    """
    return sum(-(-(i + 1) * size // output) - (i * size // output) for i in range(output))


def conv2d_parameters(c_in: int, c_out: int, kernel: int, groups: int = 1, bias: bool = True) -> int:
    """Weights (c_out · c_in/groups · k²) plus a bias per output channel."""
    return c_out * (c_in // groups) * kernel * kernel + (c_out if bias else 0)


def conv2d_macs(c_in: int, c_out: int, h_out: int, w_out: int, kernel: int, groups: int = 1) -> int:
    """Multiply-accumulates of a 2-D convolution: C_out·H_out·W_out·(C_in/groups)·k²."""
    return c_out * h_out * w_out * (c_in // groups) * kernel * kernel


def linear_parameters(n_in: int, n_out: int, bias: bool = True) -> int:
    """Weights (in·out) plus a bias per output feature."""
    return n_in * n_out + (n_out if bias else 0)


def linear_macs(n_in: int, n_out: int) -> int:
    """Multiply-accumulates of a linear layer: in·out."""
    return n_in * n_out


def batchnorm_parameters(channels: int) -> int:
    """Scale and shift per channel (the running mean and variance are buffers, not parameters)."""
    return 2 * channels


def _spatial(shape: Shape, what: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(f"{what} needs a (channels, height, width) input, got shape {_fmt(shape)}")
    return shape[0], shape[1], shape[2]


def _matmul(op: str, out: Shape, parameters: int, macs: int, bias: bool) -> LayerCost:
    forward = 2 * macs + (elements(out) if bias else 0)
    return LayerCost(op, out, parameters, macs, forward, BACKWARD_PER_FORWARD_MATMUL * forward)


def _elementwise(op: str, out: Shape, flops: int, parameters: int = 0) -> LayerCost:
    return LayerCost(op, out, parameters, 0, flops, BACKWARD_PER_FORWARD_ELEMENTWISE * flops)


def conv_cost(shape: Shape, conv: Conv) -> LayerCost:
    """Cost of a Conv2d on an input of per-sample `shape`; `op` lists the settings that differ from
    PyTorch's defaults."""
    c, h, w = _spatial(shape, "conv")
    if c % conv.groups or conv.out % conv.groups:
        raise ValueError(
            f"groups {conv.groups} must divide the input channels {c} and the output channels {conv.out}"
        )
    h_out = conv_output_size(h, conv.kernel, conv.stride, conv.padding, conv.dilation)
    w_out = conv_output_size(w, conv.kernel, conv.stride, conv.padding, conv.dilation)
    settings = [
        f"stride={conv.stride}" if conv.stride != 1 else "",
        f"padding={conv.padding}" if conv.padding else "",
        f"dilation={conv.dilation}" if conv.dilation != 1 else "",
        f"groups={conv.groups}" if conv.groups != 1 else "",
        "" if conv.bias else "bias=False",
    ]
    op = (
        f"Conv2d({', '.join([str(c), str(conv.out), f'kernel_size={conv.kernel}', *filter(None, settings)])})"
    )
    out = (conv.out, h_out, w_out)
    parameters = conv2d_parameters(c, conv.out, conv.kernel, conv.groups, conv.bias)
    return _matmul(
        op, out, parameters, conv2d_macs(c, conv.out, h_out, w_out, conv.kernel, conv.groups), conv.bias
    )


def linear_cost(shape: Shape, linear: Linear) -> LayerCost:
    """Cost of a Linear layer on a flat input of per-sample `shape` (features,)."""
    if len(shape) != 1:
        raise ValueError(f"fc needs a flat input (add `- flatten: {{}}` before it), got shape {_fmt(shape)}")
    n_in = shape[0]
    op = f"Linear(in_features={n_in}, out_features={linear.out}, bias={linear.bias})"
    return _matmul(
        op,
        (linear.out,),
        linear_parameters(n_in, linear.out, linear.bias),
        linear_macs(n_in, linear.out),
        linear.bias,
    )


def batchnorm_cost(shape: Shape) -> LayerCost:
    """Batch norm over the channels (BatchNorm2d) or the features of a flat input (BatchNorm1d)."""
    op = f"BatchNorm{2 if len(shape) == 3 else 1}d({shape[0]})"
    return _elementwise(
        op, shape, BATCHNORM_FLOPS_PER_ELEMENT * elements(shape), batchnorm_parameters(shape[0])
    )


def relu_cost(shape: Shape) -> LayerCost:
    """ReLU: one comparison per element."""
    return _elementwise("ReLU()", shape, RELU_FLOPS_PER_ELEMENT * elements(shape))


def dropout_cost(shape: Shape, dropout: Dropout) -> LayerCost:
    """Dropout in training: one multiply by the scaled mask per element."""
    return _elementwise(f"Dropout(p={dropout.p:g})", shape, DROPOUT_FLOPS_PER_ELEMENT * elements(shape))


def add_cost(first: Shape, second: Shape) -> LayerCost:
    """Residual addition of two tensors of the same shape: one add per element."""
    if first != second:
        raise ValueError(f"the residual branch gives {_fmt(first)} but the shortcut {_fmt(second)}")
    return _elementwise("Add()", first, ADD_FLOPS_PER_ELEMENT * elements(first))


def flatten_cost(shape: Shape) -> LayerCost:
    """Flatten to (C·H·W,): a view, no arithmetic."""
    return _elementwise("Flatten()", (elements(shape),), 0)


def pool_cost(shape: Shape, pool: MaxPool | AvgPool) -> LayerCost:
    """Max or average pooling: one comparison or add per window element of each output."""
    kind = "MaxPool2d" if isinstance(pool, MaxPool) else "AvgPool2d"
    c, h, w = _spatial(shape, kind)
    stride = pool.stride or pool.kernel
    h_out = pool_output_size(h, pool.kernel, stride, pool.padding, pool.ceil_mode)
    w_out = pool_output_size(w, pool.kernel, stride, pool.padding, pool.ceil_mode)
    ceil = ", ceil_mode=True" if pool.ceil_mode else ""
    op = f"{kind}(kernel_size={pool.kernel}, stride={stride}, padding={pool.padding}{ceil})"
    out = (c, h_out, w_out)
    return _elementwise(op, out, elements(out) * pool.kernel * pool.kernel)


def adaptive_avgpool_cost(shape: Shape, pool: AdaptiveAvgPool) -> LayerCost:
    """Adaptive average pooling to (C, output, output): one add per window element."""
    c, h, w = _spatial(shape, "adaptive_avgpool")
    flops = c * adaptive_window_total(h, pool.output) * adaptive_window_total(w, pool.output)
    return _elementwise(f"AdaptiveAvgPool2d(output_size={pool.output})", (c, pool.output, pool.output), flops)


def _fmt(shape: Shape) -> str:
    return "x".join(map(str, shape))


class _Deriver:
    """Walks the layer list, inferring shapes and naming layers; the DAG edges of residual blocks."""

    def __init__(self, arch: CNNArchitecture) -> None:
        self.shape: Shape = tuple(arch.input_shape)
        self.last: str | None = None  # the layer whose output is the current tensor (None: the input)
        self.layers: list[DerivedLayer] = []
        self.names: set[str] = set()

    def emit(
        self,
        path: tuple[str | int, ...],
        name: str,
        compute: Callable[[Shape], LayerCost],
        inputs: tuple[str, ...] | None = None,
        shape: Shape | None = None,
    ) -> None:
        """Add one layer computed by `compute(input_shape)`; errors become FieldValueError at `path`."""
        source = self.shape if shape is None else shape
        if name in self.names:
            raise FieldValueError(path, f"layer name '{name}' is used twice")
        try:
            cost = compute(source)
        except ValueError as exc:
            raise FieldValueError(path, f"layer '{name}' (input {_fmt(source)}): {exc}") from None
        if max(cost.parameters, cost.macs, elements(cost.output_shape)) > MAX_LAYER_SIZE:
            raise FieldValueError(  # a typo in a shape: its sizes would overflow int64 sums downstream
                path,
                f"layer '{name}' (input {_fmt(source)}): expected at most {MAX_LAYER_SIZE:.0e} parameters, "
                "MACs and output values per sample",
            )
        self.layers.append(
            DerivedLayer(
                name,
                cost.op,
                source,
                cost.output_shape,
                cost.parameters,
                cost.macs,
                cost.forward_flops,
                cost.backward_flops,
                inputs,
                path,
            )
        )
        self.names.add(name)
        self.shape, self.last = cost.output_shape, name

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
                self.emit(where, prefix + name, _simple(layer))

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
            self.emit(
                path,
                f"{prefix}conv{number}",
                lambda s, c=conv: conv_cost(s, c),
                entry if number == 1 else None,
            )
            self.emit(path, f"{prefix}bn{number}", batchnorm_cost)
            if number < len(convs):
                self.emit(path, f"{prefix}relu{number}", relu_cost)
        main, main_shape = self.last, self.shape
        shortcut, shortcut_shape = source, source_shape
        if stride != 1 or source_shape[0] != out_channels:
            down = Conv(out=out_channels, kernel=1, stride=stride, bias=False)
            self.emit(
                path, f"{prefix}downsample.0", lambda s: conv_cost(s, down), entry or (), shape=source_shape
            )
            self.emit(path, f"{prefix}downsample.1", batchnorm_cost)
            shortcut, shortcut_shape = self.last, self.shape
        assert main is not None
        inputs = (main,) if shortcut is None else (main, shortcut)
        self.emit(path, f"{prefix}add", lambda s: add_cost(main_shape, shortcut_shape), inputs, main_shape)
        self.emit(path, f"{prefix}relu{len(convs)}", relu_cost)


def _simple(layer: LayerSpec) -> Callable[[Shape], LayerCost]:
    """The cost function of a layer without sub-layers, taking the input shape."""
    if isinstance(layer, Conv):
        return lambda s: conv_cost(s, layer)
    if isinstance(layer, Linear):
        return lambda s: linear_cost(s, layer)
    if isinstance(layer, BatchNorm):
        return batchnorm_cost
    if isinstance(layer, ReLU):
        return relu_cost
    if isinstance(layer, Dropout):
        return lambda s: dropout_cost(s, layer)
    if isinstance(layer, (MaxPool, AvgPool)):
        return lambda s: pool_cost(s, layer)
    if isinstance(layer, AdaptiveAvgPool):
        return lambda s: adaptive_avgpool_cost(s, layer)
    if isinstance(layer, Flatten):
        return flatten_cost
    raise TypeError(f"not a layer: {layer!r}")


def derive_layers(arch: CNNArchitecture) -> tuple[DerivedLayer, ...]:
    """Every layer of `arch` in execution order with its shapes and costs, per sample.

    Raises FieldValueError (a ValueError) naming the spec entry and the layer for an impossible shape:
    a kernel larger than its input, groups that do not divide the channels, an fc on an unflattened
    input, a residual add of different shapes, or a duplicate layer name.
    """
    deriver = _Deriver(arch)
    deriver.walk(arch.layers, ("layers",), "", {})
    return tuple(deriver.layers)


def parameter_count(arch: CNNArchitecture) -> int:
    """Trainable parameters of the whole network (as torchvision counts them)."""
    return sum(layer.parameters for layer in derive_layers(arch))


def mac_count(arch: CNNArchitecture) -> int:
    """Multiply-accumulates of one forward pass of one sample (conv and linear layers)."""
    return sum(layer.macs for layer in derive_layers(arch))


def derive_profile(arch: CNNArchitecture, batch_size: int = 1) -> ModelProfile:
    """The layer profile of `arch` for one minibatch of `batch_size` samples.

    Always `per: minibatch` with `batch_size` set: FLOP and activation bytes are for `batch_size`
    samples (batch_size=1 gives the per-sample figures); parameters do not scale. Residual blocks form a
    DAG: a block's first conv and its downsample conv name the block input in `inputs`, and its add names
    both branches. Layer FLOP and bytes follow the module docstring.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    layers = tuple(
        Layer(
            name=layer.name,
            op=layer.op,
            forward_flops=float(layer.forward_flops * batch_size),
            backward_flops=float(layer.backward_flops * batch_size),
            parameters=layer.parameters,
            output_bytes=float(activation_bytes(layer.output_shape, arch.dtype, batch_size)),
            inputs=layer.inputs,
        )
        for layer in derive_layers(arch)
    )
    return ModelProfile(
        spec="profile",
        name=arch.name,
        per="minibatch",
        layers=layers,
        batch_size=batch_size,
        dtype=arch.dtype,
        description=arch.description,
        source=f"derived from the '{arch.name}' architecture by planner.cost.layers"
        + (f" ({arch.source})" if arch.source else ""),
    )
