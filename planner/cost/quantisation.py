"""Quantised LLM serving: the weights' and the KV cache's storage format, the bytes they move and the peak
their GEMMs run at.

Formats of the weights (the transformer layers' attention and FFN blocks; the embedding, the output head
and the norms stay in the activation dtype, as vLLM's fp8, AWQ and GPTQ checkpoints keep them):

* fp8 (W8A8-FP8): 1 byte per weight; activations are quantised to fp8 per token and the GEMMs run on
  the device's fp8 tensor cores (Micikevicius et al., "FP8 Formats for Deep Learning", arXiv 2209.05433;
  vLLM's fp8 scheme). Needs an fp8 peak: Hopper, Ada, Blackwell, CDNA3.
* int8 (W8A8-INT8): 1 byte per weight, activations smoothed and quantised to int8, GEMMs at the int8
  peak (Xiao et al., "SmoothQuant", ICML 2023, Sec. 4). Needs an int8 peak.
* int4 (weight-only W4A16, AWQ / GPTQ style; Lin et al., "AWQ", MLSys 2024; Frantar et al., "GPTQ", ICLR
  2023): 4 bits per weight plus one fp16 scale per group of 128, 4.125 bits in all (Marlin README,
  IST-DASLab/marlin: "the 0.125 bits storage overhead of the group scales", so a 16 / 4.125 = 3.87x ideal
  speedup). The weights are dequantised to the activation dtype and multiplied on its tensor cores, so
  GEMMs run at the activation dtype's peak. Dequantisation overhead, stated: in a memory-bound decode
  step the fused kernel (Marlin) hides it (its README: near-ideal speedup up to 16-32 tokens), so decode
  reads 4.125 bits per weight at the roofline; a compute-bound prefill dequantises each layer's weights
  to the activation dtype and runs the dense GEMM (vLLM's AWQ path above 256 tokens, vllm-project/vllm
  PR 2566: "dequantize and run FP16 matmul for longer sequences"), i.e. one memory-bound pass per layer
  reading 4.125 bits and writing 16 per weight, on top of the activation-dtype GEMMs.

An fp8 or int8 GEMM sustains its own fraction of its peak where the device gives one
(dtype_compute_efficiency: e.g. the fp8 matmul measurements of the ml-engineering MAMF table), else the
activation dtype's (compute_efficiency; confidence: recalled for int8, which no catalog device measures).
Per-channel scales of fp8 / int8 weights (one per output row, i.e. 1/k of a byte per weight, k >= 4096)
are left out.

KV cache: fp8 or int8, 1 byte per element (vLLM's kv_cache_dtype fp8; the values are dequantised inside
the attention kernel, which stays in the activation dtype, so only the bytes change and no tensor-core
format is needed). Units: bytes, parameters, seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.cost.gemm import memory_bound_time
from planner.cost.transformer import parameter_breakdown
from planner.spec.hardware import Device
from planner.spec.llm import LLMConfig
from planner.spec.profile import DTYPE_BYTES

WEIGHT_FORMATS = ("fp8", "int8", "int4")
KV_FORMATS = ("fp8", "int8")
INT4_GROUP = 128  # weights per fp16 scale (AWQ / GPTQ / Marlin default group size)
INT4_BYTES = (4 + 16 / INT4_GROUP) / 8  # 4.125 bits per weight (Marlin README)
WEIGHT_BYTES = {"fp8": 1.0, "int8": 1.0, "int4": INT4_BYTES}
PEAK_FORMAT = {"fp8": "fp8", "int8": "int8"}  # W8A8 formats run their GEMMs at their own peak
DEQUANT_KERNELS_PER_LAYER = 4  # one per weight matrix: QKV, output projection, FFN in, FFN out


@dataclass(frozen=True)
class Precision:
    """Serving precision: the activation dtype (bf16 / fp16 / fp32), the weights' format (None: the
    activation dtype) and the KV cache's (None: the activation dtype)."""

    activation: str
    weights: str | None = None
    kv_cache: str | None = None

    def __post_init__(self) -> None:
        if self.weights is not None and self.weights not in WEIGHT_FORMATS:
            raise ValueError(
                f"weight format must be one of {', '.join(WEIGHT_FORMATS)}, got '{self.weights}'"
            )
        if self.kv_cache is not None and self.kv_cache not in KV_FORMATS:
            raise ValueError(f"KV-cache format must be one of {', '.join(KV_FORMATS)}, got '{self.kv_cache}'")

    @property
    def gemm_dtype(self) -> str:
        """The peak the layers' weight GEMMs run at: fp8 / int8 for W8A8, else the activation dtype."""
        return PEAK_FORMAT.get(self.weights or "", self.activation)

    @property
    def kv_dtype(self) -> str:
        return self.kv_cache or self.activation

    @property
    def bytes_per_layer_weight(self) -> float:
        """Bytes one transformer-layer weight occupies (and a decode step reads)."""
        return WEIGHT_BYTES[self.weights] if self.weights else float(DTYPE_BYTES[self.activation])

    @property
    def dequantises(self) -> bool:
        """Weight-only int4: prefill dequantises the weights before its GEMMs (module docstring)."""
        return self.weights == "int4"

    def label(self) -> str:
        """e.g. 'bf16', 'int4 weights / bf16', 'fp8 weights / bf16 / fp8 KV cache'."""
        parts = ([f"{self.weights} weights"] if self.weights else []) + [self.activation]
        return " / ".join(parts + ([f"{self.kv_cache} KV cache"] if self.kv_cache else []))


