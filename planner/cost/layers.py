"""Per-layer costs of CNNs: shapes, parameters, MACs / FLOPs and activation sizes.

Units: shapes in elements (C, H, W) or (features,), per sample; parameters are counts of scalar weights;
MACs are multiply-accumulates and FLOP counts use 1 MAC = 2 FLOP; activation sizes are bytes.

Conventions and sources:

* Shapes, parameters and MACs come from the architecture's shape inference (planner.spec.cnn_shapes,
  PyTorch's formulas); parameters count what `sum(p.numel() for p in model.parameters())` counts: conv
  weights and biases, linear weights and biases, batch-norm scale and shift (running statistics are
  buffers).
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

from dataclasses import dataclass

from planner.spec.architecture import (
    AdaptiveAvgPool,
    AvgPool,
    BatchNorm,
    CNNArchitecture,
    Conv,
    Dropout,
    Flatten,
    Linear,
    MaxPool,
    ReLU,
)
from planner.spec.cnn_shapes import ResidualAdd, Shape, ShapedLayer, elements, shape_layers
from planner.spec.profile import DTYPE_BYTES, Layer, ModelProfile

RELU_FLOPS_PER_ELEMENT = 1
DROPOUT_FLOPS_PER_ELEMENT = 1
ADD_FLOPS_PER_ELEMENT = 1
BATCHNORM_FLOPS_PER_ELEMENT = 7
BACKWARD_PER_FORWARD_MATMUL = 2.0  # conv / linear: data gradient + weight gradient
BACKWARD_PER_FORWARD_ELEMENTWISE = 1.0


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


def activation_bytes(shape: Shape, dtype: str, batch_size: int = 1) -> int:
    """Bytes of an activation of per-sample `shape` for `batch_size` samples: elements × dtype size."""
    return elements(shape) * DTYPE_BYTES[dtype] * batch_size


def adaptive_window_total(size: int, output: int) -> int:
    """Sum of the window lengths of adaptive pooling from `size` to `output` along one axis.

    Window i covers [floor(i·size/output), ceil((i+1)·size/output)) as in torch.nn.AdaptiveAvgPool2d.
    """
    return sum(-(-(i + 1) * size // output) - (i * size // output) for i in range(output))


def forward_flops(shaped: ShapedLayer) -> int:
    """Forward FLOP of one layer per sample (module docstring): 2·MACs plus the bias adds of conv and
    linear layers, the arithmetic per element of elementwise layers, one per window element of pools."""
    layer, out = shaped.layer, elements(shaped.output_shape)
    if isinstance(layer, (Conv, Linear)):
        return 2 * shaped.macs + (out if layer.bias else 0)
    if isinstance(layer, (MaxPool, AvgPool)):
        return out * layer.kernel * layer.kernel
    if isinstance(layer, AdaptiveAvgPool):
        c, h, w = shaped.input_shape
        return c * adaptive_window_total(h, layer.output) * adaptive_window_total(w, layer.output)
    per_element = {
        BatchNorm: BATCHNORM_FLOPS_PER_ELEMENT,
        ReLU: RELU_FLOPS_PER_ELEMENT,
        Dropout: DROPOUT_FLOPS_PER_ELEMENT,
        ResidualAdd: ADD_FLOPS_PER_ELEMENT,
        Flatten: 0,  # a view
    }
    return per_element[type(layer)] * out


def op_name(shaped: ShapedLayer) -> str:
    """The layer as PyTorch writes it (`Conv2d(3, 64, kernel_size=7, stride=2, ...)`): the settings that
    differ from PyTorch's defaults."""
    layer, shape = shaped.layer, shaped.input_shape
    if isinstance(layer, Conv):
        settings = [
            f"stride={layer.stride}" if layer.stride != 1 else "",
            f"padding={layer.padding}" if layer.padding else "",
            f"dilation={layer.dilation}" if layer.dilation != 1 else "",
            f"groups={layer.groups}" if layer.groups != 1 else "",
            "" if layer.bias else "bias=False",
        ]
        args = [str(shape[0]), str(layer.out), f"kernel_size={layer.kernel}", *filter(None, settings)]
        return f"Conv2d({', '.join(args)})"
    if isinstance(layer, Linear):
        return f"Linear(in_features={shape[0]}, out_features={layer.out}, bias={layer.bias})"
    if isinstance(layer, BatchNorm):
        return f"BatchNorm{2 if len(shape) == 3 else 1}d({shape[0]})"
    if isinstance(layer, (MaxPool, AvgPool)):
        kind = "MaxPool2d" if isinstance(layer, MaxPool) else "AvgPool2d"
        ceil = ", ceil_mode=True" if layer.ceil_mode else ""
        stride = layer.stride or layer.kernel
        return f"{kind}(kernel_size={layer.kernel}, stride={stride}, padding={layer.padding}{ceil})"
    if isinstance(layer, AdaptiveAvgPool):
        return f"AdaptiveAvgPool2d(output_size={layer.output})"
    if isinstance(layer, Dropout):
        return f"Dropout(p={layer.p:g})"
    return {ReLU: "ReLU()", ResidualAdd: "Add()", Flatten: "Flatten()"}[type(layer)]


def derive_layers(arch: CNNArchitecture) -> tuple[DerivedLayer, ...]:
    """Every layer of `arch` in execution order with its shapes and costs, per sample (FieldValueError
    for an impossible shape: planner.spec.cnn_shapes.shape_layers)."""
    derived = []
    for shaped in shape_layers(arch):
        forward = forward_flops(shaped)
        backward = (
            BACKWARD_PER_FORWARD_MATMUL
            if isinstance(shaped.layer, (Conv, Linear))
            else BACKWARD_PER_FORWARD_ELEMENTWISE
        )
        derived.append(
            DerivedLayer(
                shaped.name,
                op_name(shaped),
                shaped.input_shape,
                shaped.output_shape,
                shaped.parameters,
                shaped.macs,
                forward,
                backward * forward,
                shaped.inputs,
                shaped.path,
            )
        )
    return tuple(derived)


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
