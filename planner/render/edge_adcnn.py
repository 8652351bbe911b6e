"""Tables of ADCNN's plan (planner.api.edge_adcnn): tile classes, the assignment, latency against the
baselines, and the ways to split the conv part."""

from __future__ import annotations

from typing import Any

from planner.render import fmt_bytes, fmt_count, fmt_time, make_table


def adcnn_tables(p: dict[str, Any]) -> list[Any]:
    """The tile classes, the tile assignment, the latency table, the schemes and the cut scan."""
    classes = p["tile_classes"]
    tiles = make_table(
        f"ADCNN: {p['model']} on {p['cluster']}: {len(p['boards'])} Conv nodes + a Central node, "
        f"{p['grid']['rows']}x{p['grid']['cols']} FDSP tiles, cut after {p['cut']['layer']}",
        ["class", "shapes", "tiles", "share", "input/tile", "output/tile"],
        [
            (
                f"#{i + 1}",
                c["shapes"],
                c["count"],
                f"{c['share']:.4f}",
                fmt_bytes(c["input_bytes"]),
                fmt_bytes(c["output_bytes"]),
            )
            for i, c in enumerate(classes)
        ],
        right=["tiles", "share", "input/tile", "output/tile"],
    )
    devices = sorted({b["device"] for b in p["boards"]})
    one = len(devices) == 1
    assign = make_table(
        "Tile assignment, boards in service order" + (f" (every board a {devices[0]})" if one else ""),
        [
            "board",
            *([] if one else ["device"]),
            "tiles",
            "by class",
            "compute",
            "input in",
            "compute done",
            "output back",
        ],
        [
            (
                b["board"],
                *([] if one else [b["device"]]),
                b["tiles"],
                " + ".join(f"{n}×#{k + 1}" for k, n in enumerate(b["tiles_by_class"]) if n) or "-",
                fmt_time(b["compute_s"]),
                fmt_time(b["scatter_end_s"]),
                fmt_time(b["compute_end_s"]),
                fmt_time(b["return_end_s"]),
            )
            for b in p["boards"]
        ],
        right=["tiles", "compute", "input in", "compute done", "output back"],
        # a board's name says its device, and its output back ends its part
        secondary=["device", "input in", "compute done", "compute"],
        keep=["by class"],
    )
    s = p["solver"]
    gap = "-" if s["gap"] is None else f"{100 * s['gap']:.3f}%"
    rows = [
        (
            f"ADCNN, {s['name']} ({s['status']}, gap {gap})",
            fmt_time(p["latency_s"]),
            "1.00x",
            f"tiles {fmt_time(p['tile_phase_s'])} + Central {fmt_time(p['central']['time_s'])}; solved in "
            f"{fmt_time(s['solve_s'])}",
        ),
        (
            "ADCNN, greedy (speed-proportional)",
            fmt_time(p["greedy"]["latency_s"]),
            f"{p['greedy']['latency_s'] / p['latency_s']:.2f}x",
            f"{p['greedy']['excess_over_solution_pct']:.2f}% slower than the {s['name']} plan",
        ),
        (
            f"one device ({p['single_device']['device']})",
            fmt_time(p["single_device"]["time_s"]),
            f"{p['single_device']['speedup']:.2f}x",
            "the whole model on one board"
            + ("" if p["single_device"]["fits_in_memory"] else "; it does not fit in the board's memory"),
        ),
    ]
    if p["cloud"] is not None:
        c = p["cloud"]
        rows.append(
            (
                f"remote cloud ({c['cluster']})",
                fmt_time(c["total_s"]),
                f"{c['speedup']:.2f}x",
                f"upload {fmt_bytes(c['upload_bytes'])} in {fmt_time(c['upload_s'])}, "
                f"compute {fmt_time(c['compute_s'])}, download {fmt_time(c['download_s'])}",
            )
        )
    latency = make_table(
        "Latency of one image",
        ["plan", "latency", "ADCNN speed-up", "notes"],
        rows,
        right=["latency", "ADCNN speed-up"],
    )
    schemes = make_table(
        f"Ways to split the conv part (layers up to {p['cut']['layer']}) equally over "
        f"{len(p['boards'])} boards",
        ["scheme", "compute", "bytes on link", "messages", "communication", "total"],
        [
            (
                x["scheme"],
                fmt_time(x["compute_s"]),
                fmt_bytes(x["bytes_on_medium"]),
                fmt_count(x["messages"]),
                fmt_time(x["comm_s"]),
                fmt_time(x["total_s"]),
            )
            for x in p["schemes"]
        ],
        right=["compute", "bytes on link", "messages", "communication", "total"],
    )
    scan = ", ".join(f"{c['layer']} {fmt_time(c['greedy_latency_s'])}" for c in p["cut_scan"])
    return [
        tiles,
        assign,
        latency,
        schemes,
        f"cuts scored with the greedy assignment: {scan}",
        *(f"contradicts the paper: {note}" for note in p["paper_notes"]),
    ]
