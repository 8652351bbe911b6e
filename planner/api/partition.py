"""Pipeline partitioning (`planner pipeline partition`): options, result, and the question.

The model is a measured profile (PipeDream graph.txt or a per-minibatch profile YAML: its times are
partitioned as measured, per its own minibatch), a per-minibatch FLOP profile, or a CNN architecture.
A model timed from FLOP goes through planner.api.training.resolve_training, the resolver of every
training question: its per-device batch (DEFAULT_CNN_BATCH for a CNN architecture, a profile's own
minibatch) and its per-layer times on the cluster's device, as `plan` and `dp` compute them.

The cluster is a Cluster (catalog name or file), or `levels`: (count, bandwidth) per level, innermost
first (PipeDream's -n/-b). For the native cost model `levels` build a cluster with the catalog-free
defaults (latency 0, efficiency 1, no device, so a model timed from FLOP needs a cluster); the pipedream
cost model reads only counts and nominal bandwidths from a cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError, SpecError
from planner.limits import RATIO, SIZE
from planner.validate.bands import PIPELINE, band_fields

if TYPE_CHECKING:
    from planner.spec.hardware import Cluster
    from planner.spec.profile import ModelProfile

COST_MODELS = ("native", "pipedream")


@dataclass(frozen=True)
class PartitionOptions:
    """The partitioner's settings; `levels` replace a cluster (give one or the other)."""

    servers: int | None = None  # the cluster's outermost count instead of its own
    levels: tuple[tuple[int, float], ...] | None = None  # (count, bytes/s) per level, innermost first
    cost_model: str = "native"  # native (topology-aware) or pipedream (its optimizer's exact terms)
    straight: bool = False  # no replication: one device per stage
    memory: float | None = None  # memory limit per device, bytes (None: no check)
    activation_compression: float | None = None  # activation transfer bytes are divided by it
    use_fewer_machines: bool = False  # allow a plan that leaves devices idle
    batch: int | None = None  # samples per minibatch of a model timed from FLOP (None: the default)

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        if self.cost_model not in COST_MODELS:
            raise SettingError("cost_model", f"one of {', '.join(COST_MODELS)}", self.cost_model)
        if self.servers is not None and (self.levels is not None or self.servers < 1):
            raise SettingError("servers", "a whole number >= 1, with `cluster` (not `levels`)", self.servers)
        if self.batch is not None and self.batch < 1:
            raise SettingError("batch", "a whole number >= 1", self.batch)
        if self.activation_compression is not None and self.activation_compression not in RATIO:
            raise SettingError(  # 1e-300 multiplied the activation bytes past a float
                "activation_compression",
                f"a ratio {RATIO.text()} (activation bytes are divided by it)",
                self.activation_compression,
            )
        if self.memory is not None and self.memory not in SIZE:
            raise SettingError("memory", f"a memory size {SIZE.text()}, e.g. 16GB", self.memory)
        if self.levels is not None:
            from planner.optimize.pipedream_levels import check_levels

            check_levels(self.levels, "options")


@dataclass(frozen=True)
class PartitionResult:
    """The partition a cost model's optimizer found, with what it partitioned and where."""

    options: PartitionOptions
    result: Any  # NativeResult or PartitionResult (planner.optimize.native_types, .pipedream_types)
    profile: ModelProfile  # the profile partitioned (layer order, parameters), at `batch` samples
    cluster: str | None  # its name; None with `levels`
    levels: tuple[tuple[int, float], ...]
    batch: int | None  # samples per minibatch (None: a profile that does not state it)
    measured: bool  # times as the profile measured them (else the roofline of the cluster's device)

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.profile.layers]

    def to_dict(self) -> dict[str, Any]:
        """The plan with the keys both cost models share; each stage's own figures as its model gives them."""
        o, r = self.options, self.result
        native = o.cost_model == "native"
        single = r.single_device_time_s if native else r.single_stage_time_s
        return {
            "cost_model": o.cost_model,
            "config": r.config,
            "pipeline_time_s": r.pipeline_time_s,
            "data_parallel_time_s": r.data_parallel_time_s,
            "single_device_time_s": single,
            "speedup_over_dp": r.speedup_over_dp,
            "speedup_over_single_device": single / r.pipeline_time_s if r.pipeline_time_s > 0 else math.inf,
            "num_devices": r.num_devices,
            "devices_used": r.devices_used,
            "num_states": r.num_states,
            **(
                {
                    "method": r.method,
                    "lower_bound_s": r.lower_bound_s,
                    "gap": r.gap,
                    "linearised_blocks": r.linearised_blocks,
                }
                if native
                else {}
            ),
            "stages": [stage.to_dict() for stage in r.stages],
            "model": self.profile.name,
            "cluster": self.cluster,
            "levels": [{"count": c, "bandwidth_bytes_per_s": b} for c, b in self.levels],
            "batch": self.batch,
            "times_from": "measured" if self.measured else "roofline",
            "options": {
                "memory_limit_bytes": o.memory,
                "straight": o.straight,
                "use_fewer_machines": o.use_fewer_machines,
                "activation_compression_ratio": o.activation_compression,
            },
            **band_fields(PIPELINE),
        }


