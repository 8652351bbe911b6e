"""GEMM time from its shape (tile and wave quantisation, roofline, overhead) and memory-bound kernels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.cost.gemm import gemm_efficiency, gemm_time, memory_bound_time
from planner.errors import SpecError
from planner.spec.catalog import build_spec, find
from planner.spec.hardware import Device, GemmTile
from planner.spec.yamlio import parse_yaml

# A made-up GPU with round figures, so that every time below is a hand computation.
TOY = Device(
    spec="device",
    name="toy-gpu",
    kind="gpu",
    peak_compute={"fp16": 100e12},
    memory=2**34,
    memory_bandwidth=1e12,
    compute_efficiency=0.5,
    memory_efficiency=1.0,
    sm_count=4,
    gemm_tiles=(GemmTile(m=128, n=128),),
)


def a100() -> Device:
    return find("hardware", "a100")


def test_one_wave_by_hand() -> None:
    """m = n = 256, k = 1024 on TOY: (256/128)^2 = 4 tiles = one wave of 4 SMs.

    compute: 4 SMs x 128·128·2·1024 FLOP / (100 TFLOP/s x 0.5) = 134,217,728 FLOP / 5e13 FLOP/s = 2.684e-6 s
    memory: (256·1024 + 1024·256 + 256·256) x 2 B = 1,179,648 B / 1e12 B/s = 1.18e-6 s (less: compute-bound)
    so 2.684 us, and the efficiency is exactly 0.5 (compute_efficiency: no tile or wave is wasted).
    """
    assert gemm_time(TOY, "fp16", 256, 256, 1024) == pytest.approx(134_217_728 / 5e13, rel=1e-12)
    assert gemm_efficiency(TOY, "fp16", 256, 256, 1024) == pytest.approx(0.5, rel=1e-12)


def test_tile_and_wave_quantisation_by_hand() -> None:
    """n = 257: ceil(257/128) = 3 tile columns, 2 x 3 = 6 tiles: two waves of 4 SMs, twice the time of n = 256
    for 257/256 the work."""
    at_multiple = gemm_time(TOY, "fp16", 256, 256, 1024)
    above = gemm_time(TOY, "fp16", 256, 257, 1024)
    assert above == pytest.approx(2 * at_multiple, rel=1e-12)
    assert gemm_efficiency(TOY, "fp16", 256, 257, 1024) < 0.5 * 0.51


def test_n_just_above_a_tile_multiple_is_slower_per_flop_on_a100() -> None:
    """8192^2 in 256 x 128 tiles: 2048 tiles, 19 waves of 108 (0.998 full); n = 8193 adds a tile column:
    2080 tiles, 20 waves (0.963 full), and every smaller tile does worse."""
    device = a100()
    at_multiple = gemm_efficiency(device, "bf16", 8192, 8192, 8192)
    above = gemm_efficiency(device, "bf16", 8192, 8193, 8192)
    assert above < 0.97 * at_multiple


def test_batched_gemms_fill_the_sms_of_one_wave() -> None:
    """4 GEMMs of one 128 x 128 tile each run as one wave on TOY's 4 SMs: as fast as a single one."""
    one = gemm_time(TOY, "fp16", 128, 128, 4096)
    assert gemm_time(TOY, "fp16", 128, 128, 4096, batch=4) == pytest.approx(one, rel=1e-12)
    assert gemm_time(TOY, "fp16", 128, 128, 4096, batch=5) == pytest.approx(2 * one, rel=1e-12)


@pytest.mark.parametrize("name", ["a100", "h100"])
def test_a_huge_square_gemm_approaches_compute_efficiency(name: str) -> None:
    device = find("hardware", name)
    efficiency = float(gemm_efficiency(device, "bf16", 32768, 32768, 32768))
    assert 0.99 * device.compute_efficiency < efficiency <= device.compute_efficiency


def test_small_gemms_fall_well_below_the_ceiling() -> None:
    device = a100()
    small = float(gemm_efficiency(device, "bf16", 256, 256, 256))
    assert small < 0.25 * device.compute_efficiency


