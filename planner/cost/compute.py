"""Time of a layer's computation on a device: the roofline model, vectorised over layers (and batches).

Source: S. Williams, A. Waterman and D. Patterson, "Roofline: an insightful visual performance model for
multicore architectures", CACM 52(4), 2009: a kernel that performs F FLOP and moves D bytes between the
processor and its memory takes at least max(F / peak compute, D / memory bandwidth). Here the peak and
the bandwidth are what the device sustains: peak[dtype] · matmul_efficiency(dtype) (compute_efficiency,
or the dtype's own figure) and memory_bandwidth · memory_efficiency (Device fields, set once per device).

Bytes moved by one layer (an estimate: every operand streams through memory once, no cache reuse across
layers, no fusion):

* forward reads the weights W and the input activations X and writes the output Y: W + X + Y;
* backward reads W, X and the output gradient dY (|dY| = |Y|) and writes the input gradient dX (|dX| = |X|)
  and the weight gradient dW (|dW| = |W|): 2W + 2X + Y.

The dtype picks the peak and the bytes: fp32 trains in fp32; fp16 / bf16 is mixed precision
(Micikevicius et al., "Mixed Precision Training", ICLR 2018): weights, activations and gradients are
fp16 / bf16 in the forward and backward passes (the device's fp16 / bf16 peak, tensor cores where it has
them), and an fp32 master copy of the weights is kept for the update (planner.cost.memory).

Units: FLOP, bytes, seconds, FLOP/s, bytes/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.spec.hardware import Device
from planner.spec.profile import DTYPE_BYTES, ModelProfile, samples_per_figure

TRAINING_DTYPES = ("fp32", "fp16", "bf16")
MASTER_DTYPE = "fp32"  # mixed precision keeps fp32 master weights (Micikevicius et al. 2018, Sec. 3.1)
FloatArray = npt.NDArray[np.float64]


def is_mixed_precision(dtype: str) -> bool:
    """True for fp16 / bf16 training (half-precision compute, fp32 master weights)."""
    return dtype in ("fp16", "bf16")


def sustained_compute(device: Device, dtype: str) -> float:
    """FLOP/s the device sustains in `dtype`: peak_compute[dtype] · matmul_efficiency(dtype).

    Raises ValueError when the device lists no peak for `dtype` (e.g. bf16 on a V100).
    """
    if dtype not in TRAINING_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(TRAINING_DTYPES)}, got '{dtype}'")
    if dtype not in device.peak_compute:
        raise ValueError(
            f"{device.name} lists no {dtype} peak (it lists {', '.join(device.peak_compute)}), "
            f"so it cannot train in {dtype}"
        )
    return device.peak_compute[dtype] * device.matmul_efficiency(dtype)


def sustained_memory_bandwidth(device: Device) -> float:
    """Bytes/s the device's memory sustains: memory_bandwidth · memory_efficiency."""
    return device.memory_bandwidth * device.memory_efficiency


def roofline_time(flops: npt.ArrayLike, bytes_moved: npt.ArrayLike, device: Device, dtype: str) -> FloatArray:
    """Roofline time in seconds (Williams et al. 2009): max(F / sustained compute, D / sustained bandwidth).

    `flops` and `bytes_moved` broadcast against each other (one value per layer, per batch, ...).
    """
    compute = np.asarray(flops, dtype=float) / sustained_compute(device, dtype)
    memory = np.asarray(bytes_moved, dtype=float) / sustained_memory_bandwidth(device)
    return np.maximum(compute, memory)


def forward_bytes(weights: npt.ArrayLike, inputs: npt.ArrayLike, outputs: npt.ArrayLike) -> FloatArray:
    """Bytes a forward pass moves: read W and X, write Y (W + X + Y)."""
    return np.asarray(weights, dtype=float) + np.asarray(inputs, dtype=float) + np.asarray(outputs, float)


def backward_bytes(weights: npt.ArrayLike, inputs: npt.ArrayLike, outputs: npt.ArrayLike) -> FloatArray:
    """Bytes a backward pass moves: read W, X, dY and write dX, dW (2W + 2X + Y)."""
    w = np.asarray(weights, dtype=float)
    x = np.asarray(inputs, dtype=float)
    return 2.0 * w + 2.0 * x + np.asarray(outputs, dtype=float)


@dataclass(frozen=True)
class LayerArrays:
    """A profile as numpy vectors, one entry per layer, every size-dependent figure per SAMPLE.

    `parameter_bytes` and activation bytes are in the profile's dtype; `forward_time` / `backward_time`
    (measured profiles) are seconds per sample on the device the profile was measured on, obtained by
    dividing the per-minibatch time by the minibatch size: this assumes time grows linearly with the
    batch (constant throughput), optimistic below the measured batch, where a GPU is under-used.
    A layer marked `is_input` (a data source) computes nothing: its work is zero here.
    """

    names: tuple[str, ...]
    parameters: npt.NDArray[np.int64]
    parameter_bytes: FloatArray
    output_bytes: FloatArray
    input_bytes: FloatArray
    forward_flops: FloatArray | None
    backward_flops: FloatArray | None
    forward_time: FloatArray | None
    backward_time: FloatArray | None
    is_input: npt.NDArray[np.bool_]
    dtype: str

    @property
    def measured(self) -> bool:
        """True when the work is measured times (kept as measured), False when it is FLOP (roofline)."""
        return self.forward_time is not None

    def dtype_scale(self, dtype: str) -> float:
        """Bytes in `dtype` per byte in the profile's dtype (0.5 for fp16 from an fp32 profile)."""
        return DTYPE_BYTES[dtype] / DTYPE_BYTES[self.dtype]