def pipeline_partition(
    model: Any, cluster: str | Cluster | None, options: PartitionOptions
) -> PartitionResult:
    """The optimal pipeline partition of `model` (a spec, catalog name or file) on `cluster` (a Cluster,
    catalog name or file; None with `options.levels`): stages, replicas, time, speedup. InfeasibleError
    when no partition fits."""
    from planner.api.inputs import load_cluster, load_training_model
    from planner.optimize.pipedream_levels import levels_from_cluster

    options.check()
    if (cluster is None) == (options.levels is None):
        raise SettingError(
            "cluster",
            "exactly one of `cluster` NAME|FILE or `levels` 'count:bandwidth,...' (innermost first)",
            show_got=False,
        )
    machine = None if cluster is None else load_cluster(cluster, options.servers)
    spec = load_training_model(model)
    levels = tuple(levels_from_cluster(machine)) if machine is not None else tuple(options.levels or ())
    if _is_measured(spec):
        if options.batch is not None and options.batch != spec.batch_size:
            raise SettingError(
                "batch",
                "only for a CNN architecture or FLOP profile: a measured profile is partitioned at its own "
                f"minibatch ({spec.batch_size or 'not stated'})",
                options.batch,
            )
        result = _partition(options, spec, None, machine, levels)
        return PartitionResult(options, result, spec, _name(machine), levels, spec.batch_size, True)
    if machine is None:
        raise SettingError(
            "levels",
            "`cluster` for a model timed from FLOP (the roofline needs the cluster's device)",
            show_got=False,
        )
    profile, times, batch, update_rate = _timed_from_flop(spec, machine, options.batch)
    result = _partition(options, profile, times, machine, levels, update_rate)
    return PartitionResult(options, result, profile, machine.name, levels, batch, False)


def _is_measured(spec: Any) -> bool:
    return (
        spec.spec == "profile"
        and spec.per == "minibatch"
        and all(layer.forward_time is not None or layer.is_input for layer in spec.layers)
    )


def _name(machine: Cluster | None) -> str | None:
    return None if machine is None else machine.name


def _timed_from_flop(spec: Any, machine: Cluster, batch: int | None) -> tuple[Any, Any, int, float]:
    """(profile at the batch, per-layer (forward, backward) seconds, the batch, the optimizer step per
    parameter byte) from the training resolver, as `plan` and `dp` time the same model."""
    from planner.api.training import TrainingOptions, resolve_training
    from planner.cost import data_parallel as dp

    if spec.spec == "profile":
        if spec.per != "minibatch" or spec.batch_size is None:
            raise SpecError(
                spec.name,
                "",
                "expected a per-minibatch profile with its batch_size, or a CNN architecture (per-sample "
                "profiles are not partitioned)",
                show_got=False,
            )
        if batch is not None and batch != spec.batch_size:
            raise SettingError("batch", f"the profile's own minibatch, {spec.batch_size}", batch)
    try:
        resolved = resolve_training(spec, machine, TrainingOptions(batch=batch, dtype=spec.dtype))
    except SettingError as exc:  # the cluster's device cannot run the model's dtype
        raise SettingError("cluster", exc.expected, show_got=False) from None
    setup = resolved.setup
    return (
        resolved.profile,
        dp.compute_times(setup, resolved.batch),
        resolved.batch,
        setup.update_s_per_parameter_byte(),
    )


def _partition(
    options: PartitionOptions,
    profile: Any,
    times: Any,
    machine: Cluster | None,
    levels: tuple[tuple[int, float], ...],
    update_rate: float = 0.0,
) -> Any:
    """Run the cost model's optimizer on measured times (`times` None) or the given per-layer times; the
    native model charges each stage's optimizer step at `update_rate` s per parameter byte (timed from
    FLOP: as `plan` does; a measured profile: 0, it times no step)."""
    settings: dict[str, Any] = {
        "memory_limit_bytes": options.memory,
        "straight": options.straight,
        "use_fewer_machines": options.use_fewer_machines,
    }
    if options.cost_model == "pipedream":
        from planner.optimize.chain_view import build_chain_view
        from planner.optimize.pipedream import partition_pipedream

        view = build_chain_view(profile, None if times is None else times[0] + times[1])
        return partition_pipedream(
            view, levels, activation_compression_ratio=options.activation_compression, **settings
        )
    from planner.cost.stage_costs import cluster_from_levels
    from planner.optimize.chain_costs import chain_costs
    from planner.optimize.pipeline_native import partition_native

    costs = chain_costs(profile) if times is None else chain_costs(profile, *times)
    target = machine if machine is not None else cluster_from_levels(levels)
    return partition_native(
        costs,
        target,
        activation_compression_ratio=options.activation_compression or 1.0,
        update_s_per_parameter_byte=update_rate,
        **settings,
    )