def test_thin_k_is_memory_bound() -> None:
    """k = 8: 2·8192²·8 FLOP against (8192·8 x 2 + 8192²) x 2 B of A, B and C: the bytes bind."""
    device = a100()
    m = n = 8192
    k = 8
    moved = (m * k + k * n + m * n) * 2
    expected = moved / (device.memory_bandwidth * device.memory_efficiency) + device.kernel_overhead
    assert gemm_time(device, "bf16", m, n, k) == pytest.approx(expected, rel=1e-12)
    assert gemm_efficiency(device, "bf16", m, n, k) < 0.1


def test_vectorised_equals_scalar() -> None:
    rng = np.random.default_rng(15)
    m, n, k, batch = (rng.integers(1, 20000, 200) for _ in range(4))
    batch = batch % 64 + 1
    device = find("hardware", "h100")
    together = gemm_time(device, "bf16", m, n, k, batch)
    apart = [float(gemm_time(device, "bf16", *shape)) for shape in zip(m, n, k, batch, strict=True)]
    np.testing.assert_array_equal(together, apart)


def test_dimensions_broadcast() -> None:
    times = gemm_time(a100(), "bf16", np.array([[1024], [2048]]), np.array([1024, 4096, 8192]), 4096)
    assert times.shape == (2, 3)
    assert np.all(np.diff(times, axis=1) > 0) and np.all(np.diff(times, axis=0) > 0)


def test_a_device_without_the_fields_runs_at_peak_times_compute_efficiency() -> None:
    plain = replace(a100(), sm_count=None, gemm_tiles=(), kernel_overhead=0.0)
    for m, n, k, batch in [(2048, 4097, 64, 1), (8, 8, 8, 3), (12288, 2048, 49152, 1)]:
        expected = 2 * m * n * k * batch / (312e12 * plain.compute_efficiency)
        assert gemm_time(plain, "bf16", m, n, k, batch) == pytest.approx(expected, rel=1e-12)
        assert gemm_efficiency(plain, "bf16", m, n, k, batch) == pytest.approx(
            plain.compute_efficiency, rel=1e-12
        )


def test_the_tpu_keeps_the_shape_free_model() -> None:
    tpu = find("hardware", "tpu-v3")
    assert tpu.sm_count is None
    shape_free = 2 * 100 * 3 * 7 / (123e12 * tpu.compute_efficiency)
    assert gemm_time(tpu, "bf16", 100, 3, 7) == pytest.approx(shape_free + tpu.kernel_overhead, rel=1e-12)


def test_kernel_overhead_adds_once_per_kernel() -> None:
    with_overhead = replace(TOY, kernel_overhead=4e-6)
    base = gemm_time(TOY, "fp16", 256, 256, 1024, batch=8)
    assert gemm_time(with_overhead, "fp16", 256, 256, 1024, batch=8) == pytest.approx(base + 4e-6, rel=1e-12)


def test_memory_bound_time_by_hand() -> None:
    """1 GB on a100 at 2039 GB/s x 0.8 = 1.6312e12 B/s: 613.05 us, plus 3 kernels x 4 us = 625.05 us."""
    device = a100()
    assert memory_bound_time(device, 1e9, kernels=3) == pytest.approx(1e9 / 1.6312e12 + 12e-6, rel=1e-12)
    np.testing.assert_allclose(memory_bound_time(TOY, [0.0, 1e12]), [0.0, 1.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: gemm_time(TOY, "fp16", 0, 1, 1),
        lambda: gemm_time(TOY, "fp16", 1, np.nan, 1),
        lambda: gemm_time(TOY, "bf16", 1, 1, 1),
        lambda: gemm_time(TOY, "fp4", 1, 1, 1),
        lambda: memory_bound_time(TOY, -1.0),
    ],
)
def test_bad_arguments_raise_value_error(call) -> None:
    with pytest.raises(ValueError):
        call()


DEVICE = """\
spec: device
name: test-gpu
kind: gpu
peak_compute: {fp16: 125 TFLOPS}
memory: 16 GiB
memory_bandwidth: 900 GB/s
"""


