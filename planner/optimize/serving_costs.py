"""Serving a decoder-only LLM: prefill, decode, the KV cache and continuous batching on one replica of
t tensor-parallel x p pipeline-parallel devices.

Pieces (each reused from the training and decoding models):

* prefill of n prompts of s tokens (compute-bound): every weight GEMM timed from its shape
  (planner.cost.layer_kernels.dense_times, forward only, T = n·s rows split t ways; Megatron-LM's
  column/row split, Shoeybi et al. 2019 Sec. 3), the causal attention core (fused: its executed FLOPs,
  planner.cost.megatron.flash_causal_fraction, at the device's fused-attention rate; standard: its GEMMs),
  the memory-bound kernels (planner.cost.megatron.elementwise_bytes_per_token), the KV-cache write
  (one kernel per layer, vLLM's reshape_and_cache; Kwon et al., SOSP 2023, Sec. 4) and the logits of the
  last position only;
* a decode step of B sequences: planner.cost.decode.step_time's roofline (weights + KV cache at the
  sustained memory bandwidth, compute where B makes it compute-bound);
* tensor-parallel all-reduces, 2 per layer of tokens x h activations (planner.cost.llm_comm, NCCL's
  fastest algorithm), and pipeline transfers between stages (planner.cost.llm_comm.p2p_time).

Expert parallelism (a mixture of experts): e devices per stage, a multiple of t, each holding num_experts / e
whole routed experts; attention, shared experts, embeddings and head tensor-parallel over t and replicated
over the e / t attention groups, each running its own share of the batch and its own KV cache (vLLM:
--enable-expert-parallel with --data-parallel-size e / t, "EP size = TP x DP", docs.vllm.ai "Expert
Parallel Deployment" and "Data Parallel Deployment"; SGLang --ep-size with --enable-dp-attention; TensorRT-
LLM's enable_attention_dp). With one group (e = t) a group's tokens are on every device already: each runs
its local experts on the rows routed to them and the layer's second all-reduce sums them, as in tensor
parallelism (SGLang's default --moe-a2a-backend none, "All-Reduce ... for token dispatch"). With several,
each MoE layer dispatches the tokens to their experts and combines the results by two all-to-alls over the
e devices (SGLang "How EP works": dispatch, expert computation, combine; DeepEP), each device sending 1/t of
its group's tokens, k rows each (planner.cost.moe.dispatch_rows, the training model's rows), by the
training's all-to-all cost (planner.cost.llm_comm.ep_alltoall_time); the attention all-reduce stays (as a
reduce-scatter before the dispatch and an all-gather after the combine, the same bytes; Korthikanti et al.
2022, Sec. 4.2.2). The expert GEMMs take every group's tokens (planner.cost.layer_kernels.dense_times);
a decode step reads the touched experts (planner.cost.decode.step_time).

Quantisation (planner.cost.quantisation): the layers' weights in fp8 / int8 (their GEMMs at that peak)
or int4 weight-only (GEMMs at the activation dtype's peak plus one dequantisation pass per layer in
prefill), the KV cache in fp8 / int8; memory, decode's reads and the KV-cache writes take their bytes,
while activations, all-reduces, attention and the logits stay in the activation dtype.

Continuous batching (iteration-level scheduling; Yu et al., "Orca", OSDI 2022, Sec. 3) keeps B sequences
in flight; a sequence holds its slot for its O output tokens, so in steady state B / E[O] requests finish
and as many prompts are prefilled per iteration (Little's law). Without chunking (vLLM's default
scheduler, Kwon et al. 2023) those prompts run as prefill iterations that stall every running sequence:
one iteration (a token for each sequence) lasts decode(B) + prefill(B / E[O] prompts). With chunked
prefill (Agrawal et al., "Sarathi-Serve", OSDI 2024, Sec. 4) the prompt tokens ride in the decode
iteration, whose weights are read once: max(decode(B), decode's compute + the prefill's compute time).
Pipeline parallelism keeps p micro-batches of B/p in flight (each stage holds l/p layers, embeddings and
head split evenly as an approximation): an iteration is one full-model step of B/p sequences plus the
prefill's 1/p share per stage. TPOT = the iteration time; TTFT = half an iteration of waiting plus the
request's prefill (unchunked: the prompts of one iteration, batched; chunked: ceil(s / chunk) iterations,
each carrying a full chunk).

Units: seconds, bytes, tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.cost import megatron as mg
from planner.cost.decode import Placement, kv_bytes_per_token, routed_expert_bytes, step_time
from planner.cost.gemm import memory_bound_time
from planner.cost.layer_kernels import attention_times, dense_times, elementwise_time, logit_times
from planner.cost.llm_comm import ep_alltoall_time, p2p_time, tp_allreduce_time
from planner.cost.moe import dispatch_rows, expert_parameters
from planner.cost.quantisation import Precision, dequantise_time, layer_weight_parameters, weight_bytes
from planner.cost.transformer import parameter_count
from planner.spec.hardware import Cluster, Device
from planner.spec.llm import LLMConfig
from planner.spec.profile import DTYPE_BYTES

ALLREDUCES_PER_LAYER = 2  # after attention and after the MLP (Megatron-LM, Shoeybi et al. 2019, Sec. 3)
ALLTOALLS_PER_LAYER = 2  # an expert-parallel MoE layer's dispatch and combine (module docstring)


@dataclass(frozen=True)
class Request:
    """A kind of request: prompt and output tokens, and its share of the requests (weight)."""

    prompt: int
    output: int
    weight: float = 1.0


@dataclass(frozen=True)
class Workload:
    """The request mix. Request-weighted means set the arrival work; slot-weighted ones (a request holds a
    slot for its output's iterations) set what the running batch holds."""

    requests: tuple[Request, ...]

    def _shares(self) -> list[float]:
        total = sum(r.weight for r in self.requests)
        return [r.weight / total for r in self.requests]

    @property
    def prompt_mean(self) -> float:
        return sum(w * r.prompt for w, r in zip(self._shares(), self.requests, strict=True))

    @property
    def output_mean(self) -> float:
        return sum(w * r.output for w, r in zip(self._shares(), self.requests, strict=True))

    @property
    def output_variation(self) -> float:
        """The squared coefficient of variation of the output length over the requests (0 for one kind)."""
        second = sum(w * float(r.output) ** 2 for w, r in zip(self._shares(), self.requests, strict=True))
        return max(0.0, second / self.output_mean**2 - 1.0)

    def slot_mean(self, per_request: list[float]) -> float:
        """The mean of a per-request quantity over the running slots (weighted by request x output)."""
        pairs = list(zip(self._shares(), self.requests, per_request, strict=True))
        return sum(w * r.output * x for w, r, x in pairs) / sum(w * r.output for w, r, _ in pairs)

    @property
    def context_mean(self) -> float:
        """Cached tokens of a running sequence on average: its prompt plus half its output."""
        return self.slot_mean([r.prompt + r.output / 2.0 for r in self.requests])


@dataclass(frozen=True)
class ServingSetup:
    """One replica's configuration and the workload it serves."""

    model: LLMConfig
    cluster: Cluster
    device: Device
    dtype: str
    tensor: int
    pipeline: int
    workload: Workload
    attention: str = "flash"
    chunked: bool = False
    chunk_tokens: int = 512
    memory_headroom: float = 0.1
    block_tokens: int = 16
    weights: str | None = None  # the layers' weight format (planner.cost.quantisation); None: dtype
    kv_cache: str | None = None  # the KV cache's format; None: dtype
    expert: int = 1  # devices per stage the routed experts split over (module docstring); 1: none

    @property
    def stage_devices(self) -> int:
        return max(self.tensor, self.expert)

    @property
    def devices(self) -> int:
        return self.stage_devices * self.pipeline

    @property
    def groups(self) -> int:
        """Attention groups of a stage, each with its own sequences: e / t under expert parallelism."""
        return self.stage_devices // self.tensor

    @property
    def precision(self) -> Precision:
        return Precision(self.dtype, self.weights, self.kv_cache)


def prefill_compute_time(setup: ServingSetup, sequences: float, prompt: float, groups: int = 1) -> float:
    """Seconds one tensor-parallel group spends on all layers' prefill of `sequences` prompts of `prompt`
    tokens (batched; no communication), `groups` attention groups prefilling as many at once, whose
    tokens its experts share under expert parallelism: module docstring."""
    cfg, device, dtype, t = setup.model, setup.device, setup.dtype, setup.tensor
    tokens = sequences * prompt
    precision = setup.precision
    if setup.expert > 1:
        experts = (setup.expert, None, groups * tokens, 1)  # whole experts on each device
        dense = float(dense_times(device, precision.gemm_dtype, cfg, tokens, t, *experts)[0])
    else:
        dense = float(dense_times(device, precision.gemm_dtype, cfg, tokens, t)[0])
    dense += dequantise_time(device, cfg, precision, layer_split(setup))
    if setup.attention == "flash":
        seq_len, count = prompt, sequences
    else:  # its GEMMs need whole shapes
        seq_len, count = round(prompt), max(1, round(sequences))
    attention = float(attention_times(device, dtype, cfg, seq_len, count, t, setup.attention)[0])
    linear, core = mg.elementwise_bytes_per_token(cfg, prompt, t, False, setup.attention)
    elementwise = float(elementwise_time(device, float(linear + core) * tokens, setup.attention))
    kv_write = tokens * kv_bytes_per_token(cfg, precision.kv_dtype) / cfg.num_layers / min(t, cfg.kv_heads)
    kv = float(memory_bound_time(device, kv_write, 1))
    logits = float(logit_times(device, dtype, cfg, max(1.0, sequences), t)[0])
    return cfg.num_layers * (dense + attention + elementwise + kv) + logits


def prefill_share_time(setup: ServingSetup, sequences: float, prompt: float) -> float:
    """Prefill compute of `sequences` prompts per iteration and attention group on average (every group as
    many): under one prompt per iteration the prompts come one at a time, so the share is that fraction
    of one prompt's prefill."""
    if sequences < 1.0:
        return sequences * prefill_compute_time(setup, 1.0, prompt)
    return prefill_compute_time(setup, sequences, prompt, setup.groups)


def layer_split(setup: ServingSetup) -> float:
    """The ways the transformer layers' weights split per device: t, or under expert parallelism the
    whole over one device's share (the rest / t + the routed experts / e)."""
    if setup.expert == 1:
        return setup.tensor
    layers = float(layer_weight_parameters(setup.model))
    experts = float(expert_parameters(setup.model))
    return layers / ((layers - experts) / setup.tensor + experts / setup.expert)


def allreduce_time(setup: ServingSetup, tokens: float) -> float:
    """One tensor-parallel all-reduce of `tokens` x h activations (0 when t = 1)."""
    message = tokens * setup.model.hidden_size * DTYPE_BYTES[setup.dtype]
    return tp_allreduce_time(setup.cluster, setup.tensor, message) if setup.tensor > 1 else 0.0


def alltoall_bytes(setup: ServingSetup, tokens: float) -> float:
    """Bytes one device sends in an expert-parallel all-to-all (a dispatch or a combine) when every
    attention group holds `tokens` tokens: the rows of its 1/t of them (0 with one group)."""
    if setup.groups <= 1:
        return 0.0
    rows = dispatch_rows(setup.model, tokens / setup.tensor, setup.expert)
    return rows * setup.model.hidden_size * DTYPE_BYTES[setup.dtype]


def alltoall_time(setup: ServingSetup, tokens: float) -> float:
    """One expert-parallel all-to-all among the stage's e devices (alltoall_bytes each; 0 with one group)."""
    return ep_alltoall_time(setup.cluster, 1, setup.expert, alltoall_bytes(setup, tokens))


def layer_comm_time(setup: ServingSetup, tokens: float) -> float:
    """One layer's collectives when every attention group holds `tokens` tokens: two all-reduces, or with
    several groups one all-reduce and the dispatch and combine all-to-alls (module docstring)."""
    if setup.groups > 1:
        return allreduce_time(setup, tokens) + ALLTOALLS_PER_LAYER * alltoall_time(setup, tokens)
    return ALLREDUCES_PER_LAYER * allreduce_time(setup, tokens)


def stage_transfer_time(setup: ServingSetup, tokens: float) -> float:
    """One pipeline transfer of `tokens` x h activations between adjacent stages (0 when p = 1)."""
    if setup.pipeline <= 1:
        return 0.0
    message = tokens * setup.model.hidden_size * DTYPE_BYTES[setup.dtype]
    return float(p2p_time(setup.cluster, setup.stage_devices, 1, setup.pipeline, message))


def placement(setup: ServingSetup) -> Placement:
    cluster = setup.cluster if setup.tensor > 1 else None
    return Placement(setup.device, setup.tensor, cluster, expert=setup.expert)


def weight_bytes_per_device(setup: ServingSetup) -> float:
    """The weights one device holds: all / (t x p), or under expert parallelism the routed experts / e and
    the rest / t of a stage's share."""
    if setup.expert > 1:
        whole = float(weight_bytes(setup.model, setup.precision))
        experts = routed_expert_bytes(setup.model, setup.precision)
        return ((whole - experts) / setup.tensor + experts / setup.expert) / setup.pipeline
    if setup.weights is None:
        return parameter_count(setup.model) * DTYPE_BYTES[setup.dtype] / setup.devices
    return weight_bytes(setup.model, setup.precision) / setup.devices


def kv_bytes_per_sequence_device(setup: ServingSetup) -> float:
    """KV-cache bytes one running sequence takes on one device, in paged blocks (vLLM, Kwon et al. 2023,
    Sec. 4.1: blocks of `block_tokens`), at its full length prompt + output, mean over the slots; split
    over the KV heads (replicated beyond them) and the pipeline stages."""
    cfg, w = setup.model, setup.workload
    blocks = [math.ceil((r.prompt + r.output) / setup.block_tokens) for r in w.requests]
    tokens = w.slot_mean([b * setup.block_tokens for b in blocks])
    return (
        tokens
        * kv_bytes_per_token(cfg, setup.precision.kv_dtype)
        / min(setup.tensor, cfg.kv_heads)
        / setup.pipeline
    )


def max_concurrent_sequences(setup: ServingSetup) -> int:
    """Sequences whose KV cache fits beside the weights in (1 - memory_headroom) of a device's usable
    memory (Device.usable_memory; vLLM's gpu_memory_utilization, default 0.9, keeps the rest for
    activations and the runtime), in every attention group."""
    free = setup.device.usable_memory * (1.0 - setup.memory_headroom) - weight_bytes_per_device(setup)
    return setup.groups * max(0, math.floor(free / kv_bytes_per_sequence_device(setup)))


@dataclass(frozen=True)
class ServingPoint:
    """Continuous batching at `batch` running sequences per replica (module docstring)."""

    batch: int
    iteration_s: float  # one token for every running sequence = TPOT
    ttft_s: float
    decode_step_s: float  # the decode part of an iteration (roofline + communication)
    prefill_share_s: float  # the prefill part of an iteration (stall or piggy-backed compute)
    prefill_s: float  # one prompt alone, all stages, with its communication
    tokens_per_s: float  # output tokens per second of the replica
    compute_bound: bool  # the decode step is compute-bound

    @property
    def tpot_s(self) -> float:
        return self.iteration_s


def prefill_latency(setup: ServingSetup, sequences: float, prompt: float, groups: int = 1) -> float:
    """Seconds from a batch of prompts entering an attention group (`groups` of them at once) to its first
    tokens: every stage in turn, the collectives of each layer and the transfers between stages."""
    compute = prefill_compute_time(setup, sequences, prompt, groups)
    tokens = sequences * prompt
    comm = setup.model.num_layers * layer_comm_time(setup, tokens)
    return compute + comm + (setup.pipeline - 1) * stage_transfer_time(setup, tokens)


def group_sequences(setup: ServingSetup, batch: int) -> int:
    """Sequences one attention group steps at once: its share of a pipeline micro-batch of `batch`."""
    return math.ceil(math.ceil(batch / setup.pipeline) / setup.groups)


def serving_point(setup: ServingSetup, batch: int) -> ServingPoint:
    """Steady-state continuous batching with `batch` sequences in flight (module docstring), spread evenly
    over the attention groups."""
    cfg, w, p, groups = setup.model, setup.workload, setup.pipeline, setup.groups
    micro = group_sequences(setup, batch)
    step = step_time(
        cfg,
        placement(setup),
        dtype=setup.dtype,
        batch=micro,
        context=round(w.context_mean),
        precision=setup.precision,
    )
    layers = cfg.num_layers
    decode_comm = layers * layer_comm_time(setup, micro) + p * stage_transfer_time(setup, micro)
    decode = step.roofline_s + decode_comm
    arrivals = batch / w.output_mean / groups  # prompts one group prefills per iteration (Little's law)
    tokens = arrivals * w.prompt_mean
    prefill_comm = layers / p * layer_comm_time(setup, tokens) + stage_transfer_time(setup, tokens)
    prefill_work = prefill_share_time(setup, arrivals, w.prompt_mean) / p
    alone = prefill_latency(setup, 1.0, w.prompt_mean)
    if setup.chunked:
        compute = step.compute_s
        iteration = max(decode, compute + decode_comm + prefill_work + prefill_comm)
        share = iteration - decode
        # a budget below the arrivals' tokens would fall behind: the scheduler must take them all
        chunk = min(max(setup.chunk_tokens, tokens), w.prompt_mean)
        own = prefill_compute_time(setup, chunk / w.prompt_mean, w.prompt_mean, groups) + prefill_comm
        carrying = max(decode, compute + decode_comm + own)  # an iteration that carries one full chunk
        ttft = 0.5 * iteration + math.ceil(w.prompt_mean / chunk) * carrying
    else:
        share = prefill_work + prefill_comm
        iteration = decode + share
        busy = min(groups, max(1, math.ceil(arrivals * groups)))  # groups prefilling in one iteration
        ttft = 0.5 * iteration + prefill_latency(setup, max(1.0, arrivals), w.prompt_mean, busy)
    return ServingPoint(batch, iteration, ttft, decode, share, alone, batch / iteration, step.compute_bound)


def batch_grid(largest: int) -> list[int]:
    """Batches of the throughput/latency curve: powers of two up to `largest`, and `largest` itself."""
    grid = [2**k for k in range(0, max(0, largest).bit_length()) if 2**k <= largest]
    return grid + ([largest] if largest >= 1 and largest not in grid else [])
