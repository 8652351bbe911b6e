"""LLM training plans: tensor (t) × pipeline (p) × data (d) parallelism, micro-batch size b, interleaving v,
activation recomputation and ZeRO stage, searched exhaustively and vectorised.

What it optimises: time per training iteration (one global batch of B sequences of length s) on the
devices given, subject to the memory of one device. Ties (equal times) are broken by lower memory per
device, then smaller t·p (less model parallelism), then smaller t, p, b, v, recomputation in the order
none < selective < full, and lower ZeRO stage: a total order, so the ranking is deterministic.

Search space: every (t, p) with t·p dividing the N devices (d = N / (t·p), so t·p·d = N), b = 1 ..
max_microbatch, v = 1 .. max_interleave, recomputation none / selective / full, ZeRO 0-3. Rules, as in
Megatron-LM: t divides the attention heads, the key/value heads and the FFN size; p divides the layers
(no uneven stages, Megatron's --num-layers constraint); v > 1 needs p > 1, v dividing l/p and m a multiple
of p (the interleaved schedule's constraint); B a multiple of b·d (m = B/(b·d) whole). A candidate fails on
the first of: divisibility, batch, memory. The whole grid is evaluated with numpy arrays at once; the few
collective times it needs are computed once per distinct (t, b) and (t, p) (planner.cost.llm_comm).
Complexity: O(|grid|) array work plus O(divisor pairs × |b|) collective evaluations.

The cost model of one configuration (seconds; planner.cost.megatron for the formulas and sources):
  step      one device's forward + backward of one micro-batch on the last stage (it also holds the logit
            layer): matrix-multiply FLOPs / sustained compute + memory-bound kernels' bytes / sustained
            memory bandwidth (planner.cost.compute) + the tensor-parallel all-reduces of its l/p layers +
            2·v point-to-point transfers (not overlapped)
  pipeline  (m + (p-1)/v)·step (SC'21 Eq. 1; the (p-1)/v part is the bubble)
  data      gradient all-reduce of the stage's parameters among d replicas (ZeRO-1: reduce-scatter +
            all-gather, the same bytes; ZeRO-2: a reduce-scatter per micro-batch, (m+1)/2 all-reduces;
            ZeRO-3: parameters gathered in forward and backward and gradients reduce-scattered per
            micro-batch, 1.5·m all-reduces: Rajbhandari et al. 2020, Sec. 7.2), overlapped (when
            `overlap_grad_reduce`) with the backward of the last micro-batch (ZeRO-2: every backward;
            ZeRO-3: every forward and backward): only the excess is exposed
  optimizer the memory-bound update of the device's (ZeRO-sharded) parameters (planner.cost.memory)
Memory per device: the larger of the first stage (embedding, most micro-batches in flight) and the last
(head, logits), each model states by ZeRO stage (planner.cost.llm_memory) plus activations
(planner.cost.megatron), against Device.memory.

Reported throughput: `tflops_per_device` = FLOPs executed per iteration (recomputation included, the
convention of SC'21 Table 1, Eq. 3) / time / devices; `model_tflops_per_device` counts no recomputation
(model FLOPs, Korthikanti et al. 2022 Sec. 6); `mfu` divides that by the dtype's peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.cost import megatron as mg
from planner.cost.compute import TRAINING_DTYPES, sustained_compute, sustained_memory_bandwidth
from planner.cost.llm_comm import dp_allreduce_time, p2p_time, tp_allreduce_time
from planner.cost.llm_memory import ZERO_STAGES, model_state_bytes, stage_parameters
from planner.cost.memory import OPTIMIZERS, update_bytes_per_parameter
from planner.cost.pipeline import bubble_overhead, in_flight_microbatches
from planner.errors import InfeasibleError
from planner.limits import MAX_LLM_CANDIDATES
from planner.spec.hardware import Cluster
from planner.spec.llm import LLMConfig
from planner.spec.profile import DTYPE_BYTES

RECOMPUTE = mg.RECOMPUTE
REASONS: tuple[str, ...] = ("divisibility", "batch", "memory")
# finer reasons, each belonging to one of REASONS
DETAILS: dict[str, str] = {
    "tensor-heads": "divisibility",
    "tensor-kv-heads": "divisibility",
    "tensor-ffn": "divisibility",
    "pipeline-layers": "divisibility",
    "interleave-pipeline": "divisibility",
    "interleave-layers": "divisibility",
    "batch-multiple": "batch",
    "interleave-microbatches": "batch",
    "memory": "memory",
}
MAX_CANDIDATES = MAX_LLM_CANDIDATES  # candidate_grid refuses more (planner/limits.py)
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class TrainingSetup:
    """What is planned: a decoder-only LLM, a global batch of `global_batch` sequences of `seq_len` tokens,
    on `devices` devices (default: all) of `cluster`, in `dtype` (bf16 / fp16: mixed precision with fp32
    master weights) with `optimizer` (adam / sgd). `sequence_parallel` shards the activations that tensor
    parallelism replicates (Korthikanti et al. 2022); `overlap_grad_reduce` overlaps the data-parallel
    reduction with the last backward pass."""

    model: LLMConfig
    cluster: Cluster
    global_batch: int
    seq_len: int
    dtype: str = "bf16"
    optimizer: str = "adam"
    devices: int | None = None
    sequence_parallel: bool = True
    overlap_grad_reduce: bool = True

    def __post_init__(self) -> None:
        if self.model.architecture != "decoder":
            raise ValueError(
                f"{self.model.name} is an encoder-decoder model; the parallelism planner covers decoder-only "
                "models"
            )
        if self.global_batch < 1:
            raise ValueError(f"global batch must be >= 1 sequence, got {self.global_batch}")
        if not 1 <= self.seq_len <= self.model.max_sequence_length:
            raise ValueError(
                f"sequence length must be in [1, {self.model.max_sequence_length}] (the model's "
                f"max_sequence_length), got {self.seq_len}"
            )
        if self.dtype not in TRAINING_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(TRAINING_DTYPES)}, got '{self.dtype}'")
        sustained_compute(self.cluster.device, self.dtype)  # ValueError when the device lacks the dtype
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got '{self.optimizer}'")
        if self.devices is not None and not 1 <= self.devices <= self.cluster.total_devices:
            raise ValueError(
                f"devices must be in [1, {self.cluster.total_devices}] (the cluster's devices), "
                f"got {self.devices}"
            )

    @property
    def device_count(self) -> int:
        return self.cluster.total_devices if self.devices is None else self.devices

    @property
    def device(self) -> Any:
        return self.cluster.device

    @property
    def activation_bytes(self) -> int:
        """Bytes per activation element in the training dtype."""
        return DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class Configuration:
    """One plan: degrees t, p, d, micro-batch b, interleaving v, recomputation, ZeRO stage."""

    tensor: int
    pipeline: int
    data: int
    microbatch: int
    interleave: int = 1
    recompute: str = "full"
    zero: int = 0

    def __post_init__(self) -> None:
        for name in ("tensor", "pipeline", "data", "microbatch", "interleave"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if self.recompute not in RECOMPUTE:
            raise ValueError(f"recompute must be one of {', '.join(RECOMPUTE)}, got {self.recompute!r}")
        if self.zero not in ZERO_STAGES:
            raise ValueError(f"zero must be one of 0, 1, 2, 3, got {self.zero!r}")

    @property
    def devices(self) -> int:
        return self.tensor * self.pipeline * self.data

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor_parallel": self.tensor,
            "pipeline_parallel": self.pipeline,
            "data_parallel": self.data,
            "microbatch": self.microbatch,
            "interleave": self.interleave,
            "recompute": self.recompute,
            "zero_stage": self.zero,
        }


@dataclass(frozen=True)
class PlanEvaluation:
    """The cost of one configuration (SI units; see the module docstring for the model)."""

    config: Configuration
    devices: int
    microbatches: float
    time_per_iteration_s: float
    time_breakdown: dict[str, float]
    flops_per_iteration: float
    model_flops_per_iteration: float
    tflops_per_device: float
    model_tflops_per_device: float
    mfu: float
    tokens_per_s: float
    bubble_overhead: float
    memory_per_device_bytes: float
    memory_breakdown: dict[str, float | str]
    device_memory_bytes: float
    feasible: bool
    reasons: tuple[str, ...] = ()
    reason_codes: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.config.to_dict(),
            "devices": self.devices,
            "microbatches": self.microbatches,
            "time_per_iteration_s": self.time_per_iteration_s,
            "time_breakdown_s": dict(self.time_breakdown),
            "flops_per_iteration": self.flops_per_iteration,
            "model_flops_per_iteration": self.model_flops_per_iteration,
            "tflops_per_device": self.tflops_per_device,
            "model_tflops_per_device": self.model_tflops_per_device,
            "mfu": self.mfu,
            "tokens_per_s": self.tokens_per_s,
            "bubble_overhead": self.bubble_overhead,
            "memory_per_device_bytes": self.memory_per_device_bytes,
            "memory_breakdown_bytes": dict(self.memory_breakdown),
            "device_memory_bytes": self.device_memory_bytes,
            "feasible": self.feasible,
            "reasons": list(self.reasons),
        }


# ---------------------------------------------------------------------------------------------------------
# Shared pieces: used by both the scalar evaluation and the vectorised search (numpy broadcasting)
# ---------------------------------------------------------------------------------------------------------


def _compute_times(
    setup: TrainingSetup, t: Any, p: Any, b: Any, recompute: str
) -> tuple[FloatArray, FloatArray]:
    """(forward, forward + backward) compute seconds of one micro-batch on the last stage's device: l/p
    layers (recomputation included) and the logit layer, each split t ways: matrix multiplies at the
    sustained FLOP rate plus the memory-bound kernels at the sustained memory bandwidth (both
    planner.cost.compute), the two kinds of kernel running one after the other."""
    cfg = setup.model
    rate = sustained_compute(setup.device, setup.dtype)
    bandwidth = sustained_memory_bandwidth(setup.device)
    tokens = np.asarray(b, dtype=np.float64) * setup.seq_len
    shards = np.asarray(t, dtype=np.float64)
    layers = cfg.num_layers / np.asarray(p, dtype=np.float64)
    dense = mg.dense_flops_per_token(cfg)
    attention = mg.attention_flops_per_token(cfg, setup.seq_len)
    linear, core = mg.elementwise_bytes_per_token(cfg, setup.seq_len, shards, setup.sequence_parallel)
    linear, core = (x * _activation_scale(setup) for x in (linear, core))
    matmul = (dense + attention) * tokens / shards / rate
    memory_bound = (linear + core) * tokens / bandwidth
    logits_forward = mg.logit_flops_per_token(cfg) * tokens / shards / rate
    flop_passes = mg.layer_forward_equivalents(recompute, attention / (dense + attention))
    byte_passes = mg.layer_forward_equivalents(recompute, core / (linear + core))
    forward = layers * (matmul + memory_bound) + logits_forward
    total = layers * (flop_passes * matmul + byte_passes * memory_bound) + 3.0 * logits_forward
    return forward, total


def _data_parallel_traffic(zero: Any, microbatches: Any) -> FloatArray:
    """Data-parallel traffic per iteration in units of one gradient all-reduce (Rajbhandari et al. Sec. 7.2):
    ZeRO 0/1: 1; ZeRO-2: a reduce-scatter (1/2) per micro-batch and one all-gather (1/2); ZeRO-3: 1.5 per
    micro-batch (all-gather in forward and in backward, reduce-scatter of the gradients)."""
    z = np.asarray(zero)
    m = np.asarray(microbatches, dtype=np.float64)
    return np.where(z <= 1, 1.0, np.where(z == 2, (m + 1.0) / 2.0, 1.5 * m))


def _overlap_window(zero: Any, microbatches: Any, forward: Any, total: Any) -> FloatArray:
    """Compute time the data-parallel traffic can hide behind: the last micro-batch's backward (ZeRO 0/1),
    every backward (ZeRO-2), every forward and backward (ZeRO-3)."""
    z = np.asarray(zero)
    m = np.asarray(microbatches, dtype=np.float64)
    backward = np.asarray(total, dtype=np.float64) - np.asarray(forward, dtype=np.float64)
    return np.where(z <= 1, backward, np.where(z == 2, m * backward, m * np.asarray(total, dtype=np.float64)))


def _optimizer_time(setup: TrainingSetup, parameters: Any, data: Any, zero: Any) -> FloatArray:
    """Memory-bound optimizer step over the device's parameters (ZeRO >= 1: its 1/d shard)."""
    psi = np.asarray(parameters, dtype=np.float64)
    shard = np.where(np.asarray(zero) >= 1, np.asarray(data, dtype=np.float64), 1.0)
    moved = update_bytes_per_parameter(setup.dtype, setup.optimizer) * psi / shard
    return moved / sustained_memory_bandwidth(setup.device)


