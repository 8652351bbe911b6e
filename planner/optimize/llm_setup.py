"""LLM training plans (planner.optimize.parallelism): what is planned, one configuration (t, p, d, b, v,
recomputation, ZeRO stage, expert-parallel degree e), its evaluation, and the reasons a candidate fails.

Expert parallelism (mixture-of-experts models) follows Megatron-core's layout (megatron/core/
parallel_state.py, initialize_model_parallel, v0.5-0.7: "data_parallel_size % expert_model_parallel_size
== 0"): the e ranks of an expert-parallel group are e consecutive members of a data-parallel group (t
devices apart), each holding num_experts / e experts of every layer; the expert weights' gradients are
reduced over the d / e ranks holding the same experts (the expert-data-parallel group, t·e apart).

Reported throughput: `tflops_per_device` = FLOPs executed per iteration (recomputation included, the
convention of SC'21 Table 1, Eq. 3) / time / devices; `model_tflops_per_device` counts no recomputation
(model FLOPs, Korthikanti et al. 2022 Sec. 6); `mfu` divides that by the peak of the dtype the layers' GEMMs
run in (fp8's with fp8 GEMMs: against bf16's peak an fp8 plan would print above 100 %).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.cost import megatron as mg
from planner.cost.compute import TRAINING_DTYPES, sustained_compute
from planner.cost.fp8_training import GEMM_PRECISIONS, check_fp8_device
from planner.cost.llm_memory import ZERO_STAGES
from planner.cost.memory import OPTIMIZERS
from planner.spec.hardware import Cluster, Device
from planner.spec.llm import LLMConfig
from planner.spec.profile import DTYPE_BYTES

RECOMPUTE = mg.RECOMPUTE
REASONS: tuple[str, ...] = ("divisibility", "batch", "memory")
# finer reasons, each belonging to one of REASONS
DETAILS: dict[str, str] = {
    "tensor-heads": "divisibility",
    "tensor-kv-heads": "divisibility",
    "tensor-ffn": "divisibility",
    "expert-experts": "divisibility",
    "expert-data": "divisibility",
    "pipeline-layers": "divisibility",
    "interleave-pipeline": "divisibility",
    "interleave-layers": "divisibility",
    "batch-multiple": "batch",
    "interleave-microbatches": "batch",
    "memory": "memory",
}
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class TrainingSetup:
    """What is planned: a decoder-only LLM, a global batch of `global_batch` sequences of `seq_len` tokens,
    on `devices` devices (default: all) of `cluster`, in `dtype` (bf16 / fp16: mixed precision with fp32
    master weights) with `optimizer` (adam / sgd). `sequence_parallel` shards the activations that tensor
    parallelism replicates (Korthikanti et al. 2022); `overlap_grad_reduce` overlaps the data-parallel
    reduction with the last backward pass. `attention`: flash (a fused kernel, what practitioners run
    today) or standard (the scores materialised, as in SC'21); planner.cost.megatron. `gradient_dtype`:
    the precision gradients are accumulated and reduced in; by default Megatron-LM's rule: fp32 for bf16
    ("bfloat16 requires gradient accumulation and all-reduce to be done in fp32", megatron/arguments.py,
    which forces --accumulate-allreduce-grads-in-fp32), the training dtype otherwise.
    `gradient_accumulation_fusion`: weight-gradient GEMMs accumulate into the main gradient buffer
    (planner.cost.layer_kernels), Megatron-LM's default since 2022. `gemm_precision`: None (the layers'
    GEMMs in `dtype`) or fp8, Transformer Engine's fp8 training (planner.cost.fp8_training): the layers'
    GEMMs at the fp8 peak, the rest and the model states as `dtype` mixed precision (bf16 or fp16)."""

    model: LLMConfig
    cluster: Cluster
    global_batch: int
    seq_len: int
    dtype: str = "bf16"
    optimizer: str = "adam"
    devices: int | None = None
    sequence_parallel: bool = True
    overlap_grad_reduce: bool = True
    attention: str = "flash"
    gradient_dtype: str | None = None
    gradient_accumulation_fusion: bool = True
    gemm_precision: str | None = None

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
        sustained_compute(self.device, self.dtype)  # ValueError when the device lacks the dtype
        mg.check_attention(self.attention)
        if self.gemm_precision is not None:
            if self.gemm_precision not in GEMM_PRECISIONS:
                raise ValueError(
                    f"GEMM precision must be one of {', '.join(GEMM_PRECISIONS)}, got '{self.gemm_precision}'"
                )
            if self.dtype == "fp32":
                raise ValueError("fp8 GEMMs train in bf16 or fp16 mixed precision, not fp32")
            check_fp8_device(self.device)
        if self.gradient_dtype is not None and self.gradient_dtype not in TRAINING_DTYPES:
            raise ValueError(
                f"gradient dtype must be one of {', '.join(TRAINING_DTYPES)}, got '{self.gradient_dtype}'"
            )
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
    def device(self) -> Device:
        return self.cluster.resolved_device

    @property
    def gradient_precision(self) -> str:
        """The dtype gradients are accumulated and reduced in (see the class docstring)."""
        if self.gradient_dtype is not None:
            return self.gradient_dtype
        return "fp32" if self.dtype == "bf16" else self.dtype

    @property
    def gemm_dtype(self) -> str:
        """The dtype the layers' weight GEMMs run in (gemm_precision, else the training dtype)."""
        return self.gemm_precision or self.dtype

    @property
    def activation_bytes(self) -> int:
        """Bytes per activation element in the training dtype."""
        return DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class Configuration:
    """One plan: degrees t, p, d, micro-batch b, interleaving v, recomputation, ZeRO stage, expert-parallel
    degree e (1: every device holds all experts; a dense model's only value)."""

    tensor: int
    pipeline: int
    data: int
    microbatch: int
    interleave: int = 1
    recompute: str = "full"
    zero: int = 0
    expert: int = 1

    def __post_init__(self) -> None:
        for name in ("tensor", "pipeline", "data", "microbatch", "interleave", "expert"):
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
            "expert_parallel": self.expert,
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
