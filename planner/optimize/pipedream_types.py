"""What PipeDream's stage-partitioning optimizer (planner.optimize.pipedream) is given and returns: its
switches (Narayanan et al., SOSP 2019, msr-fiddle/pipedream `optimizer_graph_hierarchical.py` flags), the
stages of the optimal partition and PipeDream's summary figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PipeDreamOptions:
    """PipeDream's optimizer switches: --use_memory_constraint with -s, --straight_pipeline,
    --use_fewer_machines, --activation_compression_ratio."""

    memory_limit_bytes: float | None = None
    straight: bool = False
    use_fewer_machines: bool = False
    activation_compression_ratio: float | None = None


@dataclass(frozen=True)
class PartitionStage:
    """One pipeline stage: the chain states [start, end), replicated on `replicas` devices.

    `time_s` is the stage's term in the pipeline time after dividing by the replicas (compute, the
    data-parallel synchronisation of each level it is replicated over, and the activation transfers when
    they are counted); the pipeline time is the largest of them. `compute_s` and `parameter_bytes` are
    the figures of the stage's states (the whole stage, not per replica). `replicas_per_level` gives the
    units it is replicated over at each level, innermost first (their product is `replicas`); `devices`
    are flat device indices, innermost level fastest (server s, GPU g of 4: 4·s + g).
    """

    start: int
    end: int
    layer_names: tuple[str, ...]
    replicas: int
    replicas_per_level: tuple[int, ...]
    devices: tuple[int, ...]
    time_s: float
    compute_s: float
    parameter_bytes: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": [self.start, self.end],
            "layer_names": list(self.layer_names),
            "replicas": self.replicas,
            "replicas_per_level": list(self.replicas_per_level),
            "devices": list(self.devices),
            "time_s": self.time_s,
            "compute_s": self.compute_s,
            "parameter_bytes": self.parameter_bytes,
        }


@dataclass(frozen=True)
class PartitionResult:
    """The optimal partition and PipeDream's summary figures (seconds per minibatch of the profile).

    `pipeline_time_s` is PipeDream's "Time per stage in pipeline"; `single_stage_time_s` its "Time taken
    by single-stage pipeline" (all compute on one device); `data_parallel_time_s` the time of pure data
    parallelism on all devices; `dp_speedup_vs_single` = single / data parallel ("Throughput increase of
    (n)-machine DP compared to single machine"); `speedup_over_dp` = data parallel / pipeline.
    """

    pipeline_time_s: float
    single_stage_time_s: float
    data_parallel_time_s: float
    stages: tuple[PartitionStage, ...]
    levels: tuple[tuple[int, float], ...]
    num_states: int
    cost_model: str = "pipedream"
    options: PipeDreamOptions = field(default_factory=PipeDreamOptions)

    @property
    def dp_speedup_vs_single(self) -> float:
        return self.single_stage_time_s / self.data_parallel_time_s

    @property
    def speedup_over_dp(self) -> float:
        return self.data_parallel_time_s / self.pipeline_time_s

    @property
    def speedup_over_single(self) -> float:
        return self.single_stage_time_s / self.pipeline_time_s

    @property
    def num_devices(self) -> int:
        return math.prod(count for count, _ in self.levels)

    @property
    def devices_used(self) -> int:
        return sum(stage.replicas for stage in self.stages)

    @property
    def config(self) -> str:
        """ "straight" (unreplicated pipeline of >= 2 stages), "16" (data parallelism on 16 devices), or the
        replicas joined by "-" ("15-1")."""
        replicas = [stage.replicas for stage in self.stages]
        if len(replicas) >= 2 and all(r == 1 for r in replicas):
            return "straight"
        return "-".join(str(r) for r in replicas)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_model": self.cost_model,
            "config": self.config,
            "pipeline_time_s": self.pipeline_time_s,
            "single_stage_time_s": self.single_stage_time_s,
            "single_device_time_s": self.single_stage_time_s,
            "data_parallel_time_s": self.data_parallel_time_s,
            "dp_speedup_vs_single": self.dp_speedup_vs_single,
            "speedup_over_dp": self.speedup_over_dp,
            "speedup_over_single": self.speedup_over_single,
            "num_devices": self.num_devices,
            "devices_used": self.devices_used,
            "num_states": self.num_states,
            "levels": [{"count": count, "bandwidth_bytes_per_s": bw} for count, bw in self.levels],
            "options": {
                "memory_limit_bytes": self.options.memory_limit_bytes,
                "straight": self.options.straight,
                "use_fewer_machines": self.options.use_fewer_machines,
                "activation_compression_ratio": self.options.activation_compression_ratio,
            },
            "stages": [stage.to_dict() for stage in self.stages],
        }
