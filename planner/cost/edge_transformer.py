"""The seed lecture's two transformer partitions, next to Megatron's (planner.cost.transformer_partition).

One decoder layer, L tokens, E = hidden size, H heads of size d (d_q = H·d), b bytes per element, N devices:

* along E, head-wise (the lecture): heads are independent through Q·K^T, the softmax and ·V, so each device
  computes H/N heads on the whole input X (replicated) and no data moves until one gather of the heads'
  outputs (L × E). The rest of the layer (the output projection and the FFN) is row-wise in the tokens, so
  each device finishes L/N rows with every weight and a second gather rebuilds X (L × E) for the next
  layer: 2 all-gathers of L·E·b per layer, each device contributing 1/N. Weights per device: 1/N of
  W_Q, W_K, W_V, all of W_O and the FFN.
* along L (the lecture): each device holds L/N tokens; the L × L score matrix Q·K^T of every head is
  assembled by an all-reduce (each device fills the entries its tokens give, the sum completes it: H·L²·b
  bytes), and ·V needs every token's values, an all-gather of L·d_kv·b; all weights on every device.
* Megatron-style tensor parallelism (Shoeybi et al. 2019, Sec. 3): 1/N of every weight, 2 all-reduces of
  L·E·b (planner.cost.transformer_partition); an all-reduce moves twice an all-gather's bytes (ring:
  reduce-scatter then all-gather, Patarasuk & Yuan 2009), so the lecture's head-wise split sends half of
  Megatron's bytes for more weights per device.

Which wins: the L partition's all-reduce grows with H·L² and the head-wise gathers with L·E, so head-wise
sends d / L as much (d = E/H the head size; the values' gather aside): for L above d head-wise moves less,
the lecture's argument. Compute: FLOP / N on every scheme (planner.cost.transformer_partition.layer_flops),
roofline with each scheme's weights read; ring collectives on the cluster's links (collective_layout).

Units: FLOP, bytes, seconds.
"""

from __future__ import annotations

from planner.cost.collective_layout import ring_link
from planner.cost.collectives import ring_allgather_time, ring_allreduce_time
from planner.cost.compute import roofline_time
from planner.cost.transformer import attention_parameters, ffn_parameters
from planner.cost.transformer_partition import PartitionCost, layer_flops
from planner.spec.hardware import Cluster, Device
from planner.spec.llm import LLMConfig
from planner.spec.profile import DTYPE_BYTES


def lecture_partitions(
    cfg: LLMConfig, cluster: Cluster, devices: int, tokens: int, dtype: str
) -> list[PartitionCost]:
    """The lecture's head-wise (along E) and along-L partitions of one layer over `devices` devices.

    Raises ValueError when the heads (or the tokens) do not divide by the devices.
    """
    device = cluster.device
    assert isinstance(device, Device)
    n = devices
    if n < 1 or cfg.num_heads % n or tokens % n:
        raise ValueError(f"{cfg.num_heads} heads and {tokens} tokens do not both split over {n} devices")
    b = DTYPE_BYTES[dtype]
    latency, bandwidth = ring_link(cluster, n) if n > 1 else (0.0, 1.0)
    flops = layer_flops(cfg, tokens)
    q_dim, kv_dim = cfg.num_heads * cfg.head_size, cfg.kv_heads * cfg.head_size
    all_weights = float(attention_parameters(cfg) + ffn_parameters(cfg)) * b
    qkv_weights = float(cfg.hidden_size * (q_dim + 2 * kv_dim)) * b
    activation = float(tokens * cfg.hidden_size * b)

    share = activation / n  # each device's part of a gathered L x E activation
    head_weights = all_weights - qkv_weights * (1 - 1 / n)
    head = PartitionCost(
        "head-wise (E, 2 gathers)",
        n,
        flops / n,
        head_weights,
        2.0 * (n - 1) * share,
        float(roofline_time(flops / n, head_weights + 2 * activation, device, dtype)),
        2.0 * float(ring_allgather_time(share, n, bandwidth, latency)),
    )
    scores = float(cfg.num_heads * tokens * tokens * b)
    values = float(tokens // n * kv_dim * b)
    length = PartitionCost(
        "along L (all-reduce QK^T)",
        n,
        flops / n,
        all_weights,
        2.0 * (n - 1) / n * scores + (n - 1) * values,
        float(roofline_time(flops / n, all_weights + 2 * activation / n + scores, device, dtype)),
        float(
            ring_allreduce_time(scores, n, bandwidth, latency)
            + ring_allgather_time(values, n, bandwidth, latency)
        ),
    )
    return [head, length]
