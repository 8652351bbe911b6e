"""Tables of the parameter-server modes and failures (planner.api.ps_async)."""

from __future__ import annotations

from typing import Any

from planner.render import make_table
from planner.units import format_quantity


def _mode_row(row: dict[str, Any]) -> tuple[Any, ...]:
    iteration = row["iteration_s"]
    return (
        row["mode"],
        row["gradients_per_update"],
        "never" if iteration is None else format_quantity(iteration, "time"),
        f"{row['samples_per_s']:,.1f}",
        f"{row.get('mean_staleness_updates', 0.0):.3g}",
    )


def ps_tables(payload: dict[str, Any]) -> list[Any]:
    """The modes, the modes after a worker is lost, and a lost server's take-over."""
    n, s = payload["workers"], payload["servers"]
    title = (
        f"{n} workers, {s} server shard{'s' if s > 1 else ''}, gradient "
        f"{format_quantity(payload['gradient_bytes'], 'memory')} at "
        f"{format_quantity(payload['bandwidth_bytes_per_s'], 'bandwidth')}"
    )
    columns = ["mode", "grads/update", "time/update", "samples/s", "staleness"]
    modes = make_table(title, columns, [_mode_row(row) for row in payload["modes"]])
    lost = payload["worker_lost"]
    after = make_table(
        f"worker {lost['index']} lost: the others go on",
        [*columns, "of before"],
        [(*_mode_row(row), f"{row['fraction_of_before']:.0%}") for row in lost["after"]],
    )
    legend = "staleness: mean updates by other workers between a worker's pull and its push"
    server = payload["server_lost"]
    if server["resync_s"] is None:
        line = f"a server lost: {server['note']}"
    else:
        line = (
            f"a server lost: {server['takes_over']}, takes its shard over; resynchronise "
            f"{format_quantity(server['resync_bytes'], 'memory')} in "
            f"{format_quantity(server['resync_s'], 'time')} ({server['note']})"
        )
    return [modes, after, legend, line, f"not modelled: {payload['not_modelled']}", payload["sources"]]
