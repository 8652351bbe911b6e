"""`planner pipeline partition`: resolve the inputs, run a cost model's optimizer, build and render the plan.

Kept apart from planner/cli/pipeline.py (the typer command) so that the command module stays small; like
every CLI module it imports only the standard library and
planner.cli.common at module level.

Inputs. MODEL is a measured profile (PipeDream graph.txt or a per-minibatch profile YAML: its times are
partitioned as measured, per its own minibatch), a per-minibatch FLOP profile, or a CNN architecture
(derived at --batch samples, default DEFAULT_CNN_BATCH, timed by the roofline of the cluster's device:
planner.cost.compute.layer_times). The cluster is a catalog cluster (or file), or --levels: count and
bandwidth per level, innermost first (PipeDream's -n/-b). For the native model --levels builds a
cluster with the catalog-free defaults (latency 0, efficiency 1, no device, so a CNN architecture
needs --cluster); the pipedream model reads only counts and nominal bandwidths from a --cluster.
"""

from __future__ import annotations

import math
from typing import Any

from planner.api.training import DEFAULT_CNN_BATCH  # the one default of every training question
from planner.cli.common import bad_option
from planner.limits import RATIO, SIZE

COST_MODELS = ("native", "pipedream")
NAMES_SHOWN = 1  # layer names shown at each end of a stage in the table


def build_payload(
    *,
    model: str,
    cluster: str | None,
    servers: int | None,
    levels: str | None,
    cost_model: str,
    straight: bool,
    memory: str | None,
    activation_compression: float | None,
    use_fewer_machines: bool,
    batch: int | None,
) -> dict[str, Any]:
    """Check the options, partition, and return the payload every output format renders."""
    from planner.cli.common import load_cluster
    from planner.spec.catalog import find

    if cost_model not in COST_MODELS:
        raise bad_option("--cost-model", f"one of {', '.join(COST_MODELS)}", cost_model)
    if (cluster is None) == (levels is None):
        raise bad_option(
            "--cluster",
            "exactly one of --cluster NAME|FILE or --levels 'count:bandwidth,...' (innermost first)",
            show_got=False,
        )
    if servers is not None and (levels is not None or servers < 1):
        raise bad_option("--servers", "a whole number >= 1, with --cluster (not --levels)", servers)
    if batch is not None and batch < 1:
        raise bad_option("--batch", "a whole number >= 1", batch)
    if activation_compression is not None and activation_compression not in RATIO:
        raise bad_option(  # 1e-300 multiplied the activation bytes past a float
            "--activation-compression",
            f"a ratio {RATIO.text()} (activation bytes are divided by it)",
            activation_compression,
        )
    memory_bytes = _memory(memory)
    parsed_levels = None
    machine = None
    if levels is not None:
        from planner.optimize.pipedream import parse_levels

        parsed_levels = parse_levels(levels)
    else:
        assert cluster is not None
        machine = load_cluster(cluster, servers)

    spec = find("models", model)
    if spec.spec not in ("profile", "cnn"):
        raise bad_option(
            "MODEL",
            f"a layer profile or a CNN architecture; '{model}' is an {spec.spec} config",
            show_got=False,
        )
    profile, times, used_batch = _profile_and_times(spec, machine, batch)

    options = {
        "memory_limit_bytes": memory_bytes,
        "straight": straight,
        "use_fewer_machines": use_fewer_machines,
        "activation_compression_ratio": activation_compression,
    }
    result = _partition(cost_model, profile, times, machine, parsed_levels, options)
    payload = _payload(result, cost_model)
    payload.update(
        model=profile.name,
        cluster=machine.name if machine is not None else None,
        levels=[
            {"count": count, "bandwidth_bytes_per_s": bandwidth}
            for count, bandwidth in (parsed_levels or _cluster_levels(machine))
        ],
        batch=used_batch,
        times_from="measured" if times is None else "roofline",
        options=options,
    )
    return payload


def _memory(memory: str | None) -> float | None:
    from planner.units import UnitError, parse_quantity

    if memory is None:
        return None
    try:
        value = parse_quantity(memory, "memory")
    except UnitError as exc:
        raise bad_option("--memory", str(exc), show_got=False) from None
    if value not in SIZE:
        raise bad_option("--memory", f"a memory size {SIZE.text()}, e.g. 16GB", memory)
    return value


def _cluster_levels(machine: Any) -> list[tuple[int, float]]:
    from planner.optimize.pipedream import levels_from_cluster

    return levels_from_cluster(machine)


def _profile_and_times(spec: Any, machine: Any, batch: int | None) -> tuple[Any, Any, int | None]:
    """(profile, per-layer (forward, backward) seconds or None for measured times, samples per minibatch)."""
    if (
        spec.spec == "profile"
        and spec.per == "minibatch"
        and all(layer.forward_time is not None or layer.is_input for layer in spec.layers)
    ):
        if batch is not None and batch != spec.batch_size:
            raise bad_option(
                "--batch",
                "only for a CNN architecture or FLOP profile: a measured profile is partitioned at its own "
                f"minibatch ({spec.batch_size or 'not stated'})",
                batch,
            )
        return spec, None, spec.batch_size
    if machine is None:
        raise bad_option(
            "--levels",
            "--cluster for a model timed from FLOP (the roofline needs the cluster's device)",
            show_got=False,
        )
    from planner.cost.compute import layer_arrays, layer_times

    if spec.spec == "cnn":
        from planner.cost.layers import derive_profile

        samples = batch if batch is not None else DEFAULT_CNN_BATCH
        profile = derive_profile(spec, samples)
    else:
        if spec.per != "minibatch" or spec.batch_size is None:
            raise bad_option(
                "MODEL",
                "a per-minibatch profile with its batch_size, or a CNN architecture (per-sample profiles "
                "are not partitioned)",
                show_got=False,
            )
        if batch is not None and batch != spec.batch_size:
            raise bad_option("--batch", f"the profile's own minibatch, {spec.batch_size}", batch)
        profile, samples = spec, spec.batch_size
    try:
        times = layer_times(layer_arrays(profile), machine.device, profile.dtype, samples)
    except ValueError as exc:
        raise bad_option("--cluster", str(exc), show_got=False) from None
    return profile, (times.forward, times.backward), samples


