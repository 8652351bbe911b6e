"""Time of one autoregressive decoding step of a transformer LM on a device, from the roofline.

A step of `batch` sequences, each adding `tokens` positions (1 for plain decoding, gamma + 1 when the
target verifies a speculative draft) after `context` cached tokens, on a tensor-parallel group of `tp`
devices:

* bytes: every weight the step uses is read once (the token embedding is a look-up of a few rows, so
  an untied input table is not read; a tied one is, as the output head; of a mixture of experts' routed
  experts only the distinct ones the step's tokens hit, planner.cost.moe.distinct_experts, uniform
  routing assumed), plus the KV cache:
  batch * context * 2 * kv_heads * head_dim bytes per layer (self-attention; an encoder-decoder's
  cross-attention cache is taken as `context` source tokens too); activations are negligible at decode;
* FLOPs: 2 per weight a token uses (one multiply-add; Kaplan et al. 2020, Table 1; a mixture of experts'
  active weights, planner.cost.moe.active_parameters) plus attention over the
  cache, 4 * context * heads * head_dim per layer per token (scores and weighted values; Hoffmann et
  al. 2022, App. F); encoder-decoder decoder layers attend twice;
* time: the roofline max(FLOPs / sustained compute, bytes / sustained bandwidth) of one device's share
  (Williams et al. 2009; planner.cost.compute), since weights, heads and FLOPs split over the tp devices
  (Megatron-LM, Shoeybi et al. 2019, Sec. 3); plus the tensor-parallel all-reduces, which Megatron's
  layer needs after the attention block and after the MLP (2 per layer; 3 in an encoder-decoder decoder
  layer, with cross-attention), each of batch * tokens * hidden activations, on the server's link
  (planner.cost.collectives). The embedding's and the logits' collectives are left out.

Expert parallelism (serving; vLLM's --enable-expert-parallel, whose EP size is TP x DP, docs.vllm.ai
"Expert Parallel Deployment" and "Data Parallel Deployment"): a placement's `expert` e devices (a multiple
of tp) each hold num_experts / e whole routed experts, while attention and the rest are tensor-parallel
over tp and data-parallel over the e / tp attention groups, each running its own `batch`. The MoE layers
take every group's tokens (the groups step in lockstep), so a device reads the touched experts' share
1 / e and computes 1 / tp of a group's active FLOPs (uniform routing spreads the rows evenly). The
all-to-alls between the groups are the caller's (planner.optimize.serving_costs), not in time_s.

While batch * tokens stays below the device's ridge point (sustained FLOP/s over bytes/s, ~300 FLOP/byte
on an H100 in bf16, i.e. ~150 tokens at 2 FLOP per 2-byte weight), verifying gamma + 1 tokens costs
about one step (memory-bound); beyond it the cost grows with the tokens. A roofline is a lower bound:
kernel launches and per-layer overheads are not modelled (measured draft/target ratios c run 2-3x the
roofline's), so a measured c can always replace the derived one. Units: seconds, bytes, FLOP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.cost.cluster_allreduce import allreduce_on_cluster
from planner.cost.compute import sustained_compute, sustained_memory_bandwidth
from planner.cost.moe import active_parameters, distinct_experts, expert_parameters
from planner.cost.quantisation import Precision, gemm_rate, layer_weight_parameters, weight_bytes
from planner.cost.transformer import (
    attention_parameters,
    ffn_parameters,
    parameter_breakdown,
    parameter_count,
)
from planner.errors import InfeasibleError
from planner.spec.hardware import Cluster, Device
from planner.spec.llm import LLMConfig
from planner.spec.profile import DTYPE_BYTES

FloatArray = npt.NDArray[np.float64]


def encoder_parameters(cfg: LLMConfig) -> int:
    """Parameters of an encoder-decoder's encoder stack (layers, final norm, relative bias), else 0.

    The encoder runs once per input sequence; decoding steps never read it.
    """
    if cfg.architecture != "encoder-decoder":
        return 0
    norm = cfg.hidden_size * (2 if cfg.norm == "layernorm" else 1)
    layers = cfg.encoder_layers * (attention_parameters(cfg) + ffn_parameters(cfg) + 2 * norm)
    relative = (
        cfg.relative_attention_buckets * cfg.num_heads if cfg.position_embedding == "t5-relative" else 0
    )
    return layers + norm + relative


def step_weights(cfg: LLMConfig) -> int:
    """Parameters a decoding step reads: everything but the encoder and an untied input embedding."""
    untied_input = parameter_breakdown(cfg)["embedding"] if not cfg.tied_embeddings else 0
    return parameter_count(cfg) - encoder_parameters(cfg) - untied_input


def step_weight_bytes(cfg: LLMConfig, precision: Precision) -> float:
    """Bytes of the weights a decoding step reads: in the activation dtype, the layers' in their
    quantised format when one is given (planner.cost.quantisation)."""
    if precision.weights is None:
        return float(step_weights(cfg) * DTYPE_BYTES[precision.activation])
    return weight_bytes(cfg, precision, step_weights(cfg))


def routed_expert_bytes(cfg: LLMConfig, precision: Precision) -> float:
    """Bytes of every layer's routed experts (0 for a dense model): layer weights, so in the weights'
    format when quantised."""
    return expert_parameters(cfg) * precision.bytes_per_layer_weight


def skipped_parameters(cfg: LLMConfig) -> int:
    """Weights a token does not use: the routed experts its router skips (0 for a dense model)."""
    return parameter_count(cfg) - active_parameters(cfg)


def kv_bytes_per_token(cfg: LLMConfig, dtype: str) -> float:
    """KV-cache bytes one cached token costs over all decoder layers: 2 * kv_heads * head_dim per layer
    (x2 for an encoder-decoder, whose cross-attention caches the source's keys and values)."""
    attentions = 2 if cfg.architecture == "encoder-decoder" else 1
    return float(cfg.num_layers * attentions * 2 * cfg.kv_heads * cfg.head_size * DTYPE_BYTES[dtype])


def allreduces_per_step(cfg: LLMConfig, tp: int) -> int:
    """Tensor-parallel all-reduces in one forward step: 2 per decoder layer (3 with cross-attention)."""
    if tp <= 1:
        return 0
    per_layer = 3 if cfg.architecture == "encoder-decoder" else 2
    return per_layer * cfg.num_layers


@dataclass(frozen=True)
class Placement:
    """Where a model runs: `tp` devices of `device`, their all-reduces on `cluster` (None when tp = 1)."""

    device: Device
    tp: int = 1
    cluster: Cluster | None = None
    algorithm: str = "ring"
    expert: int = 1  # devices the routed experts split over (module docstring); 1: tensor-parallel

    def __post_init__(self) -> None:
        if self.tp < 1:
            raise ValueError(f"the tensor-parallel degree must be >= 1, got {self.tp}")
        if self.expert < 1 or (self.expert > 1 and self.expert % self.tp):
            raise ValueError(f"the expert-parallel degree must be 1 or a multiple of tp, got {self.expert}")
        if self.tp > 1:
            if self.cluster is None:
                raise ValueError("tensor parallelism needs a cluster for its all-reduces")
            if self.tp > self.cluster.devices_per_server:
                raise ValueError(
                    f"a tensor-parallel group lives inside one server: {self.cluster.name} has "
                    f"{self.cluster.devices_per_server} devices per server, not {self.tp}"
                )

    @property
    def groups(self) -> int:
        """Attention groups stepping together: e / tp under expert parallelism, else 1."""
        return max(1, self.expert // self.tp)

    @property
    def expert_split(self) -> int:
        """Devices a routed expert's weights are spread over: e whole experts' worth, or tp shards."""
        return max(self.tp, self.expert)


def check_fits(
    cfg: LLMConfig,
    placement: Placement,
    dtype: str,
    batch: int,
    context: int,
    precision: Precision | None = None,
    setting: str = "tensor_parallel",
) -> float:
    """Bytes one device of the group holds (weights / tp + its KV-cache share, in `precision`'s formats,
    default all `dtype`); InfeasibleError when they exceed its memory, naming the smallest tensor-parallel
    degree that would do as `setting` (the caller's name for this model's degree)."""
    precision = precision or Precision(dtype)
    need = memory_per_device(cfg, placement.tp, dtype, batch, context, precision)
    if need > placement.device.usable_memory:
        whole = memory_per_device(cfg, 1, dtype, batch, context, precision)
        least = next(
            (
                t
                for t in range(2, 65)
                if memory_per_device(cfg, t, dtype, batch, context, precision)
                <= placement.device.usable_memory
            ),
            None,
        )
        hint = f"; give `{setting}` {least} or more" if least else ""
        device = placement.device
        split = f"; split over {placement.tp}, {_size(need)} per device" if placement.tp > 1 else ""
        raise InfeasibleError(
            f"{cfg.name} in {precision.label()} needs {_size(whole)} (weights + KV cache for batch {batch}, "
            f"context {context}) and one {device.name} holds {_size(device.usable_memory)} usable"
            f"{split}{hint}"
        )
    return need


def _size(value: float) -> str:
    from planner.units import format_quantity

    return f"{format_quantity(value, 'memory')} ({value / 1e9:.1f} GB)"


def memory_per_device(
    cfg: LLMConfig, tp: int, dtype: str, batch: int, context: int, precision: Precision | None = None
) -> float:
    """Bytes per device: all weights (encoder included) / tp, plus the KV cache split over the KV heads
    (replicated once tp exceeds them); `precision` (default: all in `dtype`) quantises either."""
    precision = precision or Precision(dtype)
    whole = parameter_count(cfg) * DTYPE_BYTES[dtype]
    weights = (whole if precision.weights is None else weight_bytes(cfg, precision)) / tp
    kv = batch * context * kv_bytes_per_token(cfg, precision.kv_dtype) / min(tp, cfg.kv_heads)
    return weights + kv


def weight_reads(
    cfg: LLMConfig, placement: Placement, precision: Precision, tokens: int
) -> tuple[float, float]:
    """Weight bytes a step reads whose MoE layers take `tokens` tokens from all the attention groups
    (module docstring): (one group's whole, one device's share), of the routed experts those hit."""
    experts = routed_expert_bytes(cfg, precision)
    hit = float(distinct_experts(cfg, tokens)) / cfg.num_experts if experts else 0.0
    rest = step_weight_bytes(cfg, precision) - experts
    return rest + experts * hit, rest / placement.tp + experts * hit / placement.expert_split


@dataclass(frozen=True)
class StepTime:
    """One decoding step: time_s = compute/memory roofline (roofline_s) + all-reduces (allreduce_s)."""

    time_s: float
    roofline_s: float
    allreduce_s: float
    flops: float
    bytes: float
    allreduces: int
    compute_bound: bool
    compute_s: float  # the FLOPs' share of one device at its sustained rates


def step_time(
    cfg: LLMConfig,
    placement: Placement,
    *,
    dtype: str,
    batch: int = 1,
    tokens: int = 1,
    context: int = 512,
    precision: Precision | None = None,
) -> StepTime:
    """Time of one step that adds `tokens` positions to each of `batch` sequences (module docstring);
    `precision` (default: all in `dtype`) sets the weights' and the KV cache's bytes and the peak the
    layers' GEMMs run at (planner.cost.quantisation)."""
    if batch < 1 or tokens < 1 or context < 0:
        raise ValueError(f"need batch >= 1, tokens >= 1, context >= 0; got {batch}, {tokens}, {context}")
    precision = precision or Precision(dtype)
    tp = placement.tp
    positions = batch * tokens
    attentions = 2 if cfg.architecture == "encoder-decoder" else 1
    weights = step_weights(cfg) - skipped_parameters(cfg)
    flops = positions * (
        2.0 * weights + 4.0 * context * cfg.num_layers * attentions * cfg.num_heads * cfg.head_size
    )
    kv = batch * context * kv_bytes_per_token(cfg, precision.kv_dtype)
    read, per_device = weight_reads(cfg, placement, precision, positions * placement.groups)
    moved = read + kv
    share_bytes = per_device + kv / min(tp, cfg.kv_heads)
    device = placement.device
    compute_s = flops / tp / sustained_compute(device, dtype)
    if precision.gemm_dtype != dtype:  # the layers' GEMMs at the W8A8 format's peak, the rest at dtype's
        layer_flops = positions * 2.0 * (layer_weight_parameters(cfg) - skipped_parameters(cfg))
        faster = 1.0 / gemm_rate(device, precision) - 1.0 / sustained_compute(device, dtype)
        compute_s += layer_flops / tp * faster
    memory_s = share_bytes / sustained_memory_bandwidth(device)
    roofline = max(compute_s, memory_s)  # Williams et al. 2009
    count = allreduces_per_step(cfg, tp)
    reduce_s = 0.0
    if count:
        assert placement.cluster is not None
        message = positions * cfg.hidden_size * DTYPE_BYTES[dtype]
        one = allreduce_on_cluster(placement.cluster, message, placement.algorithm, devices=tp)
        reduce_s = count * one.time_s
    return StepTime(
        roofline + reduce_s, roofline, reduce_s, flops, moved, count, compute_s >= memory_s, compute_s
    )


def verify_ratios(
    cfg: LLMConfig,
    placement: Placement,
    gammas: npt.ArrayLike,
    *,
    dtype: str,
    batch: int = 1,
    context: int = 512,
    precision: Precision | None = None,
) -> FloatArray:
    """Time to verify gamma + 1 tokens per sequence / time of one plain step, for each gamma (>= 1;
    about 1 while memory-bound), both steps in `precision` (step_time). Unit: target steps."""

    def step(tokens: int) -> float:
        return step_time(
            cfg, placement, dtype=dtype, batch=batch, tokens=tokens, context=context, precision=precision
        ).time_s

    one = step(1)
    values = [step(int(g) + 1) / one for g in np.atleast_1d(np.asarray(gammas, dtype=int))]
    return np.asarray(values, dtype=float)


def ridge_tokens(device: Device, dtype: str) -> float:
    """Tokens per step (batch x positions) at which weight-streaming decode turns compute-bound:
    sustained FLOP/s / bytes/s * bytes per weight / 2 FLOP per weight (Williams et al. 2009, ridge point)."""
    ridge = sustained_compute(device, dtype) / sustained_memory_bandwidth(device)
    return ridge * DTYPE_BYTES[dtype] / 2.0
