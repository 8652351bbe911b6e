"""Pipeline-parallel cost models: bubbles, time per minibatch, activation transfers, memory per stage.

Notation: K (= Megatron's p) stages, one per device; M (= m) micro-batches per minibatch; v model chunks
per device for the interleaved schedule; f_k, b_k the forward and backward time of one micro-batch on
stage k (seconds). Stage indices are 0-based (stage 0 holds the model's input). All times are seconds,
all sizes bytes. The bubble and uniform-time functions take numpy arrays for K, M, v and broadcast, so
sweeps call them once.

Sources:
- GPipe: Huang et al., "GPipe: Efficient training of giant neural networks using pipeline parallelism",
  NeurIPS 2019, Sec. 2.3 (bubble O((K-1)/(M+K-1)), re-materialisation, negligible when M >= 4K).
- 1F1B / PipeDream-flush and interleaved stages: Narayanan et al., "Efficient large-scale language model
  training on GPU clusters using Megatron-LM", SC 2021, Sec. 2.2 (bubble (p-1)/m, (p-1)/(v·m)).
- PipeDream-2BW: Narayanan et al., "Memory-efficient pipeline-parallel DNN training", ICML 2021.
- PipeDream: Narayanan et al., "PipeDream: Generalized pipeline parallelism for DNN training", SOSP 2019,
  Sec. 3 (asynchronous 1F1B, steady state set by the slowest stage; weight stashing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Schedule = Literal["gpipe", "1f1b", "interleaved"]
SCHEDULES: tuple[str, ...] = ("gpipe", "1f1b", "interleaved")
MemorySchedule = Literal["gpipe", "1f1b", "interleaved", "pipedream", "2bw"]
MEMORY_SCHEDULES: tuple[str, ...] = ("gpipe", "1f1b", "interleaved", "pipedream", "2bw")

FloatOrArray = float | NDArray[np.float64]


def _scalar_or_array(value: NDArray[np.float64]) -> FloatOrArray:
    return float(value) if value.ndim == 0 else value


def _positive_ints(**values: ArrayLike) -> list[NDArray[np.float64]]:
    """The arguments as float arrays; ValueError unless each is a whole number >= 1."""
    out = []
    for name, value in values.items():
        arr = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(arr)) or np.any(arr < 1) or np.any(arr != np.floor(arr)):
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        out.append(arr)
    return out


def naive_utilisation(stages: ArrayLike) -> FloatOrArray:
    """Utilisation of naive model parallelism on K devices: 1/K (dimensionless).

    Without micro-batches one minibatch passes through the K stages one after the other, so exactly one
    device works at a time (GPipe, Sec. 2.3, Fig. 2b; seed lecture "naive model parallelism").
    """
    (k,) = _positive_ints(stages=stages)
    return _scalar_or_array(1.0 / k)


def naive_time(forward: Sequence[float], backward: Sequence[float]) -> float:
    """Time per minibatch of naive model parallelism, seconds: sum_k (f_k + b_k) (no overlap at all)."""
    f, b = _stage_times(forward, backward)
    return float(np.sum(f) + np.sum(b))


def bubble_overhead(stages: ArrayLike, microbatches: ArrayLike, chunks: ArrayLike = 1) -> FloatOrArray:
    """Pipeline bubble as idle time / ideal time: (p-1)/(v·m) (dimensionless).

    Megatron-LM SC'21 Sec. 2.2.1 (1F1B, v = 1: (p-1)/m; the same for GPipe) and Sec. 2.2.2 (interleaved,
    v chunks per device: (p-1)/(v·m)). Exact for uniform stages with no communication.
    """
    p, m, v = _positive_ints(stages=stages, microbatches=microbatches, chunks=chunks)
    return _scalar_or_array((p - 1.0) / (v * m))


def bubble_fraction(stages: ArrayLike, microbatches: ArrayLike, chunks: ArrayLike = 1) -> FloatOrArray:
    """Pipeline bubble as idle time / total time: (K-1)/(v·M + K-1), in [0, 1) (dimensionless).

    GPipe NeurIPS'19 Sec. 2.3: (K-1)/(M+K-1) (v = 1; 1F1B has the same bubble, Megatron SC'21 Sec. 2.2.1).
    Interleaved: idle (p-1)(f+b)/v over total m(f+b) + (p-1)(f+b)/v (Megatron Sec. 2.2.2). It equals
    overhead / (1 + overhead). Exact for uniform stages with no communication.
    """
    k, m, v = _positive_ints(stages=stages, microbatches=microbatches, chunks=chunks)
    return _scalar_or_array((k - 1.0) / (v * m + k - 1.0))


def uniform_pipeline_time(
    stages: ArrayLike,
    microbatches: ArrayLike,
    forward: ArrayLike,
    backward: ArrayLike,
    chunks: ArrayLike = 1,
) -> FloatOrArray:
    """Time per minibatch of a pipeline of identical stages, seconds: (M + (K-1)/v)·(f + b).

    f and b are one device's forward and backward time per micro-batch (all its chunks together). GPipe
    and 1F1B (v = 1): (M + K - 1)(f + b) (GPipe Sec. 2.3; Megatron SC'21 Sec. 2.2.1); interleaved with v
    chunks: M(f + b) + (K-1)(f + b)/v (Megatron Sec. 2.2.2). Exact for uniform stages without
    communication (the simulation in planner.cost.pipeline_schedule reproduces it; for the interleaved
    schedule M must be a multiple of K, as in Megatron).
    """
    k, m, v = _positive_ints(stages=stages, microbatches=microbatches, chunks=chunks)
    work = np.asarray(forward, dtype=np.float64) + np.asarray(backward, dtype=np.float64)
    return _scalar_or_array((m + (k - 1.0) / v) * work)


def _stage_times(
    forward: Sequence[float] | ArrayLike, backward: Sequence[float] | ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    f = np.atleast_1d(np.asarray(forward, dtype=np.float64))
    b = np.atleast_1d(np.asarray(backward, dtype=np.float64))
    if f.ndim != 1 or f.shape != b.shape or f.size == 0:
        raise ValueError("forward and backward need one time per stage, the same number of each")
    if np.any(f < 0) or np.any(b < 0) or not (np.all(np.isfinite(f)) and np.all(np.isfinite(b))):
        raise ValueError("stage times must be finite and >= 0")
    return f, b


def _transfers(transfer: Sequence[float] | float, stages: int) -> NDArray[np.float64]:
    t = np.asarray(transfer, dtype=np.float64)
    t = np.full(stages - 1, float(t)) if t.ndim == 0 else t
    if t.shape != (stages - 1,) or np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError(f"transfer needs one finite time >= 0 per stage boundary ({stages - 1})")
    return t


def gpipe_time(
    forward: Sequence[float],
    backward: Sequence[float],
    microbatches: int,
    transfer: Sequence[float] | float = 0.0,
) -> float:
    """Time per minibatch of the GPipe schedule, seconds (exact closed form).

    T = Σ_k (f_k + b_k) + 2 Σ_j c_j + (M - 1)(max_k f_k + max_k b_k), with c_j the transfer time across
    boundary j (activation forward, gradient backward). GPipe (Sec. 2.3) runs all M forwards, then all M
    backwards on every device, with a flush at the end. Each phase is a flow shop of M identical jobs,
    whose makespan is the sum over the stages plus (M - 1) times the slowest stage; the last stage cannot
    start its backwards before its own forwards end, and that makes every earlier device's forwards end
    first too, so the phases add. Exact when the transfers are pure delays (links never contended) and
    every op takes its stated time; it reduces to (M + K - 1)(f + b) for uniform stages, and the
    per-phase maxima count imbalance (max f + max b >= max (f + b)).
    """
    f, b = _stage_times(forward, backward)
    (m,) = _positive_ints(microbatches=microbatches)
    c = _transfers(transfer, f.size)
    return float(f.sum() + b.sum() + 2.0 * c.sum() + (float(m) - 1.0) * (f.max() + b.max()))


def one_f_one_b_time_bounds(
    forward: Sequence[float], backward: Sequence[float], microbatches: int
) -> tuple[float, float]:
    """Lower and upper bound on the 1F1B (PipeDream-flush) time per minibatch, seconds (no transfers).

    Lower: max_k [Σ_{j<k} (f_j + b_j) + M·(f_k + b_k)]: device k does all its 2M ops, it cannot start
    before the first micro-batch's forwards on the stages before it, and after its last backward those
    stages still run that micro-batch's backwards. Upper: (M + K - 1)(max_k f_k + max_k b_k): slowing
    every stage to the slowest forward and backward can only lengthen the schedule (its longest path),
    which is then uniform (Megatron SC'21 Sec. 2.2.1). Both equal (M + K - 1)(f + b) when the stages are
    uniform; otherwise the exact time is the simulation's (planner.cost.pipeline_schedule.simulate).
    """
    f, b = _stage_times(forward, backward)
    (m,) = _positive_ints(microbatches=microbatches)
    work = f + b
    lower = np.max(np.cumsum(work) - work + float(m) * work)
    upper = (float(m) + f.size - 1.0) * (f.max() + b.max())
    return float(lower), float(upper)


def async_steady_state_time(stage_times: Sequence[float], transfer_times: Sequence[float] = ()) -> float:
    """Time per minibatch of PipeDream's asynchronous 1F1B in steady state, seconds: the slowest stage.

    PipeDream SOSP'19 Sec. 3.1-3.2: with no flush, each stage does one forward and one backward per
    minibatch, and the pipeline's throughput is 1 / (time of the slowest stage). `stage_times` are the
    forward + backward time of each stage per minibatch (already divided by a stage's replicas);
    `transfer_times` the per-minibatch occupancy of each inter-stage link, which PipeDream overlaps with
    compute and counts as a stage of its own (its optimizer's max(A, 2a/B, T)).
    """
    stages = np.asarray(stage_times, dtype=np.float64)
    links = np.asarray(transfer_times, dtype=np.float64)
    if stages.ndim != 1 or stages.size == 0 or np.any(stages < 0):
        raise ValueError("stage_times needs one time >= 0 per stage")
    if links.ndim != 1 or np.any(links < 0):
        raise ValueError("transfer_times must be times >= 0")
    return float(max(stages.max(), links.max() if links.size else 0.0))


def async_throughput(stage_times: Sequence[float], transfer_times: Sequence[float] = ()) -> float:
    """Minibatches per second of PipeDream's asynchronous pipeline: 1 / slowest stage (SOSP'19 Sec. 3.1)."""
    slowest = async_steady_state_time(stage_times, transfer_times)
    return float("inf") if slowest == 0 else 1.0 / slowest


def activation_transfer_time(
    nbytes: ArrayLike, bandwidth: float, efficiency: float = 1.0, latency: float = 0.0
) -> FloatOrArray:
    """Time to send one activation (or its gradient) over the link joining two stages, seconds.

    Alpha-beta model: nbytes / (bandwidth · efficiency) + latency, with bandwidth per direction in
    bytes/s, efficiency the sustained fraction (planner.spec.hardware.Link), latency seconds. A boundary
    carries the activation forward and its gradient (the same size) backward: PipeDream's 2·a/B when
    the two directions share the link.
    """
    if not bandwidth > 0 or not 0 < efficiency <= 1 or latency < 0:
        raise ValueError("need bandwidth > 0, 0 < efficiency <= 1 and latency >= 0")
    size = np.asarray(nbytes, dtype=np.float64)
    if np.any(size < 0):
        raise ValueError("nbytes must be >= 0")
    return _scalar_or_array(size / (bandwidth * efficiency) + latency)


@dataclass(frozen=True)
class StageMemory:
    """Memory of one pipeline stage (one device), bytes, by what it holds."""

    weights_bytes: float
    weight_versions: int
    stashed_weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    in_flight_microbatches: int
    activations_bytes: float
    total_bytes: float


def in_flight_microbatches(
    schedule: MemorySchedule, stage: int, stages: int, microbatches: int, chunks: int = 1
) -> int:
    """Micro-batches whose activations a stage holds at its peak (forward done, backward not yet).

    GPipe: all M (Sec. 2.3). 1F1B / PipeDream-flush and 2BW: min(K - k, M), stage k 0-based (Megatron
    SC'21 Sec. 2.2.1: at most p in flight). PipeDream async: K - k minibatches (SOSP'19 Sec. 3.3, "the
    number of in-flight minibatches = stages after this one + 1"). Interleaved: counted in chunk
    micro-batches, Megatron's warm-up (K - k - 1)·2 + (v - 1)·K forwards plus the one of the first
    steady step, at most v·M (Megatron-LM's schedules.py, forward_backward_pipelining_with_interleaving).
    """
    if not 0 <= stage < stages:
        raise ValueError(f"stage must be in [0, {stages}), got {stage}")
    if microbatches < 1 or chunks < 1:
        raise ValueError("microbatches and chunks must be >= 1")
    if schedule == "gpipe":
        return microbatches
    if schedule in ("1f1b", "2bw"):
        return min(stages - stage, microbatches)
    if schedule == "pipedream":
        return stages - stage
    if schedule == "interleaved":
        warmup = (stages - stage - 1) * 2 + (chunks - 1) * stages
        return min(warmup + 1, chunks * microbatches)
    raise ValueError(f"schedule must be one of {', '.join(MEMORY_SCHEDULES)}, got {schedule!r}")


def stage_memory(
    schedule: MemorySchedule,
    stage: int,
    stages: int,
    microbatches: int,
    weights_bytes: float,
    activation_bytes: float,
    *,
    boundary_bytes: float = 0.0,
    gradients_bytes: float = 0.0,
    optimizer_bytes: float = 0.0,
    rematerialise: bool = False,
    chunks: int = 1,
) -> StageMemory:
    """Peak memory of stage `stage` (0-based) of a K-stage pipeline, bytes.

    - weights: one copy; PipeDream async stashes one version per in-flight minibatch, K - k in all
      (SOSP'19 Sec. 3.3, weight stashing); PipeDream-2BW keeps 2 (ICML'21 Sec. 3.1); others 1.
    - gradients and optimizer state (e.g. Adam's two moments): one copy each, never stashed.
    - activations: `activation_bytes` is everything the stage stashes for its backward per micro-batch,
      its input (`boundary_bytes`) included. Without re-materialisation it holds n of them, n from
      in_flight_microbatches. With re-materialisation (GPipe Sec. 2.3) it keeps only the stage input of
      each in-flight micro-batch and recomputes the rest during the backward of one micro-batch at a
      time: (n - 1)·boundary + activation, never more than without since boundary <= activation.
    Interleaved: the device's activation and boundary bytes are split evenly over its v chunks.
    """
    if weights_bytes < 0 or activation_bytes < 0 or gradients_bytes < 0 or optimizer_bytes < 0:
        raise ValueError("sizes must be >= 0")
    if not 0 <= boundary_bytes <= activation_bytes:
        raise ValueError("boundary_bytes (the stage input) must be in [0, activation_bytes]")
    n = in_flight_microbatches(schedule, stage, stages, microbatches, chunks)
    per_unit = activation_bytes / chunks if schedule == "interleaved" else activation_bytes
    boundary = boundary_bytes / chunks if schedule == "interleaved" else boundary_bytes
    activations = (n - 1) * boundary + per_unit if rematerialise else n * per_unit
    versions = {"pipedream": stages - stage, "2bw": 2}.get(schedule, 1)
    stashed = (versions - 1) * weights_bytes
    total = weights_bytes + stashed + gradients_bytes + optimizer_bytes + activations
    return StageMemory(
        weights_bytes=float(weights_bytes),
        weight_versions=versions,
        stashed_weights_bytes=float(stashed),
        gradients_bytes=float(gradients_bytes),
        optimizer_bytes=float(optimizer_bytes),
        in_flight_microbatches=n,
        activations_bytes=float(activations),
        total_bytes=float(total),
    )