def _partition(
    cost_model: str,
    profile: Any,
    times: Any,
    machine: Any,
    levels: list[tuple[int, float]] | None,
    options: dict[str, Any],
) -> Any:
    """Run the cost model's optimizer; `options`: memory_limit_bytes, straight, use_fewer_machines and
    activation_compression_ratio (None: absent)."""
    if cost_model == "pipedream":
        from planner.optimize.chain_view import build_chain_view
        from planner.optimize.pipedream import levels_from_cluster, partition_pipedream

        view = build_chain_view(profile, None if times is None else times[0] + times[1])
        return partition_pipedream(
            view, levels if levels is not None else levels_from_cluster(machine), **options
        )
    from planner.cost.stage_costs import cluster_from_levels
    from planner.optimize.chain_costs import chain_costs
    from planner.optimize.pipeline_native import partition_native

    costs = chain_costs(profile) if times is None else chain_costs(profile, *times)
    target = machine if machine is not None else cluster_from_levels(levels or [])
    ratio = options["activation_compression_ratio"]
    return partition_native(costs, target, **{**options, "activation_compression_ratio": ratio or 1.0})


def _payload(result: Any, cost_model: str) -> dict[str, Any]:
    """The plan with the keys both cost models share; each stage's own figures as its model gives them."""
    single = result.single_device_time_s if cost_model == "native" else result.single_stage_time_s
    speedup_single = single / result.pipeline_time_s if result.pipeline_time_s > 0 else math.inf
    return {
        "cost_model": cost_model,
        "config": result.config,
        "pipeline_time_s": result.pipeline_time_s,
        "data_parallel_time_s": result.data_parallel_time_s,
        "single_device_time_s": single,
        "speedup_over_dp": result.speedup_over_dp,
        "speedup_over_single_device": speedup_single,
        "num_devices": result.num_devices,
        "devices_used": result.devices_used,
        "num_states": result.num_states,
        "stages": [stage.to_dict() for stage in result.stages],
    }


# ------------------------------------------------------------------------------------------- rendering


def _names(names: list[str]) -> str:
    if len(names) <= 2 * NAMES_SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:NAMES_SHOWN])} … {', '.join(names[-NAMES_SHOWN:])} ({len(names)})"


def _devices(devices: list[int]) -> str:
    if devices == list(range(devices[0], devices[-1] + 1)):
        return str(devices[0]) if len(devices) == 1 else f"{devices[0]}-{devices[-1]}"
    return ",".join(str(d) for d in devices)


def tables(payload: dict[str, Any]) -> list[Any]:
    """Rich renderables of a partition payload: the stages, then the summary."""
    from planner.render import fmt_bytes, fmt_time, make_table

    native = payload["cost_model"] == "native"
    where = payload["cluster"] or "levels " + ", ".join(
        f"{lv['count']} × {lv['bandwidth_bytes_per_s'] / 1e9:g} GB/s" for lv in payload["levels"]
    )
    title = (
        f"{payload['model']} on {where} ({payload['num_devices']} devices), "
        f"{payload['cost_model']} cost model"
    )
    if native:
        columns = [
            "stage",
            "states",
            "layers",
            "replicas",
            "devices",
            "compute",
            "sync",
            "transfer in",
            "time",
            "memory/device",
        ]
    else:
        columns = ["stage", "states", "layers", "replicas", "devices", "compute", "time"]
    rows = []
    for k, stage in enumerate(payload["stages"]):
        start, end = stage["layers"]
        row = [
            str(k),
            f"[{start}, {end})",
            _names(stage["layer_names"]),
            str(stage["replicas"]),
            _devices(stage["devices"]),
            fmt_time(stage["compute_s"]),
        ]
        if native:
            sync = fmt_time(stage["sync_s"]) + (
                f" ({stage['sync_algorithm']})" if stage["sync_algorithm"] else ""
            )
            transfer = fmt_time(stage["transfer_in_s"]) if k else "-"
            row += [sync, transfer, fmt_time(stage["time_s"]), fmt_bytes(stage["memory_bytes"])]
        else:
            row.append(fmt_time(stage["time_s"]))
        rows.append(row)
    right = ["replicas", "compute", "sync", "transfer in", "time", "memory/device"]
    stage_table = make_table(title, columns, rows, right=right, keep=["states", "devices"])
    summary = [
        ("configuration", payload["config"]),
        ("time per minibatch (pipeline)", fmt_time(payload["pipeline_time_s"])),
        (f"data parallel on {payload['num_devices']} devices", fmt_time(payload["data_parallel_time_s"])),
        ("one device", fmt_time(payload["single_device_time_s"])),
        ("speedup over data parallelism", f"{payload['speedup_over_dp']:.3f}×"),
        ("speedup over one device", f"{payload['speedup_over_single_device']:.3f}×"),
        ("devices used", f"{payload['devices_used']} of {payload['num_devices']}"),
    ]
    notes = (
        "time = (forward + max(backward, sync)) / replicas per minibatch; the pipeline time is the largest "
        "stage or transfer term (PipeDream's asynchronous 1F1B steady state)"
        if native
        else "PipeDream's optimizer cost terms (msr-fiddle/pipedream optimizer_graph_hierarchical.py)"
    )
    return [stage_table, make_table(None, ["quantity", "value"], summary), notes]
