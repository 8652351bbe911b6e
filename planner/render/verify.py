"""The predicted-vs-measured table of `planner verify` (planner.api.verify)."""

from __future__ import annotations

from typing import Any

from planner.render import fmt_time, make_table


def verify_tables(payload: dict[str, Any]) -> list[Any]:
    """Predicted parts and iteration beside the measured iteration, and the error."""
    i = payload["inputs"]
    plan = (
        f"DDP on {i['processes']} processes"
        if i["strategy"] == "dp"
        else (
            f"{i['processes']}-stage {i['schedule']} pipeline, {i['microbatches']} micro-batches, "
            f"split before {', '.join(i['split'])}"
        )
    )
    title = (
        f"{i['profile']}: {plan}, batch {i['batch']}, {i['threads']} thread(s) per process; "
        f"median of {i['iterations']} timed iterations after {i['warmup']}"
    )
    rows = [
        ("compute", fmt_time(payload["predicted_compute_s"]), "", "forward + backward (slowest stage)"),
        (
            "communication",
            fmt_time(payload["predicted_communication_s"]),
            "",
            "exposed all-reduce / transfers",
        ),
        ("bubble", fmt_time(payload["predicted_bubble_s"]), "", "pipeline idle time"),
        ("optimizer step", fmt_time(payload["predicted_update_s"]), "", ""),
        (
            "iteration",
            fmt_time(payload["predicted_iteration_s"]),
            fmt_time(payload["measured_iteration_s"]),
            f"error {payload['error_pct']:+.1f} %",
        ),
    ]
    columns = ["part", "predicted", "measured", "note"]
    out: list[Any] = [make_table(title, columns, rows, right=["predicted", "measured"])]
    out.append("the run is timed as a whole: its parts are not separated in the measurement")
    return out
