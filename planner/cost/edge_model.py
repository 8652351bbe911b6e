"""A model as the edge-inference planners see it: one forward pass of one sample, layer by layer.

Every edge planner (ADCNN tiles, Neurosurgeon split, early exits, MoDNN) needs the same few figures per
layer: forward FLOP, weight bytes, input and output activation bytes, and for CNN architectures the
shapes that make spatial partitioning possible. `EdgeModel` holds them as numpy vectors; `layer_times`
turns any share of them into seconds on a device with the roofline of planner.cost.compute (Williams,
Waterman, Patterson, CACM 2009): time = max(F / sustained FLOP/s, bytes / sustained memory bandwidth).

A layer running on a `share` s of its output (a spatial tile, a band of rows, a slice of output neurons)
performs s·F FLOP and moves W + s·(X + Y) bytes: every tile reads all of the layer's weights W, and its
share of the input X and output Y activations. Measured profiles (times, no FLOP) scale time by s and by
the ratio of sustained compute between the device measured on and the target (compute-bound).

Transfers use the alpha-beta model of a `Link`: latency per message + bytes / (bandwidth × efficiency).

Units: FLOP, bytes, seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.cost.compute import forward_bytes, layer_arrays, roofline_time, sustained_compute
from planner.spec.architecture import CNNArchitecture
from planner.spec.hardware import Device, Link
from planner.spec.profile import ModelProfile

FloatArray = npt.NDArray[np.float64]
Shape = tuple[int, ...]


@dataclass(frozen=True)
class EdgeModel:
    """Per-layer forward figures for one sample (batch 1), in execution order.

    `input_bytes[i]` is what layer i reads (its predecessors' outputs; the model input for a layer
    without predecessors); `image_bytes` is the model input itself, what a cloud offload uploads.
    `shapes_in` / `shapes_out` are (C, H, W) or (features,) for CNN architectures, None for profiles.
    `measured_time` (s per sample on `measured_on`) replaces FLOP for measured profiles.
    """

    name: str
    names: tuple[str, ...]
    ops: tuple[str, ...]
    flops: FloatArray
    weight_bytes: FloatArray
    input_bytes: FloatArray
    output_bytes: FloatArray
    predecessors: tuple[tuple[int, ...], ...]
    image_bytes: float
    dtype: str
    shapes_in: tuple[Shape, ...] | None = None
    shapes_out: tuple[Shape, ...] | None = None
    measured_time: FloatArray | None = None
    measured_on: Device | None = None

    @property
    def size(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Position of the layer called `name`; ValueError lists a few names when it is unknown."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(
                f"no layer '{name}' in {self.name} (layers: {', '.join(self.names[:6])}, ...)"
            ) from None

    def is_spatial(self, index: int) -> bool:
        """True when layer `index` outputs a (C, H, W) feature map (CNN architectures only)."""
        return self.shapes_out is not None and len(self.shapes_out[index]) == 3

    def crossing_bytes(self, split: int) -> float:
        """Bytes that cross a cut placing layers [0, split) on one side and [split, n) on the other:
        the outputs of earlier layers that a later layer reads, or the model input when split is 0."""
        if split <= 0:
            return self.image_bytes
        if split >= self.size:
            return 0.0
        needed = {p for i in range(split, self.size) for p in self.predecessors[i] if p < split}
        return float(sum(self.output_bytes[p] for p in needed))

    def single_cut(self, index: int) -> bool:
        """True when layer `index`'s output is the only tensor the layers after it read (a clean cut)."""
        return all(p >= index for i in range(index + 1, self.size) for p in self.predecessors[i])


def from_architecture(arch: CNNArchitecture, input_dtype: str | None = None) -> EdgeModel:
    """The EdgeModel of a CNN architecture (planner.cost.layers), batch 1.

    `input_dtype` sets the bytes of the model input (e.g. int8 for a uint8 camera image); default: the
    architecture's dtype, like every other activation.
    """
    from planner.cost.layers import activation_bytes, derive_layers, derive_profile

    derived = derive_layers(arch)
    profile = derive_profile(arch, 1)
    image = float(activation_bytes(tuple(arch.input_shape), input_dtype or arch.dtype))
    model = from_profile(profile, image_bytes=image)
    return EdgeModel(
        **{
            **model.__dict__,
            "shapes_in": tuple(layer.input_shape for layer in derived),
            "shapes_out": tuple(layer.output_shape for layer in derived),
        }
    )


