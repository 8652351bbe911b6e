"""Transformer inference split over N devices: by attention heads (over E) or by tokens (over L).

Forward pass of one sequence of L tokens (prefill / encoding, batch 1) through one transformer layer of an
LLMConfig, split over N devices of a cluster (the seed lecture: head-wise partition vs sequence partition).

* Head-wise, over the embedding dimension E (tensor parallelism; Shoeybi et al., "Megatron-LM", 2019,
  Sec. 3): each device holds H/N heads and F/N columns of the FFN, i.e. 1/N of every weight matrix, and
  computes 1/N of the FLOP; the attention and FFN outputs are partial sums that need one all-reduce each
  of the L × E activation: 2 all-reduces of G = L·E·b bytes per layer (ring: 2(N-1)/N·G sent per device).
* Sequence, over L: each device holds L/N tokens and every weight; projections and FFN are local, but
  attention needs every token's keys and values: an all-gather of K and V, each device contributing
  S = (L/N)·2·d_kv·b bytes ((N-1)·S received per device).

FLOP per layer (2 per multiply-accumulate): Q, K, V, O projections 2L·E·(2·d_q + 2·d_kv), attention
scores and weighted values 4·L²·d_q (the full L × L matrix; causal masking is not exploited), FFN
2L·E·F·(3 gated or 2). d_q = heads·head_dim, d_kv = kv_heads·head_dim, b bytes per element.
Compute time: roofline (planner.cost.compute) with the weights each device reads; communication:
planner.cost.collectives on the cluster's levels (a shared medium serialises). No overlap of the two.

Units: FLOP, bytes, seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.cost.cluster_allreduce import allreduce_on_cluster
from planner.cost.collective_layout import ring_link
from planner.cost.collectives import ring_allgather_time
from planner.cost.compute import roofline_time
from planner.cost.transformer import attention_parameters, ffn_parameters
from planner.spec.hardware import Cluster, Device
from planner.spec.llm import LLMConfig
from planner.spec.profile import DTYPE_BYTES


@dataclass(frozen=True)
class PartitionCost:
    """One way of splitting one layer: per-device FLOP, weight bytes read, bytes sent, and seconds."""

    scheme: str
    devices: int
    flops_per_device: float
    weight_bytes_per_device: float
    comm_bytes_per_device: float
    compute_s: float
    comm_s: float

    @property
    def layer_s(self) -> float:
        return self.compute_s + self.comm_s

    def to_dict(self, layers: int) -> dict[str, object]:
        return {
            "scheme": self.scheme,
            "devices": self.devices,
            "flops_per_device": self.flops_per_device,
            "weight_bytes_per_device": self.weight_bytes_per_device,
            "comm_bytes_per_device": self.comm_bytes_per_device,
            "compute_s": self.compute_s,
            "comm_s": self.comm_s,
            "layer_s": self.layer_s,
            "model_s": self.layer_s * layers,
        }


def layer_flops(cfg: LLMConfig, tokens: int) -> float:
    """Forward FLOP of one decoder layer on `tokens` tokens (module docstring)."""
    d, f, length = cfg.hidden_size, cfg.ffn_size, tokens
    q_dim = cfg.num_heads * cfg.head_size
    kv_dim = cfg.kv_heads * cfg.head_size
    projections = 2.0 * length * d * (2 * q_dim + 2 * kv_dim)
    attention = 4.0 * length * length * q_dim
    ffn = 2.0 * length * d * f * (3 if cfg.gated_ffn else 2)
    return projections + attention + ffn


def partition_costs(
    cfg: LLMConfig, cluster: Cluster, devices: int, tokens: int, dtype: str
) -> list[PartitionCost]:
    """Head-wise and sequence partition of one layer over `devices` devices of `cluster`.

    Raises ValueError when heads (or tokens) do not divide by the devices, or the device lacks `dtype`.
    """
    device = cluster.device
    assert isinstance(device, Device)
    if devices < 1:
        raise ValueError(f"devices must be >= 1, got {devices}")
    if cfg.num_heads % devices:
        raise ValueError(f"{cfg.num_heads} heads do not split over {devices} devices")
    if tokens % devices:
        raise ValueError(f"{tokens} tokens do not split over {devices} devices")
    b = DTYPE_BYTES[dtype]
    weights = float(attention_parameters(cfg) + ffn_parameters(cfg)) * b
    flops = layer_flops(cfg, tokens)
    activation = float(tokens * cfg.hidden_size * b)
    n = devices
    # activations each device reads and writes: its share of the layer input and output (approximate)
    act_head = 2.0 * activation
    act_seq = 2.0 * activation / n

    head_compute = float(roofline_time(flops / n, weights / n + act_head, device, dtype))
    reduce = allreduce_on_cluster(cluster, activation, "ring", devices=n)
    head = PartitionCost(
        "head-wise (over E)",
        n,
        flops / n,
        weights / n,
        2.0 * reduce.bytes_sent_per_device,
        head_compute,
        2.0 * reduce.time_s,
    )
    contribution = float(tokens // n * 2 * cfg.kv_heads * cfg.head_size * b)
    latency, bandwidth = ring_link(cluster, n) if n > 1 else (0.0, 1.0)
    gather_s = float(ring_allgather_time(contribution, n, bandwidth, latency))
    seq_compute = float(roofline_time(flops / n, weights + act_seq, device, dtype))
    seq = PartitionCost(
        "sequence (over L)",
        n,
        flops / n,
        weights,
        (n - 1) * contribution,
        seq_compute,
        gather_s,
    )
    return [head, seq]


def pick_dtype(cfg: LLMConfig, device: Device) -> str:
    """The model's serving dtype if the device has a peak for it, else fp16, else fp32."""
    for dtype in (cfg.dtype, "fp16", "fp32"):
        if dtype in device.peak_compute and dtype in ("fp32", "fp16", "bf16"):
            return dtype
    raise ValueError(f"{device.name} lists no fp32, fp16 or bf16 peak")
