"""Tables of the all-reduce comparison (planner.api.comm)."""

from __future__ import annotations

from typing import Any

from planner.render import fmt_count, fmt_si, fmt_time, make_table
from planner.units import format_quantity


def comm_tables(payload: dict[str, Any]) -> list[Any]:
    """The algorithms best first, the lower bound and links, the notes, and DGC's comparison if costed."""

    c, m = payload["cluster"], payload["message"]
    what = (
        f"{m['model']}'s gradient ({fmt_count(m['parameters'])} {m['dtype']} parameters)"
        if m["source"] == "model"
        else "a message"
    )
    shape = " × ".join(f"{lv['count']} {lv['name']}" for lv in reversed(c["levels"]))
    title = (
        f"All-reduce of {what}: {fmt_si(m['bytes'], 'B')} ({format_quantity(m['bytes'], 'memory')}) "
        f"per device on {c['name']} ({shape}; {c['devices']} devices), best first"
    )
    rows = [
        (
            rank,
            r["algorithm"],
            fmt_time(r["time_s"]),
            f"{r['times_lower_bound']:.2f}×",
            fmt_si(r["bytes_sent_per_device"], "B"),
            fmt_si(r["total_traffic_bytes"], "B"),
            r["busiest_link"],
            fmt_si(r["busiest_link_bytes"], "B"),
            r["steps"],
        )
        for rank, r in enumerate(payload["results"], start=1)
    ]
    table = make_table(
        title,
        [
            "#",
            "algorithm",
            "time",
            "vs bound",
            "sent/device",
            "total traffic",
            "busiest link",
            "its bytes",
            "steps",
        ],
        rows,
        right=["#", "time", "vs bound", "sent/device", "total traffic", "its bytes", "steps"],
    )
    links = ", ".join(
        f"{lv['name']} {format_quantity(lv['bandwidth_bytes_per_s'], 'bandwidth')} "
        f"{format_quantity(lv['latency_s'], 'time')}{' shared' if lv['shared'] else ''}"
        for lv in c["levels"]
    )
    out: list[Any] = [
        table,
        f"lower bound {fmt_time(payload['lower_bound_s'])}; links (sustained, per direction): {links}",
        "notes:",
        *(f"  {r['algorithm']}: {r['notes']}" for r in payload["results"]),
    ]
    dgc = payload.get("compression")
    if dgc:
        below = dgc["pays_below_break_even_bandwidth"]
        b_star = dgc["break_even_bandwidth_bytes_per_s"]
        n_star = dgc["break_even_devices"]
        rows = [
            (
                "message per worker",
                f"{fmt_si(dgc['message_bytes'], 'B')} ({format_quantity(dgc['message_bytes'], 'memory')})",
            ),
            ("  sparse part", fmt_si(dgc["sparse_bytes"], "B")),
            ("  dense 1-D part", fmt_si(dgc["dense_part_bytes"], "B")),
            ("compression ratio", f"{dgc['compression_ratio']:.1f}×"),
            ("dense ring all-reduce", fmt_time(dgc["dense_ring_time_s"])),
            ("DGC all-gather", fmt_time(dgc["dgc_time_s"])),
            ("speedup vs dense ring", f"{dgc['speedup']:.2f}×"),
            (
                "break-even bandwidth",
                "none (no crossing)"
                if b_star is None
                else f"{format_quantity(b_star, 'bandwidth')} (pays {'below' if below else 'above'})",
            ),
            (
                "break-even workers",
                "none (pays at any N)" if n_star is None else f"pays below N = {n_star:.0f}",
            ),
        ]
        rows.insert(
            7,
            (
                "vs best dense",
                f"{dgc['speedup_vs_best']:.2f}× ({payload['best']}: {fmt_time(dgc['best_time_s'])})",
            ),
        )
        out.append(f"Deep Gradient Compression: density {dgc['density']:g}, {dgc['encoding']} positions")
        out.append(make_table(None, ["", "value"], rows))
        out.append(f"  {dgc['notes']}; {dgc['tensors']}")
    return out
