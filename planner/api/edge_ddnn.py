"""DDNN (Teerapittayanon et al., ICDCS 2017): several end devices aggregated locally, with local, edge and
cloud exits; bytes per device against offloading the raw input: options, result, and the question
(planner.cost.edge_ddnn does the costing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.inputs import load_cluster
from planner.errors import SettingError
from planner.validate.bands import EDGE, band_fields

if TYPE_CHECKING:
    from planner.cost.edge_ddnn import DDNNCost
    from planner.spec.hardware import Cluster


@dataclass(frozen=True)
class EdgeDDNNOptions:
    """The defaults are the authors' communication experiment (kunglab/ddnn exp/exp_comm.py: six camera
    views of the multi-view multi-camera data set, 3 classes, target local exit 0.70, 8 filters of the
    last device layer on an 8 x 8 map, max-pooled locally); raw input: one 32 x 32 RGB image per device."""

    devices: int = 6
    classes: int = 3
    filters: int = 8
    filter_bits: int = 64  # 8 x 8 binarised values
    local_exit: float = 0.7
    edge_exit: float | None = None  # None: devices -> cloud, no edge tier
    edge_filters: int = 0
    edge_filter_bits: int = 0
    aggregation: str = "max"
    raw_bytes: float = 3072.0  # 32 x 32 x 3 uint8
    device_s: float = 0.0  # compute per sample of each tier's part (the catalog has no binarised layers)
    edge_s: float = 0.0
    cloud_s: float = 0.0
    local_network: str | Cluster = "pi-cluster"  # its top link joins the devices, the aggregator, the edge
    cloud: str | Cluster = "cloud-v100"  # its top link is the WAN to the cloud

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        from planner.cost.edge_ddnn import AGGREGATIONS

        for name in ("devices", "classes", "filters", "filter_bits"):
            if getattr(self, name) < 1:
                raise SettingError(name, "expected a whole number >= 1", getattr(self, name))
        if self.aggregation not in AGGREGATIONS:
            raise SettingError("aggregation", f"expected one of {', '.join(AGGREGATIONS)}", self.aggregation)
        edge = 0.0 if self.edge_exit is None else self.edge_exit
        if not 0 <= self.local_exit <= 1:
            raise SettingError("local_exit", "expected a fraction from 0 to 1", self.local_exit)
        if not 0 <= edge <= 1 - self.local_exit + 1e-12:
            raise SettingError("edge_exit", "expected a fraction from 0 to 1 - `local_exit`", self.edge_exit)
        if self.edge_exit is not None and min(self.edge_filters, self.edge_filter_bits) < 1:
            raise SettingError(
                "edge_filters",
                "an edge tier needs `edge_filters` and `edge_filter_bits` >= 1",
                show_got=False,
            )
        for name in ("raw_bytes", "device_s", "edge_s", "cloud_s"):
            value = getattr(self, name)
            if not (value >= 0 and (value > 0 or name != "raw_bytes")):  # also refuses NaN
                raise SettingError(name, "expected a number > 0" if name == "raw_bytes" else ">= 0", value)


@dataclass(frozen=True)
class EdgeDDNNResult:
    """Each tier's exit fraction and latency, bytes per device, and the reduction against raw offload."""

    local_network: str
    cloud: str
    ddnn: DDNNCost

    def to_dict(self) -> dict[str, Any]:
        d, cost, cfg = self.ddnn, self.ddnn.cost, self.ddnn.config
        return {
            "devices": cfg.devices,
            "aggregation": cfg.aggregation,
            "local_network": self.local_network,
            "cloud": self.cloud,
            "tiers": [
                {
                    "tier": name,
                    "exit_fraction": float(cost.fractions[i]),
                    "latency_s": float(cost.latency_s[i]),
                    "bytes_on_path": float(cost.bytes_sent[i]),
                }
                for i, name in enumerate(cost.names)
            ],
            "expected_latency_s": cost.expected_latency_s,
            "device_bytes_per_sample": d.device_bytes,
            "feature_bytes_per_device": d.feature_bytes,
            "aggregated_input_bytes": d.aggregated_bytes,
            "raw_bytes_per_device": d.raw_bytes,
            "communication_reduction": d.reduction,
            **band_fields(EDGE),
        }


def edge_ddnn(options: EdgeDDNNOptions | None = None) -> EdgeDDNNResult:
    """DDNN's exits, bytes per end device and latency over a local network and the cloud's WAN."""
    from planner.cost.edge_baselines import wan_link
    from planner.cost.edge_ddnn import DDNNConfig, ddnn_cost

    options = options or EdgeDDNNOptions()
    options.check()
    local = load_cluster(options.local_network, setting="local_network")
    cloud = load_cluster(options.cloud, setting="cloud")
    config = DDNNConfig(
        options.devices,
        options.classes,
        options.filters,
        options.filter_bits,
        options.local_exit,
        options.edge_exit,
        options.edge_filters,
        options.edge_filter_bits,
        options.aggregation,
        options.device_s,
        options.edge_s,
        options.cloud_s,
    )
    cost = ddnn_cost(config, options.raw_bytes, local.levels[-1].link, wan_link(cloud))
    return EdgeDDNNResult(local.name, cloud.name, cost)
