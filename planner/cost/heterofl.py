"""HeteroFL sub-model widths: each client trains the widest sub-model its compute and memory allow.

Diao, Ding, Tarokh, "HeteroFL: Computation and Communication Efficient Federated Learning for
Heterogeneous Clients", ICLR 2021, Sec. 3.1: the model at complexity level p keeps a fraction
r^(p−1) of every hidden layer's channels (r = 0.5 and five levels in the paper), so a hidden layer's
parameters and FLOP scale by r^(2(p−1)): both its input and its output channels shrink. The input's
channels and the classifier's outputs do not shrink, so the whole model scales a little less than
r^(2(p−1)); `scale_architecture` builds the actual sub-network of a CNN and both figures are reported.

A client fits level p when its training memory at that level (planner.cost.memory.training_memory: model
states plus the activations of its local batch) is within its device's memory × `memory_fraction`, and,
with a deadline, its round time at that level (download + local training + upload of the sub-model,
planner.cost.federated) is within the deadline. Levels are tried from the widest (p = 1) down.
Units: seconds, bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from planner.cost.compute import LayerArrays
from planner.cost.memory import training_memory
from planner.spec.architecture import BasicBlock, Bottleneck, CNNArchitecture, CNNLayer, Conv, Linear, Repeat
from planner.spec.profile import ModelProfile

FloatArray = npt.NDArray[np.float64]


def level_width(ratio: float, level: npt.ArrayLike) -> FloatArray:
    """Width multiplier of level p: r^(p−1) (Diao et al. 2021, Sec. 3.1)."""
    _check_ratio(ratio)
    return np.power(ratio, np.asarray(level, dtype=float) - 1.0)


def parameter_fraction(ratio: float, level: npt.ArrayLike) -> FloatArray:
    """Parameters (and FLOP) of level p relative to the full model, hidden layers: r^(2(p−1))."""
    return np.square(level_width(ratio, level))


def _check_ratio(ratio: float) -> None:
    if not 0 < ratio < 1:
        raise ValueError(f"the width ratio r must be in (0, 1), got {ratio}")


def _scaled(channels: int, width: float) -> int:
    """HeteroFL's rounding of a shrunk channel count: ceil(width × channels), at least 1."""
    return max(1, math.ceil(width * channels - 1e-9))


def scale_architecture(arch: CNNArchitecture, width: float) -> CNNArchitecture:
    """The sub-network of `arch` with every hidden layer's channels × `width` (rounded up): convolutions'
    outputs, ResNet blocks' planes and hidden fully connected layers; the input and the last fully
    connected layer (the classifier) keep their sizes. Raises ValueError when a grouped convolution's
    channels stop dividing by its groups."""
    if not 0 < width <= 1:
        raise ValueError(f"width must be in (0, 1], got {width}")
    if width == 1:
        return arch
    kinds = [entry.kind for entry in arch.layers]
    last_fc = max((i for i, kind in enumerate(kinds) if kind in ("fc", "linear")), default=-1)

    def shrink(entry: CNNLayer, classifier: bool) -> CNNLayer:
        layer = entry.layer
        if isinstance(layer, Conv):
            return CNNLayer.of(replace(layer, out=_scaled(layer.out, width)))
        if isinstance(layer, (Bottleneck, BasicBlock)):
            return CNNLayer.of(replace(layer, planes=_scaled(layer.planes, width)))
        if isinstance(layer, Linear) and not classifier:
            return CNNLayer.of(replace(layer, out=_scaled(layer.out, width)))
        if isinstance(layer, Repeat):
            return CNNLayer.of(replace(layer, layers=tuple(shrink(inner, False) for inner in layer.layers)))
        return entry

    layers = tuple(shrink(entry, i == last_fc) for i, entry in enumerate(arch.layers))
    try:
        return replace(arch, name=f"{arch.name}-w{width:g}", layers=layers)
    except ValueError as exc:
        raise ValueError(f"{arch.name} at width {width:g}: {exc}") from None


@dataclass(frozen=True)
class Level:
    """One HeteroFL complexity level of a model: its width and its per-sample layer vectors."""

    level: int
    width: float
    formula_fraction: float  # r^(2(p−1))
    arrays: LayerArrays

    @property
    def parameters(self) -> int:
        return int(self.arrays.parameters.sum())

    def memory_bytes(self, batch: int, dtype: str, optimizer: str) -> float:
        """Training memory at a local batch: model states + the batch's activations (planner.cost.memory)."""
        activations = float(self.arrays.output_bytes.sum()) * self.arrays.dtype_scale(dtype) * batch
        return training_memory(self.parameters, activations, dtype, optimizer).total_bytes


def model_levels(model: CNNArchitecture | ModelProfile, ratio: float, levels: int) -> list[Level]:
    """Levels 1..`levels` of a catalog model: a CNN architecture is shrunk layer by layer
    (scale_architecture); any other profile is scaled by the formula (parameters, weight bytes, FLOP and
    measured times × r^(2(p−1)), activations × r^(p−1): they have the layer's output channels)."""
    from planner.cost.compute import layer_arrays
    from planner.cost.layers import derive_profile

    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    _check_ratio(ratio)
    found = []
    base = None if isinstance(model, CNNArchitecture) else layer_arrays(model)
    for level in range(1, levels + 1):
        width = float(level_width(ratio, level))
        fraction = width * width
        if base is None:
            assert isinstance(model, CNNArchitecture)
            arrays = layer_arrays(derive_profile(scale_architecture(model, width), 1))
        else:
            arrays = _scaled_arrays(base, width)
        found.append(Level(level, width, fraction, arrays))
    return found


def _scaled_arrays(arrays: LayerArrays, width: float) -> LayerArrays:
    """A profile's vectors scaled as a width-`width` sub-model (the formula: see model_levels)."""
    fraction = width * width

    def times(values: FloatArray | None) -> FloatArray | None:
        return None if values is None else values * fraction

    return replace(
        arrays,
        parameters=np.rint(arrays.parameters * fraction).astype(np.int64),
        parameter_bytes=arrays.parameter_bytes * fraction,
        output_bytes=arrays.output_bytes * width,
        input_bytes=arrays.input_bytes * width,
        forward_flops=times(arrays.forward_flops),
        backward_flops=times(arrays.backward_flops),
        forward_time=times(arrays.forward_time),
        backward_time=times(arrays.backward_time),
    )


def assign_levels(
    times_s: npt.ArrayLike, memory_bytes: npt.ArrayLike, budget_bytes: npt.ArrayLike, deadline: float | None
) -> npt.NDArray[np.int64]:
    """Each client's level: the widest (smallest p, 1-based) whose training memory is within its budget
    and, with a deadline, whose round time is within it; 0 where no level fits.

    `times_s` and `memory_bytes`: [level, client], levels from the widest; `budget_bytes`: per client."""
    times = np.asarray(times_s, dtype=float)
    fits = np.asarray(memory_bytes, dtype=float) <= np.asarray(budget_bytes, dtype=float)[None, :]
    if deadline is not None:
        fits &= times <= deadline
    first = np.argmax(fits, axis=0)
    return np.where(fits.any(axis=0), first + 1, 0).astype(np.int64)
