"""What the native stage partitioning (planner.optimize.pipeline_native) is given and returns: its options,
the stages of a plan (states, devices, times, memory) and the plan's figures against data parallelism and
one device (PipeDream's summary, Narayanan et al., SOSP 2019), and the profile layers of each stage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.cost.overlap import Overlap
from planner.errors import SpecError
from planner.optimize.chain_costs import ChainCosts
from planner.spec.profile import DTYPE_BYTES

INF = math.inf

Array = NDArray[np.float64]


@dataclass(frozen=True)
class NativeOptions:
    """Switches of the native search (see the module doc). `memory_limit_bytes` None: no memory check."""

    memory_limit_bytes: float | None = None
    straight: bool = False
    use_fewer_machines: bool = False
    activation_compression_ratio: float = 1.0
    optimizer: str = "sgd"
    overlap: Overlap = field(default_factory=Overlap)  # how a replicated stage's sync overlaps its backward
    # the optimizer step per byte of a stage's parameters, seconds (0: not costed, as PipeDream's profiles)
    update_s_per_parameter_byte: float = 0.0
    # where a cut's activations travel: "replicas", on the links the two stages' replicas use
    # (planner.cost.cut_links); "boundary", on the link joining the two devices at the boundary
    cut_links: str = "replicas"


CUT_LINKS = ("replicas", "boundary")


def check_options(options: NativeOptions, dtype: str) -> float:
    """SpecError for a bad option; returns the bytes of model states per parameter byte."""
    from planner.cost.memory import OPTIMIZERS, state_bytes_per_parameter

    limit = options.memory_limit_bytes
    if limit is not None and not (math.isfinite(limit) and limit >= 0):
        raise SpecError("options", "memory_limit_bytes", "expected a finite memory limit >= 0", limit)
    update = options.update_s_per_parameter_byte
    if not (math.isfinite(update) and update >= 0):
        raise SpecError("options", "update_s_per_parameter_byte", "expected a finite time >= 0", update)
    ratio = options.activation_compression_ratio
    if not (math.isfinite(ratio) and ratio > 0):
        raise SpecError("options", "activation_compression_ratio", "expected a finite ratio > 0", ratio)
    if options.cut_links not in CUT_LINKS:
        raise SpecError("options", "cut_links", f"expected one of {', '.join(CUT_LINKS)}", options.cut_links)
    if options.optimizer not in OPTIMIZERS:
        raise SpecError("options", "optimizer", f"expected one of {', '.join(OPTIMIZERS)}", options.optimizer)
    return state_bytes_per_parameter(dtype, options.optimizer).total / DTYPE_BYTES[dtype]


# --------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class NativeStage:
    """One stage: states [start, end) on devices [first_device, first_device + replicas).

    `time_s` = (forward_s + the backward phase with sync_s overlapped + update_s) / replicas, its pipeline
    term (planner.cost.stage_costs.stage_time); `transfer_in_s` the
    transfer term of the cut before it (0 for the first stage). Times per minibatch, sizes in bytes,
    `memory_bytes` per device.
    """

    start: int
    end: int
    layer_names: tuple[str, ...]
    replicas: int
    first_device: int
    time_s: float
    forward_s: float
    backward_s: float
    sync_s: float
    sync_algorithm: str | None
    transfer_in_s: float
    transfer_link: str | None
    parameter_bytes: float
    activation_bytes: float
    in_flight: int
    memory_bytes: float
    update_s: float = 0.0  # one replica's optimizer step on the stage's parameters

    @property
    def devices(self) -> tuple[int, ...]:
        return tuple(range(self.first_device, self.first_device + self.replicas))

    @property
    def compute_s(self) -> float:
        return self.forward_s + self.backward_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": [self.start, self.end],
            "layer_names": list(self.layer_names),
            "replicas": self.replicas,
            "devices": list(self.devices),
            "time_s": self.time_s,
            "compute_s": self.compute_s,
            "forward_s": self.forward_s,
            "backward_s": self.backward_s,
            "sync_s": self.sync_s,
            "sync_algorithm": self.sync_algorithm,
            "update_s": self.update_s,
            "transfer_in_s": self.transfer_in_s,
            "transfer_link": self.transfer_link,
            "parameter_bytes": self.parameter_bytes,
            "activation_bytes": self.activation_bytes,
            "in_flight_minibatches": self.in_flight,
            "memory_bytes": self.memory_bytes,
        }


def config_string(replicas: Sequence[int]) -> str:
    """ "straight" for an unreplicated pipeline of >= 2 stages, else the replicas joined by "-" ("15-1";
    "16" is data parallelism on 16 devices)."""
    if len(replicas) >= 2 and all(r == 1 for r in replicas):
        return "straight"
    return "-".join(str(r) for r in replicas)


@dataclass(frozen=True)
class NativeResult:
    """The optimal partition in the native model (seconds per minibatch of the profile's batch)."""

    pipeline_time_s: float
    data_parallel_time_s: float
    single_device_time_s: float
    stages: tuple[NativeStage, ...]
    num_devices: int
    num_states: int
    options: NativeOptions
    cost_model: str = "native"
    # how it was found: "dynamic program" (exact) or "bottleneck search" (planner.optimize.pipeline_scale),
    # which proves `lower_bound_s` (None: the time is the proven optimum)
    method: str = "dynamic program"
    lower_bound_s: float | None = None
    linearised_blocks: int = 0  # parallel blocks cut along the layer order (planner.optimize.chain_view)

    @property
    def gap(self) -> float:
        """(time - proven lower bound) / lower bound; 0 when proven optimal."""
        bound = self.lower_bound_s
        if bound is None or self.pipeline_time_s <= bound:
            return 0.0
        return _ratio(self.pipeline_time_s, bound) - 1.0

    @property
    def config(self) -> str:
        return config_string([stage.replicas for stage in self.stages])

    @property
    def devices_used(self) -> int:
        return sum(stage.replicas for stage in self.stages)

    @property
    def speedup_over_dp(self) -> float:
        return _ratio(self.data_parallel_time_s, self.pipeline_time_s)

    @property
    def speedup_over_single(self) -> float:
        return _ratio(self.single_device_time_s, self.pipeline_time_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_model": self.cost_model,
            "config": self.config,
            "pipeline_time_s": self.pipeline_time_s,
            "data_parallel_time_s": self.data_parallel_time_s,
            "single_device_time_s": self.single_device_time_s,
            "speedup_over_dp": self.speedup_over_dp,
            "speedup_over_single": self.speedup_over_single,
            "num_devices": self.num_devices,
            "devices_used": self.devices_used,
            "num_states": self.num_states,
            "method": self.method,
            "lower_bound_s": self.lower_bound_s,
            "gap": self.gap,
            "stages": [stage.to_dict() for stage in self.stages],
        }


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0:
        return 1.0 if numerator == 0 else INF
    return numerator / denominator


def stage_layer_names(costs: ChainCosts, ends: list[int]) -> list[tuple[str, ...]]:
    """Profile layer names of each stage (stages ending at the given states, in order): the nodes of
    each down-set not in an earlier stage; PipeDream's dropped Input sources join the first stage and a
    dropped __getitem__ sink the stage of its first producer. A plain chain: the layers [start, end)."""
    view = costs.view
    if view is None:
        starts = [0, *ends[:-1]]
        return [tuple(costs.layer_names[s:e]) for s, e in zip(starts, ends, strict=True)]
    assigned = 0
    members: list[list[int]] = []
    for end in ends:
        layers = view.layers_in(end, assigned)
        for layer in layers:
            assigned |= 1 << layer
        members.append(layers)
    owner = {layer: k for k, layers in enumerate(members) for layer in layers}
    members[0] = [*view.dropped_inputs, *members[0]]
    for sink in view.dropped_sinks:
        producers = [owner[p] for p in view.layer_inputs[sink] if p in owner]
        members[min(producers) if producers else 0].append(sink)
    return [tuple(view.layer_names[k] for k in sorted(layers)) for layers in members]