def layer_arrays(profile: ModelProfile, samples: int | None = None) -> LayerArrays:
    """Vectorise `profile` per sample. `samples` is the minibatch its figures cover when the profile
    does not say (a PipeDream graph.txt); it must agree with the profile's own batch when both are given.

    Work comes from measured times when every computing layer has a forward time, else from FLOP
    (a layer without backward FLOP gets none; derived CNN profiles carry backward = 2 × forward for conv
    and fc); ModelProfile ensures one of the two is complete. Raises ValueError when the minibatch
    size is unknown.
    """
    stated = samples_per_figure(profile)
    if stated is not None and samples is not None and stated != samples:
        raise ValueError(f"the profile states a minibatch of {stated} samples, not {samples}")
    per = stated if stated is not None else samples
    if per is None:
        raise ValueError(
            f"profile '{profile.name}' is per minibatch of an unstated size; say how many samples it covers"
        )
    layers = profile.layers
    is_input = np.array([layer.is_input for layer in layers], dtype=bool)
    computing = [layer for layer in layers if not layer.is_input]

    def complete(attr: str) -> FloatArray | None:
        """Per-sample vector of `attr`, or None when some computing layer lacks it."""
        if any(getattr(layer, attr) is None for layer in computing):
            return None
        return filled(attr)

    def filled(attr: str) -> FloatArray:
        """Per-sample vector of `attr`; absent values and input layers count as zero work."""
        values = [0.0 if layer.is_input else float(getattr(layer, attr) or 0.0) for layer in layers]
        return np.array(values, dtype=float) / per

    forward_time, forward_flops = complete("forward_time"), complete("forward_flops")
    assert forward_time is not None or forward_flops is not None  # ModelProfile refuses a mix of the two
    measured = forward_time is not None
    output = np.array([layer.output_bytes for layer in layers], dtype=float) / per
    inputs = np.array([sum(output[j] for j in profile.predecessors(i)) for i in range(len(layers))])
    return LayerArrays(
        names=tuple(layer.name for layer in layers),
        parameters=np.array([layer.parameters for layer in layers], dtype=np.int64),
        parameter_bytes=np.array([profile.layer_parameter_bytes(layer) for layer in layers], dtype=float),
        output_bytes=output,
        input_bytes=np.asarray(inputs, dtype=float),
        forward_flops=None if measured else forward_flops,
        backward_flops=None if measured else filled("backward_flops"),
        forward_time=forward_time,
        backward_time=filled("backward_time") if measured else None,
        is_input=is_input,
        dtype=profile.dtype,
    )


@dataclass(frozen=True)
class LayerTimes:
    """Per-layer forward and backward seconds for one minibatch of `batch` samples on one device."""

    forward: FloatArray
    backward: FloatArray
    batch: float
    compute_bound: npt.NDArray[np.bool_] | None  # FLOP-derived only: True where FLOP, not bytes, bind


def layer_times(
    arrays: LayerArrays,
    device: Device,
    dtype: str,
    batch: float,
    measured_on: Device | None = None,
) -> LayerTimes:
    """Forward and backward time of every layer for a minibatch of `batch` samples on `device`.

    FLOP profiles: roofline per layer (Williams et al. 2009) with FLOP × batch and bytes
    W + batch · (activations), weights and activations in `dtype` (forward_bytes / backward_bytes).
    Measured profiles: time per sample × batch (linear in the batch, see LayerArrays); when
    `measured_on` is another device, times are rescaled by the ratio of sustained compute in the
    profile's dtype, measured_on / device (a compute-bound assumption); the dtype must be the profile's
    (a measured fp32 time says nothing about fp16 tensor cores). Raises ValueError otherwise.
    """
    if batch <= 0:
        raise ValueError(f"batch must be > 0, got {batch}")
    if arrays.measured:
        if dtype != arrays.dtype:
            raise ValueError(
                f"the profile's times were measured in {arrays.dtype}; training in {dtype} needs a "
                "FLOP-derived profile (e.g. a CNN architecture)"
            )
        scale = 1.0
        if measured_on is not None and measured_on.name != device.name:
            scale = sustained_compute(measured_on, dtype) / sustained_compute(device, dtype)
        else:
            sustained_compute(device, dtype)  # the device must support the dtype
        assert arrays.forward_time is not None and arrays.backward_time is not None
        return LayerTimes(
            arrays.forward_time * batch * scale, arrays.backward_time * batch * scale, batch, None
        )
    assert arrays.forward_flops is not None and arrays.backward_flops is not None
    ratio = arrays.dtype_scale(dtype)
    weights = arrays.parameter_bytes * ratio
    inputs = arrays.input_bytes * ratio * batch
    outputs = arrays.output_bytes * ratio * batch
    fwd_bytes = np.where(arrays.is_input, 0.0, forward_bytes(weights, inputs, outputs))
    bwd_bytes = np.where(arrays.is_input, 0.0, backward_bytes(weights, inputs, outputs))
    forward = roofline_time(arrays.forward_flops * batch, fwd_bytes, device, dtype)
    backward = roofline_time(arrays.backward_flops * batch, bwd_bytes, device, dtype)
    bound = arrays.forward_flops * batch / sustained_compute(device, dtype) >= fwd_bytes / (
        sustained_memory_bandwidth(device)
    )
    return LayerTimes(forward, backward, batch, bound)
