"""A transformer layer split over devices by heads (over the embedding E) or by tokens (over the sequence
L) for inference: communication and time of each (planner.cost.transformer_partition): options, result,
and the question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.edge_inputs import setting_error
from planner.api.inputs import ModelRef, cluster_device, load_cluster, load_llm
from planner.errors import SettingError
from planner.validate.bands import EDGE, band_fields

if TYPE_CHECKING:
    from planner.cost.transformer_partition import PartitionCost
    from planner.spec.hardware import Cluster


@dataclass(frozen=True)
class EdgeTransformerOptions:
    """The devices, the sequence and the dtype."""

    cluster: str | Cluster = "dgx-1"
    devices: int | None = None  # devices to split over; None: default_devices (one server's, or fewer)
    tokens: int | None = None  # the sequence length L; None: the model's maximum
    dtype: str | None = None  # the compute dtype; None: the model's if the device has it

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (the device count is checked against
        the cluster by the question)."""
        if self.tokens is not None and self.tokens < 1:
            raise SettingError("tokens", "expected a whole number >= 1", self.tokens)


@dataclass(frozen=True)
class EdgeTransformerResult:
    """One layer's cost under each scheme, and the model's (`layers` layers)."""

    model: str
    cluster: str
    devices: int
    tokens: int
    dtype: str
    layers: int
    schemes: tuple[PartitionCost, ...]
    notes: tuple[str, ...] = ()  # how a default was chosen

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "cluster": self.cluster,
            "devices": self.devices,
            "tokens": self.tokens,
            "dtype": self.dtype,
            "layers": self.layers,
            "schemes": [scheme.to_dict(self.layers) for scheme in self.schemes],
            "notes": list(self.notes),
            **band_fields(EDGE),
        }


def edge_transformer(model: ModelRef, options: EdgeTransformerOptions | None = None) -> EdgeTransformerResult:
    """Head-wise vs sequence partition of an LLM's layers over the devices of a cluster."""
    from dataclasses import replace

    from planner.cost.edge_transformer import lecture_partitions
    from planner.cost.transformer_partition import partition_costs, pick_dtype

    options = options or EdgeTransformerOptions()
    options.check()
    cfg = load_llm(model)
    cluster = load_cluster(options.cluster)
    length = options.tokens if options.tokens is not None else cfg.max_sequence_length
    n = options.devices
    notes: tuple[str, ...] = ()
    if n is None:
        # one server's devices; a cluster of single-device servers (boards) offers all of them
        pool = cluster.devices_per_server if cluster.devices_per_server > 1 else cluster.total_devices
        n = default_devices(cfg.num_heads, length, pool)
        if n != pool:
            notes = (
                f"devices: {n}, the most of the {pool} at hand that divide both the "
                f"{cfg.num_heads} heads and the {length} tokens (every scheme splits them evenly)",
            )
    if not 1 <= n <= cluster.total_devices:
        raise SettingError("devices", f"expected 1 to {cluster.total_devices} on {cluster.name}", n)
    device = cluster_device(cluster)
    with setting_error("dtype"):
        dtype = options.dtype or pick_dtype(cfg, device)
        if dtype not in device.peak_compute:
            raise ValueError(f"{device.name} lists no {dtype} peak")
    with setting_error("devices"):
        megatron, sequence = partition_costs(cfg, cluster, n, length, dtype)
        lecture = lecture_partitions(cfg, cluster, n, length, dtype)
    costs = (
        *lecture,
        replace(megatron, scheme="Megatron TP (2 all-reduces)"),
        replace(sequence, scheme="sequence (K/V gather)"),
    )
    head, along_l = lecture
    fewer = "head-wise" if head.comm_bytes_per_device < along_l.comm_bytes_per_device else "along L"
    notes += (
        f"lecture: {fewer} sends fewer bytes ({head.comm_bytes_per_device:.3g} vs "
        f"{along_l.comm_bytes_per_device:.3g} B per device per layer); head-wise moves less whenever the "
        f"{length} tokens exceed the head size {cfg.head_size}; the fastest here is "
        f"{min(costs, key=lambda c: c.layer_s).scheme}",
    )
    layers = cfg.num_layers + cfg.encoder_layers
    return EdgeTransformerResult(cfg.name, cluster.name, n, length, dtype, layers, costs, notes)


def default_devices(heads: int, tokens: int, server_devices: int) -> int:
    """The devices to split over when none are given: the most, up to one server's, that divide both the
    heads (head-wise partition) and the tokens (sequence partition; planner.cost.transformer_partition)."""
    return max(d for d in range(1, server_devices + 1) if heads % d == 0 and tokens % d == 0)
