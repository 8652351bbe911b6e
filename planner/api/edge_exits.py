"""BranchyNet early exits (Teerapittayanon et al., ICPR 2016): the expected latency and bytes sent of a
CNN with exit branches, run on a device and optionally finished in the cloud: options, result, and the
question (planner.cost.early_exit does the costing)."""

from __future__ import annotations

import math
from collections.abc import Callable
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

    # (layer, fraction of samples leaving there), in layer order; fraction None: from the thresholds
    exit: tuple[tuple[str, float | None], ...]
    device: str | Device = "raspberry-pi-3b-plus"
    classes: int | None = None  # classes of each exit branch; None: the model's outputs
    offload_after: str | None = None  # run the layers after this one in the cloud
    cloud: str | Cluster = "cloud-v100"  # its top link is the WAN (used with offload_after)
    input_dtype: str | None = None  # the model input's dtype on the wire; None: the model's
    # BranchyNet's entropy thresholds (nats; one, or one per early exit) and where confidence comes from:
    thresholds: tuple[float, ...] = ()
    entropy_shapes: tuple[tuple[float, float], ...] = ()  # Beta(a, b) of entropy / log C at each exit
    entropies: str | None = None  # a CSV file: one row per sample, one column (nats) per early exit
    sweep: tuple[float, ...] = ()  # thresholds (nats, the same at every exit) to sweep

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        for layer, fraction in self.exit:
            if fraction is not None and not (math.isfinite(fraction) and 0 <= fraction <= 1):
                raise SettingError("exit", f"expected the fraction leaving at {layer} from 0 to 1", fraction)
        given = [fraction is not None for _, fraction in self.exit]
        by_threshold = bool(self.thresholds or self.sweep)
        if any(given) and (not all(given) or by_threshold):
            raise SettingError(
                "exit", "give every exit a fraction, or none (thresholds decide them)", show_got=False
            )
        if self.exit and not any(given) and not self.thresholds:
            raise SettingError(
                "thresholds", "exits without fractions need entropy thresholds", show_got=False
            )
        if by_threshold and (self.entropies is None) == (not self.entropy_shapes):
            raise SettingError(
                "entropy_shapes",
                "thresholds need either entropy_shapes or entropies, not both",
                show_got=False,
            )
        if self.entropy_shapes and len(self.entropy_shapes) != len(self.exit):
            raise SettingError(
                "entropy_shapes",
                f"expected one (a, b) per early exit ({len(self.exit)})",
                self.entropy_shapes,
            )
        if self.classes is not None and self.classes < 1:
            raise SettingError("classes", "expected a whole number >= 1", self.classes)
        check_input_dtype(self.input_dtype)


@dataclass(frozen=True)
class SweepPoint:
    """One entropy threshold (nats, at every early exit): the share leaving early, latency and bytes."""

    threshold: float
    fractions: tuple[float, ...]
    latency_s: float
    bytes_sent: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold_nats": self.threshold,
            "fractions": list(self.fractions),
            "early_share": 1.0 - self.fractions[-1],
            "expected_latency_s": self.latency_s,
            "expected_bytes": self.bytes_sent,
        }


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
    fractions_from: str = "given"  # given, beta model or entropies file
    thresholds: tuple[float, ...] = ()
    sweep: tuple[SweepPoint, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        cost = self.cost
        return {
            "model": self.model,
            "device": self.device,
            "offload_after": self.offload_after,
            "cloud": self.cloud,
            "fractions_from": self.fractions_from,
            "thresholds_nats": list(self.thresholds),
            "sweep": [point.to_dict() for point in self.sweep],
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
    fractions_of = _fraction_source(options, classes)
    layers = [layer for layer, _ in options.exit]
    with setting_error("thresholds"):
        fractions = (
            fractions_of(options.thresholds)[:-1]
            if options.thresholds
            else [fraction for _, fraction in options.exit if fraction is not None]
        )
        swept = [fractions_of((threshold,)) for threshold in options.sweep]

    def plan_for(shares: list[float]) -> list[Exit]:
        return model_exits(
            edge, mobile, list(zip(layers, shares, strict=True)), classes, cloud, link, options.offload_after
        )

    with setting_error("exit"):
        plan = plan_for(fractions)
        no_exit = model_exits(edge, mobile, [], classes, cloud, link, options.offload_after)
        sweep = []
        for threshold, shares in zip(options.sweep, swept, strict=True):
            cost = expected_cost(plan_for(shares[:-1]))
            sweep.append(
                SweepPoint(threshold, tuple(map(float, shares)), cost.expected_latency_s, cost.expected_bytes)
            )
    source = "given" if not options.thresholds else "entropies file" if options.entropies else "beta model"
    return EdgeExitsResult(
        edge.name,
        mobile.name,
        options.offload_after,
        None if remote is None else remote.name,
        tuple(plan),
        expected_cost(plan),
        expected_cost(no_exit),
        source,
        options.thresholds,
        tuple(sweep),
    )


def _fraction_source(options: EdgeExitsOptions, classes: int) -> Callable[[tuple[float, ...]], list[float]]:
    """thresholds -> exit fractions (early exits, then the final one), from the Beta shapes or the
    entropies file (planner.cost.edge_entropy)."""
    from planner.cost.edge_entropy import EntropyShape, measured_fractions, parametric_fractions

    if options.entropies is not None:
        values = _read_entropies(options.entropies, len(options.exit))
        return lambda t: [float(x) for x in measured_fractions(values, t)]
    with setting_error("entropy_shapes"):
        shapes = [EntropyShape(a, b) for a, b in options.entropy_shapes]
    return lambda t: [float(x) for x in parametric_fractions(shapes, t, classes)]


def _read_entropies(path: str, exits: int) -> Any:
    """The samples × exits entropies of a CSV file; SpecError naming the file when it does not read."""
    import numpy as np

    from planner.errors import SpecError

    try:
        values = np.loadtxt(path, delimiter=",", ndmin=2)
    except (OSError, ValueError) as exc:
        raise SpecError(path, "", f"expected a CSV of entropies (nats): {exc}", show_got=False) from None
    if values.shape[1] != exits:
        raise SpecError(
            path, "", f"expected {exits} columns (one per early exit), got {values.shape[1]}", show_got=False
        )
    return values