def from_profile(
    profile: ModelProfile,
    image_bytes: float | None = None,
    measured_on: Device | None = None,
    samples: int | None = None,
) -> EdgeModel:
    """The EdgeModel of a layer profile (FLOP-derived or measured), per sample.

    `image_bytes`: the model input's size; default the outputs of the profile's input layers
    (PipeDream's Input node). `samples`: the minibatch a profile's figures cover when it does not say
    (compute.layer_arrays divides by it: per-sample time = minibatch time / samples, linear in the
    batch). Raises ValueError when the input size or minibatch is unknown, or when the profile is
    measured and `measured_on` is not given.
    """
    arrays = layer_arrays(profile, samples)
    preds = tuple(tuple(profile.predecessors(i)) for i in range(len(profile.layers)))
    if image_bytes is None:
        sources = [i for i, layer in enumerate(profile.layers) if layer.is_input]
        if not sources:
            raise ValueError(f"profile '{profile.name}' has no input layer; give the size of the model input")
        image_bytes = float(sum(arrays.output_bytes[i] for i in sources))
    inputs = arrays.input_bytes.copy()
    for i, layer in enumerate(profile.layers):
        if not preds[i] and not layer.is_input:
            inputs[i] += image_bytes
    measured = arrays.forward_time if arrays.measured else None
    if measured is not None and measured_on is None:
        raise ValueError(f"profile '{profile.name}' is measured: say which device it was measured on")
    return EdgeModel(
        name=profile.name,
        names=arrays.names,
        ops=tuple(layer.op for layer in profile.layers),
        flops=np.zeros(len(arrays.names)) if arrays.forward_flops is None else arrays.forward_flops,
        weight_bytes=arrays.parameter_bytes,
        input_bytes=inputs,
        output_bytes=arrays.output_bytes,
        predecessors=preds,
        image_bytes=float(image_bytes),
        dtype=profile.dtype,
        measured_time=measured,
        measured_on=measured_on,
    )


def compute_dtype(model: EdgeModel, device: Device) -> str:
    """The dtype the device computes the model in: the model's own, if the device lists a peak for it."""
    if model.dtype not in device.peak_compute:
        raise ValueError(
            f"{device.name} lists no {model.dtype} peak (it lists {', '.join(device.peak_compute)}); "
            f"{model.name} is {model.dtype}"
        )
    return model.dtype


def layer_times(
    model: EdgeModel, device: Device, share: float | FloatArray = 1.0, layers: slice | None = None
) -> FloatArray:
    """Forward seconds of each layer on `device` when it computes `share` of the layer's output.

    FLOP profiles: roofline of share·F FLOP and W + share·(X + Y) bytes (module docstring).
    Measured profiles: measured time × share × sustained(measured_on) / sustained(device).
    `share` broadcasts against the layers (a scalar, or one value per selected layer).
    """
    sel = slice(None) if layers is None else layers
    share = np.asarray(share, dtype=float)
    dtype = compute_dtype(model, device)
    if model.measured_time is not None:
        assert model.measured_on is not None
        scale = sustained_compute(model.measured_on, dtype) / sustained_compute(device, dtype)
        return model.measured_time[sel] * share * scale
    moved = forward_bytes(
        model.weight_bytes[sel], model.input_bytes[sel] * share, model.output_bytes[sel] * share
    )
    return roofline_time(model.flops[sel] * share, moved, device, dtype)


def model_time(model: EdgeModel, device: Device, start: int = 0, stop: int | None = None) -> float:
    """Forward seconds of layers [start, stop) run whole on one device."""
    return float(layer_times(model, device, 1.0, slice(start, stop)).sum())


def transfer_time(nbytes: npt.ArrayLike, link: Link, messages: npt.ArrayLike = 1) -> FloatArray:
    """Alpha-beta time of sending `nbytes` as `messages` messages over `link` (Hockney 1994):
    messages × latency + bytes / (bandwidth × efficiency). Zero bytes in zero messages cost nothing."""
    return np.asarray(messages, dtype=float) * link.latency + np.asarray(nbytes, dtype=float) / (
        link.effective_bandwidth
    )