def test_device_yaml_reads_the_gemm_fields() -> None:
    text = DEVICE + "sm_count: 80\ngemm_tiles: [{m: 256, n: 128}, {m: 64, n: 64, efficiency: 0.7}]\n"
    device = build_spec(parse_yaml(text + "kernel_overhead: 4 us\n", "test.yaml"))
    assert device.sm_count == 80
    assert device.gemm_tiles == (GemmTile(256, 128, 1.0), GemmTile(64, 64, 0.7))
    assert device.kernel_overhead == pytest.approx(4e-6)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("sm_count: 80\n", "gemm_tiles"),
        ("gemm_tiles: [{m: 128, n: 128}]\n", "sm_count"),
        ("sm_count: 0\ngemm_tiles: [{m: 128, n: 128}]\n", "sm_count"),
        ("sm_count: 80\ngemm_tiles: [{m: 128, n: 128, efficiency: 1.5}]\n", "gemm_tiles[0].efficiency"),
        ("sm_count: 80\ngemm_tiles: [{m: 128}]\n", "gemm_tiles[0].n"),
        ("kernel_overhead: 4\n", "kernel_overhead"),
    ],
)
def test_bad_gemm_fields_name_the_field(extra: str, field: str) -> None:
    with pytest.raises(SpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        build_spec(parse_yaml(DEVICE + extra, "test.yaml"))


@pytest.mark.parametrize(
    "name", ["a100", "h100", "v100-sxm2-16gb", "v100-pcie-16gb", "p100-sxm2-16gb", "titan-x-pascal"]
)
def test_catalog_gpus_carry_the_gemm_fields(name: str) -> None:
    device = find("hardware", name)
    assert device.sm_count and device.gemm_tiles and device.kernel_overhead > 0
    assert max(tile.efficiency for tile in device.gemm_tiles) == 1.0


def test_a_dtype_with_its_own_matmul_figure_runs_at_it() -> None:
    toy = replace(TOY, peak_compute={"fp16": 100e12, "fp8": 200e12}, dtype_compute_efficiency={"fp8": 0.25})
    # one full wave of 128 x 128 tiles on 4 SMs: 4 tiles, k = 1024
    flop = 2.0 * 256 * 256 * 1024
    assert gemm_time(toy, "fp8", 256, 256, 1024) == pytest.approx(flop / (200e12 * 0.25), rel=1e-12)
    assert gemm_time(toy, "fp16", 256, 256, 1024) == pytest.approx(flop / (100e12 * 0.5), rel=1e-12)
    assert toy.matmul_efficiency("fp8") == 0.25 and toy.matmul_efficiency("fp16") == 0.5


def test_the_h100_fp8_matmul_runs_at_its_measured_fraction() -> None:
    h100 = find("hardware", "h100-sxm5-80gb")
    assert h100.matmul_efficiency("fp8") == pytest.approx(0.71)
    assert h100.matmul_efficiency("bf16") == h100.compute_efficiency == pytest.approx(0.8)
    big = 16384  # many full waves of the 256 x 128 tile: the large-GEMM ceiling
    ratio = gemm_efficiency(h100, "fp8", big, big, big) / gemm_efficiency(h100, "bf16", big, big, big)
    assert ratio == pytest.approx(0.71 / 0.8, rel=0.01)


def test_a_dtype_efficiency_outside_0_1_is_refused() -> None:
    text = (
        "spec: device\nname: g\nkind: gpu\npeak_compute: {fp8: 1 TFLOPS}\nmemory: 1 GiB\n"
        "memory_bandwidth: 1 GB/s\ncompute_efficiency: 0.5\ndtype_compute_efficiency: {fp8: 1.5}\n"
    )
    expected = r"g\.yaml:8: field .dtype_compute_efficiency\.fp8.: expected a value <= 1"
    with pytest.raises(SpecError, match=expected):
        build_spec(parse_yaml(text, "g.yaml"), ("device",))
