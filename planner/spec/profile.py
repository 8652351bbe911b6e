"""Layer profiles of models: ordered layers with compute, parameter and activation sizes.

A profile is either measured (times) or derived (FLOPs), per sample or per minibatch, said explicitly.
Layers form a chain unless `inputs` names other producers (a DAG, e.g. ResNet's shortcuts).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from planner.spec.schema import FieldValueError, spec_field

DTYPE_BYTES = {"fp64": 8, "fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}


@dataclass(frozen=True)
class Layer:
    """One layer (a node of the model graph).

    Forward work is given as a time, as FLOPs, or both; backward likewise (absent backward work means
    the layer has none, e.g. an input). `output_bytes` is the size of the layer's output activation;
    a node with several outputs lists them in `output_parts` and `output_bytes` is their sum.
    """

    name: str = spec_field("layer name, unique in the profile")
    op: str = spec_field("what the layer computes, e.g. Conv2d(3, 64, kernel_size=3)", default="")
    forward_time: float | None = spec_field("measured forward time", unit="time", minimum=0, default=None)
    backward_time: float | None = spec_field("measured backward time", unit="time", minimum=0, default=None)
    forward_flops: float | None = spec_field(
        "forward FLOP (1 MAC = 2 FLOP)", unit="flops", minimum=0, default=None
    )
    backward_flops: float | None = spec_field("backward FLOP", unit="flops", minimum=0, default=None)
    parameters: int = spec_field("number of trainable parameters", minimum=0, default=0)
    parameter_bytes: float | None = spec_field(
        "bytes of the parameters (default: parameters × dtype size)", unit="memory", minimum=0, default=None
    )
    output_bytes: float = spec_field("bytes of the output activation", unit="memory", minimum=0, default=0.0)
    output_parts: tuple[float, ...] = spec_field(
        "sizes of each output of a multi-output node, bytes", default=()
    )
    inputs: tuple[str, ...] | None = spec_field(
        "names of the layers feeding this one (default: the previous layer)", default=None
    )
    is_input: bool = spec_field(
        "a data source (e.g. PipeDream's Input node), not a computation", default=False
    )

    def __post_init__(self) -> None:
        if self.forward_time is None and self.forward_flops is None and not self.is_input:
            raise FieldValueError("forward_time", f"layer '{self.name}' needs forward_time or forward_flops")


@dataclass(frozen=True)
class ModelProfile:
    """A model as a list of layers, with the batch its figures refer to.

    `per: sample` means every time, FLOP and activation size is for one sample; `per: minibatch` means
    for one minibatch of `batch_size` samples (PipeDream's profiles are per minibatch).
    """

    spec: Literal["profile"] = spec_field("file type marker: profile")
    name: str = spec_field("catalog name")
    per: Literal["sample", "minibatch"] = spec_field("whether figures are per sample or per minibatch")
    layers: tuple[Layer, ...] = spec_field("layers in execution order", min_items=1)
    # A per-minibatch profile may not know its batch size: PipeDream's graph.txt does not say.
    batch_size: int | None = spec_field("samples per minibatch the figures refer to", minimum=1, default=None)
    dtype: str = spec_field("dtype of parameters and activations", default="fp32")
    measured_on: str | None = spec_field("catalog device the times were measured on", default=None)
    torch_model: str | None = spec_field(
        "the PyTorch model profiled: a torchvision name, package.module:factory or a config.json path",
        default=None,
    )
    input_shape: tuple[int, ...] = spec_field(
        "shape of one sample fed to torch_model (a transformer: its sequence length)", default=()
    )
    threads: int | None = spec_field(
        "CPU threads the times were measured with (planner profile; verify runs each process with them)",
        minimum=1,
        default=None,
    )
    description: str = spec_field("a human description", default="")
    source: str = spec_field("where the profile comes from", default="")

    def __post_init__(self) -> None:
        if self.dtype not in DTYPE_BYTES:
            raise FieldValueError(
                "dtype", f"dtype must be one of {', '.join(DTYPE_BYTES)}, got '{self.dtype}'"
            )
        seen: set[str] = set()
        for index, layer in enumerate(self.layers):
            if layer.name in seen:
                raise FieldValueError(
                    ("layers", index, "name"), f"layer names must be unique; '{layer.name}' appears twice"
                )
            for producer in layer.inputs or ():
                if producer not in seen:
                    raise FieldValueError(
                        ("layers", index, "inputs"),
                        f"layer '{layer.name}' takes input from '{producer}', which is not an earlier layer",
                    )
            seen.add(layer.name)
        self._check_one_kind_of_work()

    def _check_one_kind_of_work(self) -> None:
        """Refuse a profile whose layers cannot all be costed the same way.

        A measured time is seconds on the device and dtype it was measured on; FLOP become seconds through
        a roofline of the target device. The two scale differently (a measured fp32 time says nothing of
        fp16 tensor cores), so a sum of both has no sound meaning: a profile is costed from times when
        every computing layer gives forward_time, else from FLOP, which every computing layer must then
        give. A backward figure only in the kind not used would be dropped silently: refused too.
        """
        computing = [(i, layer) for i, layer in enumerate(self.layers) if not layer.is_input]
        timeless = next(((i, layer) for i, layer in computing if layer.forward_time is None), None)
        flopless = next(((i, layer) for i, layer in computing if layer.forward_flops is None), None)
        if timeless is not None and flopless is not None:  # two layers (a layer gives one or both)
            later, earlier = sorted([timeless, flopless], key=lambda item: item[0], reverse=True)
            index, layer = later
            other_index, other = earlier
            gives, lacks = "forward_time", "forward_flops"
            if later is timeless:
                gives, lacks = lacks, gives
            raise FieldValueError(
                ("layers", index, lacks),
                f"layer '{layer.name}' gives {gives} but no {lacks}, while layers[{other_index}] "
                f"'{other.name}' gives {lacks} but no {gives}: a profile is costed from measured times or "
                "from FLOP, not both; give every computing layer forward_time, or every one forward_flops",
            )
        used, unused = ("time", "flops") if timeless is None else ("flops", "time")
        for index, layer in computing:
            if (
                getattr(layer, f"backward_{used}") is None
                and getattr(layer, f"backward_{unused}") is not None
            ):
                raise FieldValueError(
                    ("layers", index, f"backward_{unused}"),
                    f"layer '{layer.name}' gives backward_{unused} but no backward_{used}, and the profile "
                    f"is costed from {'measured times' if used == 'time' else 'FLOP'} (every computing "
                    f"layer gives forward_{used}): give backward_{used}",
                )

    def layer_parameter_bytes(self, layer: Layer) -> float:
        """Bytes of a layer's parameters, from the explicit size or the count × dtype size."""
        if layer.parameter_bytes is not None:
            return layer.parameter_bytes
        return layer.parameters * DTYPE_BYTES[self.dtype]

    def predecessors(self, index: int) -> list[int]:
        """Indices of the layers feeding layer `index` (the previous one unless `inputs` says)."""
        layer = self.layers[index]
        if layer.inputs is None:
            return [] if index == 0 or layer.is_input else [index - 1]
        return [self._positions[name] for name in layer.inputs]

    @cached_property
    def _positions(self) -> dict[str, int]:
        """Layer index by name, built once (a lookup per call made a whole profile's walk O(layers²))."""
        return {other.name: i for i, other in enumerate(self.layers)}


@dataclass(frozen=True)
class ProfileTotals:
    """Sums over all of a profile's layers, input layers included, as the profile states them (per sample
    or per minibatch). A time or FLOP total is None when some computing layer does not give it.
    """

    layers: int
    parameters: int
    parameter_bytes: float
    output_bytes: float
    forward_time: float | None
    backward_time: float | None
    forward_flops: float | None
    backward_flops: float | None


def profile_totals(profile: ModelProfile) -> ProfileTotals:
    """Sum each figure over the layers of `profile` (units: s, FLOP, bytes)."""

    def total(attr: str) -> float | None:
        # An input layer may omit work (it computes nothing); a computing layer that omits it makes the
        # total unknown. Work an input does state (PipeDream's Input carries data loading) is summed.
        values = [getattr(layer, attr) for layer in profile.layers]
        if any(v is None and not layer.is_input for v, layer in zip(values, profile.layers, strict=True)):
            return None
        return float(sum(v for v in values if v is not None))

    return ProfileTotals(
        layers=len(profile.layers),
        parameters=sum(layer.parameters for layer in profile.layers),
        parameter_bytes=float(sum(profile.layer_parameter_bytes(layer) for layer in profile.layers)),
        output_bytes=float(sum(layer.output_bytes for layer in profile.layers)),
        forward_time=total("forward_time"),
        backward_time=total("backward_time"),
        forward_flops=total("forward_flops"),
        backward_flops=total("backward_flops"),
    )


def samples_per_figure(profile: ModelProfile) -> int | None:
    """Samples a profile's figures cover: 1 per sample, the batch size per minibatch (None if unknown)."""
    return 1 if profile.per == "sample" else profile.batch_size


def has_work(profile: ModelProfile) -> bool:
    """Whether some layer besides the inputs takes time or FLOPs: a profile without any gives every
    planner nothing to plan (times and throughputs would divide by zero), so the loaders refuse it."""
    work = ("forward_time", "backward_time", "forward_flops", "backward_flops")
    return any(getattr(layer, w) for layer in profile.layers if not layer.is_input for w in work)
