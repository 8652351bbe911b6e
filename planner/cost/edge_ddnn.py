"""DDNN across devices: several end devices, local aggregation, and local / edge / cloud exits.

Source: Teerapittayanon, McDanel, Kung, "Distributed Deep Neural Networks over the Cloud, the Edge and
End Devices", ICDCS 2017:

* Sec. III-A/B: each of N end devices runs the bottom of the network on its own input (e.g. its camera
  view) and sends its class scores (|C| fp32 values) to the local aggregator; the aggregator combines the
  N score vectors by max pooling, average pooling or concatenation (Sec. III-C: MP, AP, CC) and the local
  exit classifies. A sample whose local entropy is under the threshold exits there (fraction l).
* Otherwise every device sends its last layer's binarised output, f filters of o bits each, upward: to
  the edge (when there is one; it aggregates them the same ways and may exit, fraction e) or the cloud,
  which aggregates and finishes the rest. The edge sends its own binarised output (f_e filters of o_e
  bits) to the cloud for the samples it does not exit.
* Eq. 1: communication per end device and sample c = 4·|C| + (1 - l)·f·o / 8 bytes.

Aggregation does not change what each device sends; it sets the size of the next tier's input: max and
average keep one device's size (f·o bits), concatenation N times it (the next layer's fan-in grows N-fold).
Links are alpha-beta (planner.cost.edge_model.transfer_time); on a shared medium the N devices' messages
take turns, on a switched one they overlap. Tier compute times are given (seconds per sample) because
DDNN's binarised layers are not in the catalog.

Units: bytes, seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.cost.early_exit import ExpectedCost, Tier, hierarchy_cost
from planner.cost.edge_model import transfer_time
from planner.spec.hardware import Link

AGGREGATIONS = ("max", "avg", "concat")
SCORE_BYTES = 4  # one fp32 score per class (Eq. 1)


@dataclass(frozen=True)
class DDNNConfig:
    """The DDNN: end devices, classes, their last layer (filters, bits per filter), aggregation, exits."""

    devices: int
    classes: int
    filters: int  # f: filters of the end devices' last layer
    filter_bits: int  # o: output bits of one filter (binarised: one bit per value)
    local_exit: float  # l: fraction of samples leaving at the local exit
    edge_exit: float | None = None  # e: fraction leaving at the edge; None: no edge tier
    edge_filters: int = 0  # f_e, o_e: the edge's last layer, sent to the cloud
    edge_filter_bits: int = 0
    aggregation: str = "max"  # how the N devices' outputs are combined (max, avg, concat)
    device_s: float = 0.0  # compute seconds per sample of the device part, the edge part, the cloud part
    edge_s: float = 0.0
    cloud_s: float = 0.0

    def check(self) -> None:
        """Raise ValueError naming the first inconsistent field."""
        if self.devices < 1 or self.classes < 1 or self.filters < 1 or self.filter_bits < 1:
            raise ValueError("devices, classes, filters and filter_bits must be whole numbers >= 1")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"aggregation must be one of {', '.join(AGGREGATIONS)}, got '{self.aggregation}'"
            )
        edge = 0.0 if self.edge_exit is None else self.edge_exit
        if not (0 <= self.local_exit <= 1 and 0 <= edge <= 1 and self.local_exit + edge <= 1 + 1e-12):
            raise ValueError("exit fractions must be in [0, 1] and the local and edge ones sum to at most 1")
        if self.edge_exit is not None and (self.edge_filters < 1 or self.edge_filter_bits < 1):
            raise ValueError("an edge tier needs edge_filters and edge_filter_bits >= 1")
        if min(self.device_s, self.edge_s, self.cloud_s) < 0:
            raise ValueError("compute times must be >= 0 seconds")


@dataclass(frozen=True)
class DDNNCost:
    """Per-tier exits, what each end device sends, and the expectation over samples."""

    config: DDNNConfig
    cost: ExpectedCost
    device_bytes: float  # Eq. 1: bytes per end device and sample
    feature_bytes: float  # f·o/8: one device's features
    aggregated_bytes: float  # the next tier's input after aggregation
    raw_bytes: float  # what a device sends when it offloads its raw input

    @property
    def reduction(self) -> float:
        """Raw-input offload bytes / DDNN bytes per device (the paper's communication reduction)."""
        return self.raw_bytes / self.device_bytes


def _uplink(nbytes: float, senders: int, link: Link) -> float:
    """Seconds for `senders` devices to send `nbytes` each over `link` (serialised when shared)."""
    turns = senders if link.shared else 1
    return float(transfer_time(nbytes * turns, link, turns))


def ddnn_cost(config: DDNNConfig, raw_bytes: float, local_link: Link, cloud_link: Link) -> DDNNCost:
    """Latency and bytes of a DDNN: devices -> local aggregator (local_link), then the edge (local_link)
    and the cloud (cloud_link) for the samples that do not exit below. Raises ValueError on bad config."""
    config.check()
    if raw_bytes <= 0:
        raise ValueError(f"raw_bytes must be > 0, got {raw_bytes}")
    n = config.devices
    scores = SCORE_BYTES * config.classes
    features = config.filters * config.filter_bits / 8.0
    aggregated = features * (n if config.aggregation == "concat" else 1)
    # every sample's scores reach the local aggregator; the bytes along a sample's path are one device's
    tiers = [Tier("local", config.device_s, config.local_exit, _uplink(scores, n, local_link), scores)]
    if config.edge_exit is not None:
        rest = 1.0 - config.local_exit - config.edge_exit
        tiers.append(
            Tier("edge", config.edge_s, config.edge_exit, _uplink(features, n, local_link), features)
        )
        edge_out = config.edge_filters * config.edge_filter_bits / 8.0
        tiers.append(
            Tier("cloud", config.cloud_s, max(rest, 0.0), _uplink(edge_out, 1, cloud_link), edge_out)
        )
    else:
        rest = 1.0 - config.local_exit
        tiers.append(
            Tier("cloud", config.cloud_s, max(rest, 0.0), _uplink(features, n, cloud_link), features)
        )
    cost = hierarchy_cost(tiers)
    device_bytes = scores + (1.0 - config.local_exit) * features  # Eq. 1
    return DDNNCost(config, cost, device_bytes, features, aggregated, raw_bytes)
