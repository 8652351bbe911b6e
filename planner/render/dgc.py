"""Tables of DGC's warm-up schedule over a run (planner.api.dgc_schedule)."""

from __future__ import annotations

from typing import Any

from planner.render import make_table
from planner.units import format_quantity


def _bandwidth(value: float | None) -> str:
    return "no crossing" if value is None else format_quantity(value, "bandwidth")


def _break_even_line(run: dict[str, Any]) -> str:
    """Where DGC starts or stops paying over the run, or that no bandwidth changes the verdict."""
    step = format_quantity(run["ring_step_bandwidth_bytes_per_s"], "bandwidth")
    crossing = run["break_even_bandwidth_bytes_per_s"]
    if crossing is None:
        verdict = "pays" if run["dgc_time_s"] < run["dense_time_s"] else "does not pay"
        return f"no break-even bandwidth over the run: DGC {verdict} at any bandwidth (ring step: {step})"
    side = "below" if run["pays_below_break_even_bandwidth"] else "above"
    return (
        f"break-even bandwidth over the run: {_bandwidth(crossing)} (DGC pays {side} it; this cluster's "
        f"ring step: {step})"
    )


def dgc_tables(payload: dict[str, Any]) -> list[Any]:
    """Warm-up epochs and the first steady one, then the run's totals and momentum correction."""
    shown = payload["per_epoch"][: payload["warmup_epochs"] + 1]
    rows = [
        (
            row["epoch"],
            f"{1 - row['density']:.4%}",
            format_quantity(row["message_bytes"], "memory"),
            format_quantity(row["sent_bytes_per_worker"], "memory"),
            format_quantity(row["dgc_time_s"], "time"),
            format_quantity(row["dense_time_s"], "time"),
            _bandwidth(row["break_even_bandwidth_bytes_per_s"]),
        )
        for row in shown
    ]
    title = (
        f"DGC on {payload['model']}, {payload['devices']} workers of {payload['cluster']}: "
        f"{payload['iterations_per_epoch']:,} iterations per epoch"
    )
    columns = ["epoch", "sparsity", "message", "sent/epoch", "DGC sync", "dense sync", "break-even"]
    table = make_table(title, columns, rows)
    run = payload["run"]
    rest = payload["epochs"] - len(shown)
    lines = [
        f"epochs {len(shown)}..{payload['epochs'] - 1} as epoch {len(shown) - 1}" if rest > 0 else "",
        (
            f"{payload['epochs']} epochs: {format_quantity(run['sent_bytes_per_worker'], 'memory')} sent per "
            f"worker ({run['compression_ratio']:.0f}x less than dense; the warm-up is "
            f"{run['warmup_share_of_bytes']:.0%} of it), sync {format_quantity(run['dgc_time_s'], 'time')} "
            f"vs dense {format_quantity(run['dense_time_s'], 'time')}"
        ),
        _break_even_line(run),
        (
            "momentum correction: +"
            f"{format_quantity(payload['momentum_correction']['extra_state_bytes_per_worker'], 'memory')} "
            f"per worker, no bytes on the wire; {payload['momentum_correction']['note']}"
        ),
        payload["notes"],
    ]
    return [table, *(line for line in lines if line)]
