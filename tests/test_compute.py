"""The roofline model of a layer on a device, and a profile's per-sample vectors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cost.compute import (
    backward_bytes,
    forward_bytes,
    layer_arrays,
    layer_times,
    roofline_time,
    sustained_compute,
)
from planner.cost.layers import derive_profile
from planner.spec.catalog import find
from planner.spec.hardware import Device
from planner.spec.profile import Layer, ModelProfile

DEVICE = Device(
    spec="device",
    name="toy",
    kind="gpu",
    peak_compute={"fp32": 10e12, "fp16": 80e12},
    memory=16 * 2**30,
    memory_bandwidth=1e12,
    compute_efficiency=0.5,
    memory_efficiency=0.8,
)


def test_roofline_is_the_max_of_compute_and_memory_time() -> None:
    # 5 TFLOP/s and 0.8 TB/s sustained: 1e12 FLOP take 0.2 s; 1.6e11 bytes take 0.2 s.
    assert roofline_time(1e12, 0.0, DEVICE, "fp32") == pytest.approx(0.2)
    assert roofline_time(0.0, 1.6e11, DEVICE, "fp32") == pytest.approx(0.2)
    assert roofline_time(1e12, 3.2e11, DEVICE, "fp32") == pytest.approx(0.4)  # memory-bound
    assert roofline_time(1e12, 0.0, DEVICE, "fp16") == pytest.approx(1e12 / 40e12)  # the fp16 peak


def test_roofline_broadcasts_over_layers_and_batches() -> None:
    flops = np.array([1e9, 2e9, 3e9])
    out = roofline_time(flops[None, :] * np.array([[1.0], [2.0]]), 0.0, DEVICE, "fp32")
    assert out.shape == (2, 3)
    assert out[1, 2] == pytest.approx(2 * 3e9 / 5e12)


def test_a_dtype_the_device_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="no bf16 peak"):
        sustained_compute(DEVICE, "bf16")
    with pytest.raises(ValueError, match="dtype must be one of"):
        sustained_compute(DEVICE, "int4")


def test_bytes_moved_forward_and_backward() -> None:
    assert forward_bytes(10, 20, 30) == 60  # W + X + Y
    assert backward_bytes(10, 20, 30) == 2 * 10 + 2 * 20 + 30  # read W, X, dY; write dX, dW


@settings(max_examples=40, deadline=None)
@given(
    flops=st.floats(0, 1e15),
    moved=st.floats(0, 1e12),
    factor=st.floats(1.0, 100.0),
)
def test_more_bandwidth_or_compute_is_never_slower(flops: float, moved: float, factor: float) -> None:
    base = roofline_time(flops, moved, DEVICE, "fp32")
    faster_memory = dataclasses.replace(DEVICE, memory_bandwidth=DEVICE.memory_bandwidth * factor)
    faster_compute = dataclasses.replace(DEVICE, peak_compute={"fp32": 10e12 * factor})
    assert roofline_time(flops, moved, faster_memory, "fp32") <= base * (1 + 1e-12)
    assert roofline_time(flops, moved, faster_compute, "fp32") <= base * (1 + 1e-12)


def test_derived_profile_vectors_are_per_sample() -> None:
    arch = find("models", "resnet50")
    one, eight = derive_profile(arch, 1), derive_profile(arch, 8)
    a1, a8 = layer_arrays(one), layer_arrays(eight)
    assert not a1.measured
    np.testing.assert_allclose(a1.forward_flops, a8.forward_flops)
    np.testing.assert_allclose(a1.output_bytes, a8.output_bytes)
    assert a1.parameters.sum() == 25_557_032
    # a residual add reads both of its inputs
    add = a1.names.index("layer1.0.add")
    preds = one.predecessors(add)
    assert a1.input_bytes[add] == pytest.approx(sum(a1.output_bytes[j] for j in preds))
    assert len(preds) == 2


def test_flop_layer_times_scale_with_batch_and_dtype() -> None:
    arrays = layer_arrays(derive_profile(find("models", "vgg16"), 1))
    device = find("hardware", "v100-sxm2-16gb")
    t32 = layer_times(arrays, device, "fp32", 32)
    t64 = layer_times(arrays, device, "fp32", 64)
    conv = arrays.names.index("conv3_2")
    assert t32.compute_bound is not None and t32.compute_bound[conv]
    assert t64.forward[conv] == pytest.approx(2 * t32.forward[conv])  # compute-bound: linear in FLOP
    relu = arrays.names.index("relu3_2")
    assert not t32.compute_bound[relu]  # elementwise layers are memory-bound
    t16 = layer_times(arrays, device, "fp16", 32)
    assert t16.forward.sum() < t32.forward.sum()
    assert (t32.backward > 0).all()


def _measured(batch: int | None, measured_on: str | None = None) -> ModelProfile:
    return ModelProfile(
        spec="profile",
        name="toy",
        per="minibatch",
        batch_size=batch,
        measured_on=measured_on,
        layers=(
            Layer(name="input", is_input=True, forward_time=0.5, output_bytes=400.0),
            Layer(
                name="a",
                forward_time=0.01,
                backward_time=0.02,
                parameters=10,
                output_bytes=800.0,
                inputs=("input",),
            ),
            Layer(name="b", forward_time=0.03, parameters=5, output_bytes=80.0),
        ),
    )


def test_measured_times_are_per_sample_and_scale_linearly() -> None:
    arrays = layer_arrays(_measured(4))
    assert arrays.measured
    np.testing.assert_allclose(arrays.forward_time, [0.0, 0.0025, 0.0075])  # the input node computes nothing
    np.testing.assert_allclose(arrays.backward_time, [0.0, 0.005, 0.0])  # absent backward: none
    times = layer_times(arrays, DEVICE, "fp32", 8)
    np.testing.assert_allclose(times.forward, [0.0, 0.02, 0.06])


def test_measured_times_rescale_by_sustained_compute_of_the_measuring_device() -> None:
    arrays = layer_arrays(_measured(4))
    slower = dataclasses.replace(DEVICE, name="slow", peak_compute={"fp32": 5e12})
    on_fast = layer_times(arrays, DEVICE, "fp32", 4, measured_on=slower)
    np.testing.assert_allclose(on_fast.forward, [0.0, 0.005, 0.015])


def test_measured_profile_needs_its_batch_and_dtype() -> None:
    with pytest.raises(ValueError, match="unstated size"):
        layer_arrays(_measured(None))
    arrays = layer_arrays(_measured(None), samples=4)
    assert arrays.forward_time is not None
    with pytest.raises(ValueError, match="states a minibatch of 4"):
        layer_arrays(_measured(4), samples=8)
    with pytest.raises(ValueError, match="measured in fp32"):
        layer_times(arrays, DEVICE, "fp16", 4)
    with pytest.raises(ValueError, match="batch must be > 0"):
        layer_times(arrays, DEVICE, "fp32", 0)
