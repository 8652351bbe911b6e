"""Tables of the edge-inference questions (planner.api.edge_split, edge_exits, edge_modnn,
edge_transformer); ADCNN's are in planner.render.edge_adcnn."""

from __future__ import annotations

from typing import Any

from planner.render import fmt_bytes, fmt_si, fmt_time, make_table

LATENCY_EXTREMES = ("cloud-only", "device-only")
ENERGY_EXTREMES = ("device-only J", "cloud-only J")


def split_tables(p: dict[str, Any]) -> list[Any]:
    """The best split per uplink, with the cloud-only and device-only extremes (and energies)."""
    energy = p["power_w"] is not None
    columns = ["uplink", "best split (last layer on device)", "sent", "latency", "cloud-only", "device-only"]
    if energy:
        columns += ["energy", "cloud-only J", "device-only J"]
    rows = []
    for r in p["sweep"]:
        row = [
            f"{r['uplink_bytes_per_s'] * 8 / 1e6:.4g} Mbit/s",
            r["best_split"],
            fmt_bytes(r["crossing_bytes"]),
            fmt_time(r["latency_s"]),
            fmt_time(r["cloud_only_latency_s"]),
            fmt_time(r["mobile_only_latency_s"]),
        ]
        if energy:
            row += [
                f"{r['energy_j']:.4g} J",
                f"{r['cloud_only_energy_j']:.4g} J",
                f"{r['mobile_only_energy_j']:.4g} J",
            ]
        rows.append(row)
    return [
        make_table(
            f"Neurosurgeon split of {p['model']}: {p['device']} + {p['cloud']} (best {p['objective']})",
            columns,
            rows,
            right=[c for c in columns if c not in ("best split (last layer on device)",)],
            # on a narrow terminal the extremes of what was not minimised go first
            secondary=LATENCY_EXTREMES if p["objective"] == "energy" else ENERGY_EXTREMES,
        )
    ]


def exits_tables(p: dict[str, Any]) -> list[Any]:
    """Each exit's times and bytes, then the expectation against no early exits."""
    where = p["device"] + (
        "" if p["offload_after"] is None else f" then {p['cloud']} after {p['offload_after']}"
    )
    table = make_table(
        f"Early exits of {p['model']} on {where}",
        ["exit", "fraction", "stage", "branch", "transfer", "latency if leaving here", "bytes sent"],
        [
            (
                e["exit"],
                f"{e['fraction']:.3g}",
                fmt_time(e["stage_s"]),
                fmt_time(e["branch_s"]),
                fmt_time(e["transfer_s"]),
                fmt_time(e["latency_s"]),
                fmt_bytes(e["bytes_sent"]),
            )
            for e in p["exits"]
        ],
        right=["fraction", "stage", "branch", "transfer", "latency if leaving here", "bytes sent"],
        secondary=["stage", "branch", "transfer"],  # the parts of the latency, before the answers
    )
    summary = (
        f"expected latency {fmt_time(p['expected_latency_s'])} and {fmt_bytes(p['expected_bytes'])} sent "
        "per sample; "
        f"without exits {fmt_time(p['no_exit_latency_s'])} and {fmt_bytes(p['no_exit_bytes'])} "
        f"({p['no_exit_latency_s'] / p['expected_latency_s']:.2f}x)"
    )
    if p["thresholds_nats"]:
        thresholds = ", ".join(f"{t:.3g}" for t in p["thresholds_nats"])
        summary += f"; fractions from entropy thresholds {thresholds} nats ({p['fractions_from']})"
    return [table, summary, *([_sweep_table(p)] if p["sweep"] else [])]


def _sweep_table(p: dict[str, Any]) -> Any:
    """BranchyNet's threshold sweep: the share leaving early against latency and bytes."""
    columns = ["threshold", "leaving early", "expected latency", "bytes sent", "speedup"]
    return make_table(
        f"Entropy threshold sweep ({p['fractions_from']}, the same threshold at every exit)",
        columns,
        [
            (
                f"{r['threshold_nats']:.3g} nats",
                f"{r['early_share']:.1%}",
                fmt_time(r["expected_latency_s"]),
                fmt_bytes(r["expected_bytes"]),
                f"{p['no_exit_latency_s'] / r['expected_latency_s']:.2f}x",
            )
            for r in p["sweep"]
        ],
        right=columns,
    )


