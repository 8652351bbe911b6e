"""BranchyNet early exits (Teerapittayanon et al., ICPR 2016): the expected latency and bytes sent of a
CNN with exit branches, run on a device and optionally finished in the cloud: options, result, and the
question (planner.cost.early_exit does the costing)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.edge_inputs import check_input_dtype, cnn_edge_model, setting_error
from planner.api.inputs import ModelRef, load_cluster, load_device
from planner.errors import SettingError
from planner.validate.bands import EDGE, band_fields

if TYPE_CHECKING:
    from planner.cost.early_exit import Exit, ExpectedCost
    from planner.spec.hardware import Cluster, Device


@dataclass(frozen=True)
class EdgeExitsOptions:
    """The exits and where the model runs."""

    exit: tuple[tuple[str, float], ...]  # (layer, fraction of samples leaving there), in layer order
    device: str | Device = "raspberry-pi-3b-plus"
    classes: int | None = None  # classes of each exit branch; None: the model's outputs
    offload_after: str | None = None  # run the layers after this one in the cloud
    cloud: str | Cluster = "cloud-v100"  # its top link is the WAN (used with offload_after)
    input_dtype: str | None = None  # the model input's dtype on the wire; None: the model's

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        for layer, fraction in self.exit:
            if not (math.isfinite(fraction) and 0 <= fraction <= 1):
                raise SettingError("exit", f"expected the fraction leaving at {layer} from 0 to 1", fraction)
        if self.classes is not None and self.classes < 1:
            raise SettingError("classes", "expected a whole number >= 1", self.classes)
        check_input_dtype(self.input_dtype)


@dataclass(frozen=True)
class EdgeExitsResult:
    """Each exit's stage, branch and transfer time, and the expectation over the exit fractions, with
    the same model without early exits for comparison."""

    model: str
    device: str
    offload_after: str | None
    cloud: str | None
    exits: tuple[Exit, ...]
    cost: ExpectedCost
    no_exit: ExpectedCost

    def to_dict(self) -> dict[str, Any]:
        cost = self.cost
        return {
            "model": self.model,
            "device": self.device,
            "offload_after": self.offload_after,
            "cloud": self.cloud,
            "exits": [
                {
                    "exit": e.name,
                    "fraction": e.fraction,
                    "stage_s": e.stage_s,
                    "branch_s": e.branch_s,
                    "transfer_s": e.transfer_s,
                    "latency_s": float(cost.latency_s[i]),
                    "bytes_sent": float(cost.bytes_sent[i]),
                }
                for i, e in enumerate(self.exits)
            ],
            "expected_latency_s": cost.expected_latency_s,
            "expected_bytes": cost.expected_bytes,
            "no_exit_latency_s": self.no_exit.expected_latency_s,
            "no_exit_bytes": self.no_exit.expected_bytes,
            **band_fields(EDGE),
        }


def edge_exits(model: ModelRef, options: EdgeExitsOptions) -> EdgeExitsResult:
    """BranchyNet's early exits of a CNN on a device (and the cloud after `offload_after`)."""
    from planner.cost.early_exit import expected_cost, model_exits
    from planner.cost.edge_baselines import cloud_device, wan_link

    options.check()
    edge = cnn_edge_model(model, options.input_dtype)
    mobile = load_device(options.device)
    assert edge.shapes_out is not None  # a CNN architecture's model has its shapes
    classes = options.classes if options.classes is not None else int(edge.shapes_out[-1][0])
    if options.offload_after is not None:
        with setting_error("offload_after"):
            edge.index(options.offload_after)
    remote = load_cluster(options.cloud, setting="cloud") if options.offload_after is not None else None
    cloud = None if remote is None else cloud_device(remote)
    link = None if remote is None else wan_link(remote)
    with setting_error("exit"):
        plan = model_exits(edge, mobile, list(options.exit), classes, cloud, link, options.offload_after)
        no_exit = model_exits(edge, mobile, [], classes, cloud, link, options.offload_after)
    return EdgeExitsResult(
        edge.name,
        mobile.name,
        options.offload_after,
        None if remote is None else remote.name,
        tuple(plan),
        expected_cost(plan),
        expected_cost(no_exit),
    )
