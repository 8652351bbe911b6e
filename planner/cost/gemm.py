"""Time of one GEMM from its shape, and of memory-bound kernels, on a device (vectorised over shapes).

A GEMM computes C[m, n] = A[m, k] · B[k, n], 2·m·n·k FLOP; `batch` independent GEMMs of one shape run in one
kernel (batched attention matmuls). Its time is the largest of a compute time and a memory time, plus a
fixed per-kernel overhead:

* compute: tile and wave quantisation (NVIDIA, "Matrix Multiplication Background User's Guide",
  DU-09799-001, 2023, sec. 3.1 and 3.2). The library splits C into output tiles of Tm x Tn, one thread
  block each: ceil(m/Tm)·ceil(n/Tn)·batch tiles; a boundary tile computes as much as a full one (tile
  quantisation). Tiles run in waves of `sm_count` (one per SM), and a partial last wave takes as long as a
  full one (wave quantisation). A full wave of tile T sustains peak · compute_efficiency · T.efficiency
  spread over the SMs, so the GEMM takes waves · sm_count · Tm·Tn·2k / (peak · compute_efficiency ·
  T.efficiency). The library picks the tile per shape (sec. 2.3); here the fastest of the device's
  `gemm_tiles`. compute_efficiency is the large-GEMM ceiling (Device.matmul_efficiency: the dtype's own
  figure where the device gives one, e.g. fp8).
* memory: the roofline (Williams, Waterman and Patterson, CACM 52(4), 2009) with A, B and C each moved
  once, (m·k + k·n + m·n)·batch elements of the dtype, at memory_bandwidth · memory_efficiency: thin
  shapes (small k, or small m with small n) are memory-bound.
* overhead: `kernel_overhead` seconds per kernel (launch gap and tail), a device field.

A device without `sm_count` / `gemm_tiles` (CPUs, TPUs, boards) keeps the shape-free model: 2·m·n·k·batch
/ (peak · matmul_efficiency(dtype)), plus its kernel_overhead (0 unless set).

Memory-bound kernels (norms, activations, softmax, optimizer steps) stream their bytes at memory_bandwidth
· memory_efficiency, plus kernel_overhead per kernel.

Units: FLOP, bytes, seconds, FLOP/s, bytes/s.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from planner.spec.hardware import Device
from planner.spec.profile import DTYPE_BYTES

FloatArray = npt.NDArray[np.float64]
Dim = npt.ArrayLike  # a GEMM dimension: a number or an array of them (broadcast together)


def _dims(**values: npt.ArrayLike) -> list[FloatArray]:
    """The dimensions as float arrays, each >= 1 (a GEMM of no rows is not a GEMM)."""
    out = []
    for name, value in values.items():
        array = np.asarray(value, dtype=float)
        if not np.all(array >= 1):  # also refuses NaN
            raise ValueError(f"GEMM dimension {name} must be >= 1 everywhere")
        out.append(array)
    return out


def _peak(device: Device, dtype: str) -> float:
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got '{dtype}'")
    if dtype not in device.peak_compute:
        raise ValueError(f"{device.name} lists no {dtype} peak (it lists {', '.join(device.peak_compute)})")
    return device.peak_compute[dtype]


def gemm_time(device: Device, dtype: str, m: Dim, n: Dim, k: Dim, batch: Dim = 1) -> FloatArray:
    """Seconds for `batch` GEMMs C[m, n] = A[m, k] · B[k, n] in one kernel; m, n, k, batch broadcast.

    Raises ValueError for a dtype the device lists no peak for, or a dimension below 1.
    """
    peak = _peak(device, dtype)
    m_, n_, k_, b_ = _dims(m=m, n=n, k=k, batch=batch)
    rate = peak * device.matmul_efficiency(dtype)
    if device.sm_count is None:
        return 2.0 * m_ * n_ * k_ * b_ / rate + device.kernel_overhead
    compute = np.full(np.broadcast_shapes(m_.shape, n_.shape, k_.shape, b_.shape), np.inf)
    for tile in device.gemm_tiles:
        tiles = np.ceil(m_ / tile.m) * np.ceil(n_ / tile.n) * b_
        waves = np.ceil(tiles / device.sm_count)
        wave_flop = device.sm_count * tile.m * tile.n * 2.0 * k_
        compute = np.minimum(compute, waves * wave_flop / (rate * tile.efficiency))
    moved = (m_ * k_ + k_ * n_ + m_ * n_) * b_ * DTYPE_BYTES[dtype]
    memory = moved / (device.memory_bandwidth * device.memory_efficiency)
    return np.maximum(compute, memory) + device.kernel_overhead


def gemm_efficiency(device: Device, dtype: str, m: Dim, n: Dim, k: Dim, batch: Dim = 1) -> FloatArray:
    """Achieved FLOP/s over peak FLOP/s of the GEMMs `gemm_time` times (overhead included)."""
    m_, n_, k_, b_ = _dims(m=m, n=n, k=k, batch=batch)
    flop = 2.0 * m_ * n_ * k_ * b_
    return flop / gemm_time(device, dtype, m_, n_, k_, b_) / _peak(device, dtype)


def memory_bound_time(device: Device, bytes_moved: npt.ArrayLike, kernels: npt.ArrayLike = 1) -> FloatArray:
    """Seconds for `kernels` memory-bound kernels that move `bytes_moved` bytes in all (read + written).

    bytes / (memory_bandwidth · memory_efficiency) + kernels · kernel_overhead; broadcasts. Raises
    ValueError for negative bytes or kernels.
    """
    moved = np.asarray(bytes_moved, dtype=float)
    count = np.asarray(kernels, dtype=float)
    if not (np.all(moved >= 0) and np.all(count >= 0)):
        raise ValueError("bytes and kernels must be >= 0")
    return moved / (device.memory_bandwidth * device.memory_efficiency) + count * device.kernel_overhead