def ddnn_tables(p: dict[str, Any]) -> list[Any]:
    """DDNN's tiers (exit fraction, latency if exiting there), then bytes per device against raw offload."""
    columns = ["tier", "exits here", "latency if exiting here", "bytes on the path"]
    table = make_table(
        f"DDNN: {p['devices']} end devices ({p['aggregation']} aggregation) on {p['local_network']}, "
        f"cloud {p['cloud']}",
        columns,
        [
            (t["tier"], f"{t['exit_fraction']:.1%}", fmt_time(t["latency_s"]), fmt_bytes(t["bytes_on_path"]))
            for t in p["tiers"]
        ],
        right=columns[1:],
    )
    summary = (
        f"{fmt_bytes(p['device_bytes_per_sample'])} per end device and sample (Eq. 1) against "
        f"{fmt_bytes(p['raw_bytes_per_device'])} raw: {p['communication_reduction']:.1f}x less; "
        f"the next tier's input after aggregation {fmt_bytes(p['aggregated_input_bytes'])}; "
        f"expected latency {fmt_time(p['expected_latency_s'])}"
    )
    return [table, summary]


def modnn_tables(p: dict[str, Any]) -> list[Any]:
    """MoDNN's times for each worker count."""
    return [
        make_table(
            f"MoDNN ({p['partition']}) of {p['model']} on {p['cluster']}",
            ["workers", "one device", "compute", "data delivery", "delivered", "total", "speedup"],
            [
                (
                    r["workers"],
                    fmt_time(r["single_device_s"]),
                    fmt_time(r["compute_s"]),
                    fmt_time(r["delivery_s"]),
                    fmt_bytes(r["delivered_bytes"]),
                    fmt_time(r["total_s"]),
                    f"{r['speedup']:.2f}x",
                )
                for r in p["results"]
            ],
            right=["workers", "one device", "compute", "data delivery", "delivered", "total", "speedup"],
            secondary=["one device", "delivered"],  # the speedup says what one device takes
        ),
        *fc_tables(p),
        *(f"contradicts the paper: {note}" for note in p["paper_notes"]),
    ]


def fc_tables(p: dict[str, Any]) -> list[Any]:
    """Sparse fc layers: inputs each split makes the workers receive (1-D bands vs MSCC), and balance."""
    rows = [
        (
            r["workers"],
            f["layer"],
            f["weights"],
            fmt_si(f["nonzeros"]),
            fmt_bytes(f["1d"]["received_bytes"]),
            fmt_bytes(f["mscc"]["received_bytes"]),
            f"{f['traffic_cut']:.1%}",
            f"{f['mscc']['imbalance']:.1%}",
        )
        for r in p["results"]
        for f in r.get("fc_layers", [])
    ]
    if not rows:
        return []
    columns = [
        "workers",
        "layer",
        "weights",
        "non-zeros",
        "1-D received",
        "MSCC received",
        "cut",
        "imbalance",
    ]
    title = f"Sparse fc layers over the workers (delivery uses {p['fc_partition']})"
    return [make_table(title, columns, rows, right=[c for c in columns if c not in ("layer", "weights")])]


def transformer_tables(p: dict[str, Any]) -> list[Any]:
    """One layer's cost under each scheme, and the whole model's."""
    return [
        make_table(
            f"{p['model']}: one layer over {p['devices']} devices of {p['cluster']}, {p['tokens']} tokens, "
            f"{p['dtype']}",
            [
                "scheme",
                "FLOP/device",
                "weights/device",
                "sent/device",
                "compute",
                "communication",
                "per layer",
                f"{p['layers']} layers",
            ],
            [
                (
                    s["scheme"],
                    fmt_si(s["flops_per_device"], "FLOP"),
                    fmt_bytes(s["weight_bytes_per_device"]),
                    fmt_bytes(s["comm_bytes_per_device"]),
                    fmt_time(s["compute_s"]),
                    fmt_time(s["comm_s"]),
                    fmt_time(s["layer_s"]),
                    fmt_time(s["model_s"]),
                )
                for s in p["schemes"]
            ],
            right=[
                "FLOP/device",
                "weights/device",
                "sent/device",
                "compute",
                "communication",
                "per layer",
                f"{p['layers']} layers",
            ],
            secondary=["FLOP/device", "weights/device", "sent/device", "per layer"],  # the times compare
        ),
        *(f"note: {note}" for note in p["notes"]),
    ]