def missing_format(precision: Precision, device: Device) -> str | None:
    """Why `device` cannot run `precision` (the GEMM peak it lacks), or None when it can."""
    for dtype in dict.fromkeys((precision.activation, precision.gemm_dtype)):
        if dtype not in device.peak_compute:
            return f"it lists no {dtype} peak, only {', '.join(device.peak_compute)}"
    return None


def layer_weight_parameters(cfg: LLMConfig) -> int:
    """Parameters a quantiser converts: every layer's attention and FFN blocks (their biases and a MoE
    router included, a few parts per million)."""
    parts = parameter_breakdown(cfg)
    return parts["attention"] + parts["ffn"]


def weight_bytes(cfg: LLMConfig, precision: Precision, parameters: int | None = None) -> float:
    """Bytes of `parameters` weights (default: the whole model) of which the transformer layers' are
    quantised and the rest (embedding, head, norms) stay in the activation dtype."""
    total = parameters if parameters is not None else sum(parameter_breakdown(cfg).values())
    layers = layer_weight_parameters(cfg)
    rest = total - layers
    return layers * precision.bytes_per_layer_weight + rest * DTYPE_BYTES[precision.activation]


def dequantise_time(device: Device, cfg: LLMConfig, precision: Precision, tensor: float) -> float:
    """Seconds to dequantise one layer's weights (on one of t devices) before a prefill's GEMMs: read
    4.125 bits and write the activation dtype per weight, one kernel per matrix (module docstring); 0
    unless the weights are int4."""
    if not precision.dequantises:
        return 0.0
    per_layer = layer_weight_parameters(cfg) / cfg.num_layers / tensor
    moved = per_layer * (precision.bytes_per_layer_weight + DTYPE_BYTES[precision.activation])
    return float(memory_bound_time(device, moved, DEQUANT_KERNELS_PER_LAYER))


def gemm_rate(device: Device, precision: Precision) -> float:
    """FLOP/s the layers' weight GEMMs sustain: the GEMM format's peak x its matmul efficiency
    (Device.matmul_efficiency: its own figure where the device gives one, else compute_efficiency)."""
    return device.peak_compute[precision.gemm_dtype] * device.matmul_efficiency(precision.gemm_dtype)
