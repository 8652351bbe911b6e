"""CNN architectures described layer by layer; their shapes are inferred by planner.spec.cnn_shapes and
their profiles derived by planner.cost.layers.

A `spec: cnn` file gives the input shape (C, H, W) and a list of layers. Each layer is a one-key mapping
whose key is the layer type and whose value holds its settings (`{}` when there are none)::

    input_shape: [3, 224, 224]
    layers:
      - conv: {out: 64, kernel: 7, stride: 2, padding: 3, bias: false}
      - bn: {}
      - relu: {}
      - maxpool: {kernel: 3, stride: 2, padding: 1}
      - bottleneck: {planes: 64, blocks: 3, name: layer1}
      - adaptive_avgpool: {output: 1}
      - flatten: {}
      - fc: {out: 1000}

Layer types follow torch.nn: conv (Conv2d), bn (BatchNorm2d, or BatchNorm1d after flatten), relu,
maxpool / avgpool (MaxPool2d / AvgPool2d), adaptive_avgpool, flatten, fc or linear (Linear), dropout;
the residual blocks `basic` and `bottleneck` of torchvision's ResNet (v1.5: the stride sits on the 3x3
convolution), `blocks` of them in a row with the stride on the first; and `repeat`, which writes its
layers `times` times.

Names: a layer without `name` is called after its type and position, counted per type within its
scope (conv1, conv2, relu1, ...; avgpool counts both pools that average, fc counts linear too). A
block's layers are named `<block>.<index>.<layer>` as in torchvision (layer1.0.conv1, layer1.0.add,
layer1.0.downsample.0); an unnamed `repeat` just writes its layers in place, a named one nests them as
`<name>.<iteration>.<layer>`. Shapes are checked when the file loads; an impossible layer is reported
at its line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from planner.spec.profile import DTYPE_BYTES
from planner.spec.schema import FieldValueError, spec_field

_NAME_DOC = "layer name, unique in the model (default: the type and a count, e.g. conv3)"


@dataclass(frozen=True)
class Conv:
    """2-D convolution (torch.nn.Conv2d) with a square kernel."""

    out: int = spec_field("output channels", minimum=1)
    kernel: int = spec_field("kernel size (square), pixels", minimum=1)
    stride: int = spec_field("stride, pixels", minimum=1, default=1)
    padding: int = spec_field("zero padding on each side, pixels", minimum=0, default=0)
    dilation: int = spec_field("spacing between kernel taps, pixels", minimum=1, default=1)
    groups: int = spec_field(
        "channel groups: input and output channels must be multiples", minimum=1, default=1
    )
    bias: bool = spec_field("a learned bias per output channel", default=True)
    name: str | None = spec_field(_NAME_DOC, default=None)


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation with a learned scale and shift per channel (BatchNorm2d / BatchNorm1d)."""

    name: str | None = spec_field(_NAME_DOC, default=None)


@dataclass(frozen=True)
class ReLU:
    """Rectified linear unit, elementwise."""

    name: str | None = spec_field(_NAME_DOC, default=None)


@dataclass(frozen=True)
class MaxPool:
    """2-D max pooling (torch.nn.MaxPool2d) with a square window."""

    kernel: int = spec_field("window size (square), pixels", minimum=1)
    stride: int | None = spec_field("stride, pixels (default: the kernel size)", minimum=1, default=None)
    padding: int = spec_field(
        "implicit padding on each side, pixels (at most half the kernel)", minimum=0, default=0
    )
    ceil_mode: bool = spec_field("round the output size up instead of down", default=False)
    name: str | None = spec_field(_NAME_DOC, default=None)