def _state_total(setup: TrainingSetup, parameters: Any, data: Any, zero: Any) -> tuple[FloatArray, ...]:
    weights, gradients, states = model_state_bytes(parameters, data, zero, setup.dtype, setup.optimizer)
    return weights, gradients, states, weights + gradients + states


def _activation_scale(setup: TrainingSetup) -> float:
    """Korthikanti's byte counts assume 16-bit activations; fp32 training doubles them."""
    return setup.activation_bytes / 2.0


# ---------------------------------------------------------------------------------------------------------
# One configuration, evaluated with plain Python control flow
# ---------------------------------------------------------------------------------------------------------


def _reasons(setup: TrainingSetup, c: Configuration) -> list[tuple[str, str]]:
    """(code, message) for each structural rule the configuration breaks (see DETAILS)."""
    cfg = setup.model
    found = []
    if cfg.num_heads % c.tensor:
        found.append(("tensor-heads", f"t={c.tensor} does not divide the {cfg.num_heads} attention heads"))
    if cfg.kv_heads % c.tensor:
        found.append(("tensor-kv-heads", f"t={c.tensor} does not divide the {cfg.kv_heads} key/value heads"))
    if cfg.ffn_size % c.tensor:
        found.append(("tensor-ffn", f"t={c.tensor} does not divide the FFN size {cfg.ffn_size}"))
    if cfg.num_layers % c.pipeline:
        found.append(("pipeline-layers", f"p={c.pipeline} does not divide the {cfg.num_layers} layers"))
    if c.interleave > 1 and c.pipeline == 1:
        found.append(("interleave-pipeline", f"v={c.interleave} needs pipeline parallelism (p > 1)"))
    elif c.interleave > 1 and (cfg.num_layers % c.pipeline or (cfg.num_layers // c.pipeline) % c.interleave):
        found.append(
            (
                "interleave-layers",
                f"v={c.interleave} does not divide the layers per stage ({cfg.num_layers}/p)",
            )
        )
    if setup.global_batch % (c.microbatch * c.data):
        found.append(
            (
                "batch-multiple",
                f"global batch {setup.global_batch} is not a multiple of b·d = {c.microbatch * c.data}",
            )
        )
    elif c.interleave > 1 and (setup.global_batch // (c.microbatch * c.data)) % c.pipeline:
        m = setup.global_batch // (c.microbatch * c.data)
        found.append(
            (
                "interleave-microbatches",
                f"the interleaved schedule needs m={m} to be a multiple of p={c.pipeline}",
            )
        )
    return found


def evaluate_configuration(
    setup: TrainingSetup,
    *,
    tensor: int,
    pipeline: int,
    data: int,
    microbatch: int,
    interleave: int = 1,
    recompute: str = "full",
    zero: int = 0,
) -> PlanEvaluation:
    """Time per iteration, throughput and memory per device of one configuration (SI units).

    Raises ValueError for values that are not a configuration at all (degrees < 1, t·p·d more than the
    setup's devices, unknown recompute or ZeRO stage). A configuration that breaks a divisibility or
    batch rule, or does not fit, is evaluated anyway (fractional m where needed) and returned with
    feasible = False and the reasons.
    """
    c = Configuration(tensor, pipeline, data, microbatch, interleave, recompute, zero)
    if c.devices > setup.device_count:
        raise ValueError(
            f"t·p·d = {tensor}·{pipeline}·{data} = {c.devices} devices, more than the "
            f"{setup.device_count} given"
        )
    cfg, cluster = setup.model, setup.cluster
    found = _reasons(setup, c)
    m = setup.global_batch / (c.microbatch * c.data)
    batch_ok = not any(code == "batch-multiple" for code, _ in found)
    m_int = round(m) if batch_ok else 0

    forward, total = (float(x) for x in _compute_times(setup, c.tensor, c.pipeline, c.microbatch, recompute))
    layers = cfg.num_layers / c.pipeline
    boundary = c.microbatch * setup.seq_len * cfg.hidden_size * setup.activation_bytes
    tp = layers * mg.tp_collectives_per_layer(recompute) * tp_allreduce_time(cluster, c.tensor, boundary)
    p2p = (
        2.0 * c.interleave * float(p2p_time(cluster, c.tensor, c.data, c.pipeline, boundary))
        if c.pipeline > 1
        else 0.0
    )
    step = total + tp + p2p
    piped = float(mg.pipeline_time(m, c.pipeline, c.interleave, step))

    first, last = (float(x) for x in stage_parameters(cfg, c.pipeline, c.tensor))
    psi = max(first, last)
    gradient_bytes = psi * DTYPE_BYTES[setup.dtype]
    traffic = float(_data_parallel_traffic(zero, m)) * dp_allreduce_time(
        cluster, c.tensor, c.data, gradient_bytes
    )
    window = float(_overlap_window(zero, m, forward, total)) if setup.overlap_grad_reduce else 0.0
    exposed = max(0.0, traffic - window)
    update = float(_optimizer_time(setup, psi, c.data, zero))
    time = piped + exposed + update

    # memory: first and last stage (the same device when p = 1)
    scale = _activation_scale(setup)
    per_layer = float(
        mg.layer_activation_bytes(
            cfg, setup.seq_len, c.microbatch, c.tensor, recompute, setup.sequence_parallel
        )
    )
    output = float(mg.output_activation_bytes(cfg, setup.seq_len, c.microbatch, c.tensor))
    if batch_ok:
        schedule = "interleaved" if c.interleave > 1 else "1f1b"
        chunk_layers = layers / c.interleave
        first_units = in_flight_microbatches(schedule, 0, c.pipeline, m_int, c.interleave) * chunk_layers
        last_units = (
            in_flight_microbatches(schedule, c.pipeline - 1, c.pipeline, m_int, c.interleave) * chunk_layers
        )
    else:
        first_units = last_units = math.nan
    stages = {}
    for name, psi_stage, units, head in (
        ("first", first, first_units, 0.0),
        ("last", last, last_units, output),
    ):
        w, g, o, _ = (float(x) for x in _state_total(setup, psi_stage, c.data, zero))
        if c.pipeline == 1:
            head = output
        activations = scale * (per_layer * units + head)
        stages[name] = {"weights": w, "gradients": g, "optimizer_state": o, "activations": activations}
    worst = max(stages, key=lambda k: sum(stages[k].values()))  # NaN-safe enough: both NaN when batch fails
    memory = sum(stages[worst].values())
    if not memory <= setup.device.memory and batch_ok:
        found.append(
            (
                "memory",
                f"needs {memory / 2**30:.1f} GiB per device ({worst} stage), the device has "
                f"{setup.device.memory / 2**30:.0f} GiB",
            )
        )

    tokens = setup.global_batch * setup.seq_len
    executed = float(mg.training_flops(cfg, tokens, setup.seq_len, recompute))
    useful = float(mg.model_flops(cfg, tokens, setup.seq_len))
    n = c.devices
    bubble = float(bubble_overhead(c.pipeline, m_int, c.interleave)) if batch_ok else math.nan
    return PlanEvaluation(
        config=c,
        devices=n,
        microbatches=m,
        time_per_iteration_s=time,
        time_breakdown={
            "compute_s": m * total,
            "tensor_parallel_comm_s": m * tp,
            "pipeline_p2p_s": m * p2p,
            "bubble_s": piped - m * step,
            "data_parallel_comm_s": traffic,
            "data_parallel_exposed_s": exposed,
            "optimizer_s": update,
        },
        flops_per_iteration=executed,
        model_flops_per_iteration=useful,
        tflops_per_device=executed / time / n / 1e12,
        model_tflops_per_device=useful / time / n / 1e12,
        mfu=useful / time / n / setup.device.peak(setup.dtype),
        tokens_per_s=tokens / time,
        bubble_overhead=bubble,
        memory_per_device_bytes=memory,
        memory_breakdown={**stages[worst], "stage": worst},
        device_memory_bytes=setup.device.memory,
        feasible=not found,
        reasons=tuple(message for _, message in found),
        reason_codes=tuple(code for code, _ in found),
    )


# ---------------------------------------------------------------------------------------------------------
# The whole space at once
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """Candidate configurations as parallel arrays, one entry per candidate; `recompute` indexes RECOMPUTE."""

    tensor: IntArray
    pipeline: IntArray
    data: IntArray
    microbatch: IntArray
    interleave: IntArray
    recompute: IntArray
    zero: IntArray

    def __len__(self) -> int:
        return int(self.tensor.size)

    def configuration(self, i: int) -> Configuration:
        return Configuration(
            int(self.tensor[i]),
            int(self.pipeline[i]),
            int(self.data[i]),
            int(self.microbatch[i]),
            int(self.interleave[i]),
            RECOMPUTE[int(self.recompute[i])],
            int(self.zero[i]),
        )


def divisors(n: int) -> IntArray:
    """The divisors of n >= 1, ascending."""
    candidates = np.arange(1, n + 1, dtype=np.int64)
    return candidates[n % candidates == 0]


def candidate_grid(
    devices: int,
    *,
    max_microbatch: int,
    max_interleave: int,
    recompute: tuple[str, ...] = RECOMPUTE,
    zero: tuple[int, ...] = ZERO_STAGES,
    tensor: int | None = None,
    pipeline: int | None = None,
    microbatch: int | None = None,
    interleave: int | None = None,
) -> Grid:
    """Every (t, p, d = N/(t·p), b, v, recompute, zero) with t·p dividing N, as arrays (a Cartesian
    product built with numpy, no Python loop over candidates). `tensor`, `pipeline`, `microbatch` and
    `interleave` pin that value."""
    if max_microbatch < 1 or max_interleave < 1:
        raise ValueError("max_microbatch and max_interleave must be >= 1")
    unknown = [r for r in recompute if r not in RECOMPUTE]
    if unknown or not recompute:
        raise ValueError(f"recompute must be a non-empty subset of {', '.join(RECOMPUTE)}, got {recompute!r}")
    if not zero or any(z not in ZERO_STAGES for z in zero):
        raise ValueError(f"zero must be a non-empty subset of 0, 1, 2, 3, got {zero!r}")
    divs = divisors(devices)
    t_all, p_all = np.meshgrid(divs, divs, indexing="ij")
    keep = devices % (t_all * p_all) == 0
    if tensor is not None:
        keep &= t_all == tensor
    if pipeline is not None:
        keep &= p_all == pipeline
    t_pairs, p_pairs = t_all[keep], p_all[keep]
    b_count = 1 if microbatch is not None else max_microbatch
    v_count = 1 if interleave is not None else max_interleave
    shape = (t_pairs.size, b_count, v_count, len(recompute), len(zero))
    if math.prod(shape) > MAX_CANDIDATES:  # checked before any array of that size is made
        raise InfeasibleError(
            f"the search would evaluate {math.prod(shape):,} candidates (limit {MAX_CANDIDATES:,}, about "
            "6 s and 0.7 GB): lower --max-microbatch or --max-interleave, or pin a degree (-t, -p, -b)"
        )
    b_values = np.arange(1, max_microbatch + 1, dtype=np.int64)
    v_values = np.arange(1, max_interleave + 1, dtype=np.int64)
    if microbatch is not None:
        b_values = np.array([microbatch], dtype=np.int64)
    if interleave is not None:
        v_values = np.array([interleave], dtype=np.int64)
    r_values = np.array([RECOMPUTE.index(r) for r in recompute], dtype=np.int64)
    z_values = np.array(zero, dtype=np.int64)
    pair, bi, vi, ri, zi = (axis.ravel() for axis in np.indices(shape, dtype=np.int64))
    t, p = t_pairs[pair], p_pairs[pair]
    return Grid(t, p, devices // (t * p), b_values[bi], v_values[vi], r_values[ri], z_values[zi])


@dataclass(frozen=True)
class GridCosts:
    """Vectorised costs of a grid: time per iteration (s), memory per device (bytes), and the first failing
    reason (index into DETAILS' keys, -1 when feasible)."""

    time_s: FloatArray
    memory_bytes: FloatArray
    detail: IntArray

    @property
    def category(self) -> IntArray:
        """Index into REASONS of the failing category, -1 when feasible."""
        lookup = np.array([REASONS.index(DETAILS[code]) for code in DETAILS], dtype=np.int64)
        return np.where(self.detail >= 0, lookup[np.maximum(self.detail, 0)], -1)


def _lookup(keys: tuple[IntArray, ...], function: Any) -> FloatArray:
    """function(*key) for each distinct key tuple, spread back over the arrays."""
    stacked = np.stack(keys, axis=1)
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    values = np.array([function(*(int(x) for x in row)) for row in unique], dtype=np.float64)
    return values[inverse.ravel()]


def evaluate_grid(setup: TrainingSetup, grid: Grid) -> GridCosts:
    """Time, memory and feasibility of every candidate of `grid` at once (the scalar model of
    `evaluate_configuration`, on arrays)."""
    cfg, cluster = setup.model, setup.cluster
    t, p, d, b, v, z = grid.tensor, grid.pipeline, grid.data, grid.microbatch, grid.interleave, grid.zero
    tf, pf, df, bf, vf = (x.astype(np.float64) for x in (t, p, d, b, v))
    m = setup.global_batch / (bf * df)
    layers = cfg.num_layers / pf

    # first failing rule, in DETAILS order
    per_stage = np.where(cfg.num_layers % p == 0, cfg.num_layers // p, 0)
    checks = {
        "tensor-heads": cfg.num_heads % t != 0,
        "tensor-kv-heads": cfg.kv_heads % t != 0,
        "tensor-ffn": cfg.ffn_size % t != 0,
        "pipeline-layers": cfg.num_layers % p != 0,
        "interleave-pipeline": (v > 1) & (p == 1),
        "interleave-layers": (v > 1) & (p > 1) & ((cfg.num_layers % p != 0) | (per_stage % v != 0)),
        "batch-multiple": setup.global_batch % (b * d) != 0,
        "interleave-microbatches": (v > 1)
        & (setup.global_batch % (b * d) == 0)
        & ((setup.global_batch // (b * d)) % p != 0),
    }
    detail = np.full(len(grid), -1, dtype=np.int64)
    codes = list(DETAILS)
    for code, failed in checks.items():
        detail = np.where((detail < 0) & failed, codes.index(code), detail)

    # per-recompute-mode pieces, assembled with np.where
    forward = np.zeros(len(grid))
    total = np.zeros(len(grid))
    collectives = np.zeros(len(grid))
    per_layer = np.zeros(len(grid))
    for index, mode in enumerate(RECOMPUTE):
        chosen = grid.recompute == index
        if not chosen.any():
            continue
        f, tot = _compute_times(setup, tf, pf, bf, mode)
        forward = np.where(chosen, f, forward)
        total = np.where(chosen, tot, total)
        collectives = np.where(chosen, mg.tp_collectives_per_layer(mode), collectives)
        act = mg.layer_activation_bytes(cfg, setup.seq_len, bf, tf, mode, setup.sequence_parallel)
        per_layer = np.where(chosen, act, per_layer)

    boundary_per_b = setup.seq_len * cfg.hidden_size * setup.activation_bytes
    tp_one = _lookup((t, b), lambda tt, bb: tp_allreduce_time(cluster, tt, bb * boundary_per_b))
    tp = layers * collectives * tp_one
    p2p = np.where(p > 1, 2.0 * vf * p2p_time(cluster, tf, df, pf, bf * boundary_per_b), 0.0)
    step = total + tp + p2p
    piped = mg.pipeline_time(m, pf, vf, step)

    first, last = stage_parameters(cfg, pf, tf)
    psi = np.maximum(first, last)
    grad_per_param = DTYPE_BYTES[setup.dtype]

    def dp_time(tt: int, pp: int) -> float:
        f_stage, l_stage = stage_parameters(cfg, pp, tt)
        psi_pair = max(float(f_stage), float(l_stage))
        return dp_allreduce_time(cluster, tt, setup.device_count // (tt * pp), psi_pair * grad_per_param)

    traffic = _data_parallel_traffic(z, m) * _lookup((t, p), dp_time)
    window = _overlap_window(z, m, forward, total) if setup.overlap_grad_reduce else 0.0
    exposed = np.maximum(0.0, traffic - window)
    time = piped + exposed + _optimizer_time(setup, psi, df, z)

    scale = _activation_scale(setup)
    output = mg.output_activation_bytes(cfg, setup.seq_len, bf, tf)
    first_act = per_layer * mg.in_flight_layer_microbatches(cfg.num_layers, pf, m, vf, last=False)
    last_act = per_layer * mg.in_flight_layer_microbatches(cfg.num_layers, pf, m, vf, last=True) + output
    first_act = np.where(p == 1, first_act + output, first_act)
    first_mem = _state_total(setup, first, df, z)[3] + scale * first_act
    last_mem = _state_total(setup, last, df, z)[3] + scale * last_act
    memory = np.maximum(first_mem, last_mem)
    detail = np.where((detail < 0) & ~(memory <= setup.device.memory), codes.index("memory"), detail)
    return GridCosts(time_s=time, memory_bytes=memory, detail=detail)


@dataclass(frozen=True)
class SearchResult:
    """The top feasible plans (best first; see the module docstring for the order) and why the rest fail."""

    setup: TrainingSetup
    candidates: int
    feasible: int
    rejected: dict[str, int]
    rejected_details: dict[str, int]
    smallest_memory_bytes: float | None
    plans: tuple[PlanEvaluation, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": self.candidates,
            "feasible": self.feasible,
            "rejected": dict(self.rejected),
            "rejected_details": dict(self.rejected_details),
            "smallest_memory_per_device_bytes": self.smallest_memory_bytes,
            "plans": [plan.to_dict() for plan in self.plans],
        }


def rank(grid: Grid, costs: GridCosts) -> IntArray:
    """Indices of the feasible candidates, best first: time, then memory, t·p, t, p, b, v, recompute, zero."""
    ok = np.flatnonzero(costs.detail < 0)
    keys = (
        grid.zero[ok],
        grid.recompute[ok],
        grid.interleave[ok],
        grid.microbatch[ok],
        grid.pipeline[ok],
        grid.tensor[ok],
        grid.tensor[ok] * grid.pipeline[ok],
        costs.memory_bytes[ok],
        costs.time_s[ok],
    )
    return ok[np.lexsort(keys)]


def search(
    setup: TrainingSetup,
    *,
    top: int = 10,
    max_microbatch: int,
    max_interleave: int,
    recompute: tuple[str, ...] = RECOMPUTE,
    zero: tuple[int, ...] = ZERO_STAGES,
    tensor: int | None = None,
    pipeline: int | None = None,
    microbatch: int | None = None,
    interleave: int | None = None,
) -> SearchResult:
    """Evaluate every candidate on the setup's devices and return the `top` feasible plans (each evaluated
    in full by `evaluate_configuration`) with counts of the rejected ones per reason. Keyword arguments
    restrict the grid (see `candidate_grid`)."""
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    grid = candidate_grid(
        setup.device_count,
        max_microbatch=max_microbatch,
        max_interleave=max_interleave,
        recompute=recompute,
        zero=zero,
        tensor=tensor,
        pipeline=pipeline,
        microbatch=microbatch,
        interleave=interleave,
    )
    costs = evaluate_grid(setup, grid)
    order = rank(grid, costs)
    plans = tuple(
        evaluate_configuration(setup, **_arguments(grid.configuration(int(i)))) for i in order[:top]
    )
    category = costs.category
    structural = (costs.detail < 0) | (category == REASONS.index("memory"))
    return SearchResult(
        setup=setup,
        candidates=len(grid),
        feasible=int(order.size),
        rejected={reason: int(np.count_nonzero(category == i)) for i, reason in enumerate(REASONS)},
        rejected_details={code: int(np.count_nonzero(costs.detail == i)) for i, code in enumerate(DETAILS)},
        smallest_memory_bytes=float(costs.memory_bytes[structural].min()) if structural.any() else None,
        plans=plans,
    )


def _arguments(c: Configuration) -> dict[str, Any]:
    return {
        "tensor": c.tensor,
        "pipeline": c.pipeline,
        "data": c.data,
        "microbatch": c.microbatch,
        "interleave": c.interleave,
        "recompute": c.recompute,
        "zero": c.zero,
    }
