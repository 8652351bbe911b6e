"""Evaluators of the native stage partitioner (planner.optimize.pipeline_native) against PipeDream's Table 1.

A setup names a measured profile (`data:` file), a catalog cluster and its server count; optionally the
minibatch the paper ran (`batch`, samples per minibatch and GPU) and the one the profile was measured at
(`profile_batch`): the profile's times and activation sizes are then scaled by batch / profile_batch
(linear in the batch, as planner.cost.data_parallel scales measured times; parameters do not scale).
A speedup case may name the transport its data-parallel baseline's all-reduce ran over (`dp_transport`,
planner.cost.collective_transports): that baseline is then costed with the links between servers at the
transport's measured rate, the pipeline on the cluster as it is. A speedup case may also name how its runtime
moved activations between stages (`pipeline_transport`, planner.cost.stage_transfers): the cut terms are then
costed on the staged links, and each stage pays the copies of its transfers between servers on its GPU, both
in the split and in its time (planner.validate.evaluators.staged_shape).
The optimum is computed once per setup and shared by the speedup and the configuration cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from planner.validate.evaluators import Context, evaluator, whole
from planner.validate.evaluators.models import _model

SETUP = ("model", "cluster", "servers")
OPTIONAL = ("batch", "profile_batch")


@cache
def _costs(model: str, data_dir: Any, scale: float) -> Any:
    from dataclasses import replace

    from planner.optimize.chain_costs import chain_costs

    spec = _model(model, Context(data_dir))
    if spec.spec != "profile":
        raise ValueError(f"'{model}' is a {spec.spec}; the Table 1 cases partition measured profiles")
    costs = chain_costs(spec)
    scaled = ("cum_forward_s", "cum_backward_s", "cum_activation_bytes", "output_activation_bytes")
    return replace(costs, **{name: getattr(costs, name) * scale for name in scaled})


@cache
def _optimum(model: str, cluster: str, servers: int, data_dir: Any, scale: float) -> Any:
    from planner.optimize.pipeline_native import partition_native
    from planner.spec.catalog import find

    machine = find("hardware", cluster, ("cluster",)).with_top_count(servers)
    return partition_native(_costs(model, data_dir, scale), machine)


def _scale(setup: Mapping[str, Any]) -> float:
    if ("batch" in setup) != ("profile_batch" in setup):
        raise ValueError("give both batch and profile_batch, or neither")
    return whole(setup, "batch") / whole(setup, "profile_batch") if "batch" in setup else 1.0


def _result(setup: Mapping[str, Any], ctx: Context) -> Any:
    servers = whole(setup, "servers")
    return _optimum(str(setup["model"]), str(setup["cluster"]), servers, ctx.data_dir, _scale(setup))


def _shape(config: str, devices: int) -> tuple[int, ...]:
    """The replica counts of a paper's configuration: "15-1" -> (15, 1); "straight" -> one device per
    stage on `devices` devices."""
    if config == "straight":
        return (1,) * devices
    try:
        return tuple(int(part) for part in config.split("-"))
    except ValueError:
        expected = "paper_config must be 'straight' or replica counts like '15-1'"
        raise ValueError(f"{expected}, got {config!r}") from None


@cache
def _at_config(
    model: str,
    cluster: str,
    servers: int,
    data_dir: Any,
    scale: float,
    config: str,
    devices: int | None,
    dp_transport: str | None,
    pipeline_transport: str | None = None,
) -> Any:
    from dataclasses import replace

    from planner.cost.collective_transports import over_transport
    from planner.cost.overlap import device_overlap
    from planner.optimize.native_types import NativeOptions
    from planner.optimize.pipeline_native import NativePlanner, cluster_device
    from planner.optimize.pipeline_shape import partition_shape
    from planner.spec.catalog import find

    machine = find("hardware", cluster, ("cluster",)).with_top_count(servers)
    options = NativeOptions(overlap=device_overlap(cluster_device(machine)))
    costs = _costs(model, data_dir, scale)
    shape = _shape(config, devices or machine.total_devices)
    if pipeline_transport is None:
        result = partition_shape(NativePlanner(costs, machine, options), shape)
    else:
        from planner.validate.evaluators.staged_shape import staged_partition

        result = staged_partition(costs, machine, options, shape, pipeline_transport)
    if dp_transport is None:
        return result
    baseline = NativePlanner(costs, over_transport(machine, dp_transport), options)
    return replace(result, data_parallel_time_s=baseline.data_parallel_time())


@evaluator(
    "pipeline_native_config_speedup",
    setup=(*SETUP, "paper_config"),
    optional=(*OPTIONAL, "paper_devices", "dp_transport", "pipeline_transport"),
)
def pipeline_native_config_speedup(setup: Mapping[str, Any], ctx: Context) -> float:
    """Data-parallel time on all the cluster's devices / pipeline time of the paper's configuration per
    minibatch: its replica counts (`paper_config`; "straight" on `paper_devices` devices, default all),
    the layers split as the native model splits them best (planner.optimize.pipeline_shape); the
    data-parallel all-reduce over `dp_transport` between servers, the stages' transfers as
    `pipeline_transport` makes them, when given."""
    devices = whole(setup, "paper_devices") if "paper_devices" in setup else None
    transport = setup.get("dp_transport")
    staging = setup.get("pipeline_transport")
    result = _at_config(
        str(setup["model"]),
        str(setup["cluster"]),
        whole(setup, "servers"),
        ctx.data_dir,
        _scale(setup),
        str(setup["paper_config"]),
        devices,
        None if transport is None else str(transport),
        None if staging is None else str(staging),
    )
    return float(result.speedup_over_dp)


@evaluator("pipeline_native_config_match", setup=(*SETUP, "paper_config"), optional=OPTIONAL)
def pipeline_native_config_match(setup: Mapping[str, Any], ctx: Context) -> float:
    """1.0 when the native optimum's configuration string ("15-1", "straight", "16") equals
    `paper_config`, else 0.0."""
    return 1.0 if _result(setup, ctx).config == str(setup["paper_config"]) else 0.0