@dataclass(frozen=True)
class AvgPool:
    """2-D average pooling (torch.nn.AvgPool2d) with a square window."""

    kernel: int = spec_field("window size (square), pixels", minimum=1)
    stride: int | None = spec_field("stride, pixels (default: the kernel size)", minimum=1, default=None)
    padding: int = spec_field(
        "implicit zero padding on each side, pixels (at most half the kernel)", minimum=0, default=0
    )
    ceil_mode: bool = spec_field("round the output size up instead of down", default=False)
    name: str | None = spec_field(_NAME_DOC, default=None)


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d), square."""

    output: int = spec_field("output height and width, pixels", minimum=1, default=1)
    name: str | None = spec_field(_NAME_DOC, default=None)


@dataclass(frozen=True)
class Flatten:
    """Flatten (C, H, W) to C·H·W features (torch.nn.Flatten)."""

    name: str | None = spec_field(_NAME_DOC, default=None)


@dataclass(frozen=True)
class Linear:
    """Fully connected layer (torch.nn.Linear) on a flat input."""

    out: int = spec_field("output features", minimum=1)
    bias: bool = spec_field("a learned bias per output feature", default=True)
    name: str | None = spec_field(_NAME_DOC, default=None)


@dataclass(frozen=True)
class Dropout:
    """Dropout (training mode): zero each element with probability p and rescale the rest."""

    p: float = spec_field("probability of zeroing an element", minimum=0, maximum=1, default=0.5)
    name: str | None = spec_field(_NAME_DOC, default=None)


@dataclass(frozen=True)
class Bottleneck:
    """ResNet bottleneck blocks as torchvision's `Bottleneck` (ResNet v1.5).

    Each block: 1x1 conv to `width` = planes·(base_width/64)·groups channels, bn, relu; 3x3 conv with
    the stride and groups, bn, relu; 1x1 conv to planes·4 channels, bn; plus the shortcut (a 1x1 conv
    with the stride and a bn when the shape changes, else the identity); relu. Convolutions carry no
    bias. He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, arXiv:1512.03385.
    """

    expansion = 4

    planes: int = spec_field("torchvision's planes: the block outputs planes·4 channels", minimum=1)
    blocks: int = spec_field("blocks in a row (a ResNet stage)", minimum=1, default=1)
    stride: int = spec_field("stride of the first block's 3x3 conv (the others have 1)", minimum=1, default=1)
    groups: int = spec_field("groups of the 3x3 conv (ResNeXt cardinality)", minimum=1, default=1)
    base_width: int = spec_field(
        "width per group; 64 for ResNet, 4 for ResNeXt-32x4d, 128 for Wide ResNet-2", minimum=1, default=64
    )
    name: str | None = spec_field("name of the stage (default: bottleneck<n>)", default=None)


@dataclass(frozen=True)
class BasicBlock:
    """ResNet basic blocks as torchvision's `BasicBlock` (ResNet-18/34).

    Each block: 3x3 conv with the stride, bn, relu; 3x3 conv, bn; plus the shortcut (1x1 conv with the
    stride and bn when the shape changes, else the identity); relu. Convolutions carry no bias.
    """

    expansion = 1

    planes: int = spec_field("output channels of each block", minimum=1)
    blocks: int = spec_field("blocks in a row (a ResNet stage)", minimum=1, default=1)
    stride: int = spec_field(
        "stride of the first block's first conv (the others have 1)", minimum=1, default=1
    )
    name: str | None = spec_field("name of the stage (default: basic<n>)", default=None)


@dataclass(frozen=True)
class Repeat:
    """The given layers, `times` times in a row."""

    times: int = spec_field("how many times to repeat the layers", minimum=1)
    layers: tuple[CNNLayer, ...] = spec_field("the layers to repeat", min_items=1)
    name: str | None = spec_field(
        "if given, the layers are named <name>.<iteration>.<layer>; if not, they are written in place",
        default=None,
    )


LayerSpec = (
    Conv
    | BatchNorm
    | ReLU
    | MaxPool
    | AvgPool
    | AdaptiveAvgPool
    | Flatten
    | Linear
    | Dropout
    | Bottleneck
    | BasicBlock
    | Repeat
)


@dataclass(frozen=True)
class CNNLayer:
    """One entry of a layer list: a one-key mapping from the layer type to its settings."""

    conv: Conv | None = spec_field("2-D convolution", default=None)
    bn: BatchNorm | None = spec_field("batch normalisation", default=None)
    relu: ReLU | None = spec_field("ReLU", default=None)
    maxpool: MaxPool | None = spec_field("max pooling", default=None)
    avgpool: AvgPool | None = spec_field("average pooling", default=None)
    adaptive_avgpool: AdaptiveAvgPool | None = spec_field("average pooling to a fixed size", default=None)
    flatten: Flatten | None = spec_field("flatten to features", default=None)
    fc: Linear | None = spec_field("fully connected layer", default=None)
    linear: Linear | None = spec_field("fully connected layer (same as fc)", default=None)
    dropout: Dropout | None = spec_field("dropout", default=None)
    bottleneck: Bottleneck | None = spec_field("ResNet bottleneck blocks", default=None)
    basic: BasicBlock | None = spec_field("ResNet basic blocks", default=None)
    repeat: Repeat | None = spec_field("layers repeated", default=None)

    def __post_init__(self) -> None:
        given = [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]
        if len(given) != 1:
            accepted = ", ".join(f.name for f in dataclasses.fields(self))
            got = (
                f"got {', '.join(given)}"
                if given
                else "got none (write `relu: {}` for a layer without settings)"
            )
            raise ValueError(f"expected exactly one layer type as the key, {got}; accepted: {accepted}")

    @property
    def kind(self) -> str:
        """The layer type, as written (fc and linear are the same layer)."""
        return next(f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None)

    @property
    def layer(self) -> LayerSpec:
        """The layer's settings."""
        return getattr(self, self.kind)

    @classmethod
    def of(cls, layer: LayerSpec) -> CNNLayer:
        """Wrap a layer's settings (e.g. `Conv(out=64, kernel=3)`) as a list entry."""
        return cls(**{LAYER_KINDS[type(layer)]: layer})


