"""Tables of a pipeline partition (planner.api.partition): the stages, then the summary."""

from __future__ import annotations

from typing import Any

NAMES_SHOWN = 1  # layer names shown at each end of a stage in the table


def _names(names: list[str]) -> str:
    if len(names) <= 2 * NAMES_SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:NAMES_SHOWN])} … {', '.join(names[-NAMES_SHOWN:])} ({len(names)})"


def device_ranges(devices: list[int]) -> str:
    """ "0-11", "3", or "0,2,4" when the devices are not consecutive."""
    if devices == list(range(devices[0], devices[-1] + 1)):
        return str(devices[0]) if len(devices) == 1 else f"{devices[0]}-{devices[-1]}"
    return ",".join(str(d) for d in devices)


def partition_tables(payload: dict[str, Any]) -> list[Any]:
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
            device_ranges(stage["devices"]),
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
    if payload.get("lower_bound_s") is not None:  # the bottleneck search past the dynamic program's limits
        gap = "proven optimal" if payload["gap"] == 0 else f"gap {payload['gap']:.2%} to it"
        summary.append(("proven lower bound", f"{fmt_time(payload['lower_bound_s'])} ({gap})"))
    if payload.get("linearised_blocks"):  # too many antichain states: those blocks cut in layer order
        summary.append(("blocks cut in layer order", f"{payload['linearised_blocks']} (too many states)"))
    notes = (
        "time = (forward + backward with its overlapped sync + the last bucket's sync + update) / replicas "
        "per minibatch (the sync slows the backward while they overlap; planner.cost.overlap); the pipeline "
        "time is the largest stage or transfer term (PipeDream's asynchronous 1F1B steady state)"
        if native
        else "PipeDream's optimizer cost terms (msr-fiddle/pipedream optimizer_graph_hierarchical.py)"
    )
    return [stage_table, make_table(None, ["quantity", "value"], summary), notes]