LAYER_KINDS: dict[type, str] = {
    Conv: "conv",
    BatchNorm: "bn",
    ReLU: "relu",
    MaxPool: "maxpool",
    AvgPool: "avgpool",
    AdaptiveAvgPool: "adaptive_avgpool",
    Flatten: "flatten",
    Linear: "fc",
    Dropout: "dropout",
    Bottleneck: "bottleneck",
    BasicBlock: "basic",
    Repeat: "repeat",
}


@dataclass(frozen=True)
class CNNArchitecture:
    """A convolutional network as a list of layers applied to an input of shape (C, H, W).

    Profiles (per-layer FLOPs, parameters, activation sizes) come from
    `planner.cost.layers.derive_profile(arch, batch_size)`.
    """

    spec: Literal["cnn"] = spec_field("file type marker: cnn")
    name: str = spec_field("catalog name, e.g. resnet50")
    input_shape: tuple[int, ...] = spec_field("input shape [channels, height, width]", min_items=3)
    layers: tuple[CNNLayer, ...] = spec_field("layers in order, each `- <type>: {<settings>}`", min_items=1)
    dtype: str = spec_field("dtype of parameters and activations", default="fp32")
    aliases: tuple[str, ...] = spec_field("other names the catalog finds it by", default=())
    description: str = spec_field("a human description", default="")
    source: str = spec_field("paper and reference implementation of the architecture", default="")

    def __post_init__(self) -> None:
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise FieldValueError(
                "input_shape", f"expected [channels, height, width], each >= 1, got {list(self.input_shape)}"
            )
        if self.dtype not in DTYPE_BYTES:
            raise FieldValueError(
                "dtype", f"dtype must be one of {', '.join(DTYPE_BYTES)}, got '{self.dtype}'"
            )
        from planner.spec.cnn_shapes import shape_layers  # it imports this module

        shape_layers(self)  # shape inference: raises FieldValueError at the first impossible layer
