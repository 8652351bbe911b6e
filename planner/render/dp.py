"""Tables of the data-parallel plan (planner.api.dp)."""

from __future__ import annotations

from typing import Any

from planner.render import fmt_bytes, fmt_time, make_table


def _duration(value: float) -> str:
    """Seconds, with hours beside them past an hour."""
    return fmt_time(value) if value < 3600 else f"{value / 3600:.4g} h ({value:,.0f} s)"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4g}" if value < 1000 else f"${value:,.0f}"


def dp_tables(payload: dict[str, Any]) -> list[Any]:
    """The headline, the breakdown, memory, the algorithms, scaling over N, notes (the picture:
    planner.render.figures_training.dp_figure)."""
    from rich.text import Text

    inputs, main, memory = payload["inputs"], payload["plan"], payload["memory"]
    scale = "strong scaling, global batch fixed" if inputs["strong_scaling"] else "weak scaling"
    title = (
        f"{inputs['model']} on {inputs['cluster']}: {main['devices']} x {inputs['device']} "
        f"({main['servers']} server(s)), batch {main['batch_per_device']} per device, global "
        f"{main['global_batch']} ({scale}), {inputs['dtype']}, {inputs['optimizer']}, "
        f"{'overlap' if inputs['overlap'] else 'no overlap'}, work from {inputs['work']}"
    )
    rows = [
        ("forward", fmt_time(main["forward_s"])),
        ("backward", fmt_time(main["backward_s"])),
        ("gradient all-reduce (total)", fmt_time(main["sync_total_s"])),
        ("backward slowed by the all-reduce", fmt_time(main["contention_s"])),
        ("gradient all-reduce (exposed)", fmt_time(main["sync_exposed_s"])),
        ("weight update", fmt_time(main["update_s"])),
        ("iteration", fmt_time(main["iteration_s"])),
        ("throughput", f"{main['throughput_samples_per_s']:,.1f} samples/s"),
        ("speedup vs 1 device", f"{main['speedup']:.3f}x"),
        ("scaling efficiency", f"{main['scaling_efficiency'] * 100:.1f}%"),
        ("algorithm", main["algorithm"]),
        ("gradient", f"{fmt_bytes(main['gradient_bytes'])} in {main['buckets']} bucket(s)"),
        ("epoch", f"{_duration(main['epoch_s'])} ({main['iterations_per_epoch']:,} iterations)"),
        ("cost per iteration", _usd(main["cost_per_iteration_usd"])),
        ("cost per epoch", _usd(main["cost_per_epoch_usd"])),
    ]
    if main["time_to_train_s"] is not None:
        rows.append((f"time to train {inputs['epochs']:g} epochs", _duration(main["time_to_train_s"])))
        rows.append((f"cost of {inputs['epochs']:g} epochs", _usd(main["cost_to_train_usd"])))
    out: list[Any] = [
        Text(title, style="bold"),
        make_table(None, ["quantity", "value"], rows, right=["value"]),
    ]
    out.append(Text(f"why: {main['reason']}"))
    out.append(
        make_table(
            f"Memory per device ({'fits' if main['fits'] else 'DOES NOT FIT'} in "
            f"{fmt_bytes(memory['usable_memory_bytes'])} usable)",
            ["weights", "gradients", "master weights", "optimizer state", "activations", "total"],
            [
                (
                    fmt_bytes(memory["weights_bytes"]),
                    fmt_bytes(memory["gradients_bytes"]),
                    fmt_bytes(memory["master_weights_bytes"]),
                    fmt_bytes(memory["optimizer_state_bytes"]),
                    fmt_bytes(memory["activations_bytes"]),
                    fmt_bytes(memory["total_bytes"]),
                )
            ],
            right=["weights", "gradients", "master weights", "optimizer state", "activations", "total"],
        )
    )
    if main["devices"] > 1:
        algo_rows = []
        for opt in payload["algorithms"]:
            if opt.get("error"):
                algo_rows.append((opt["algorithm"], "-", "-", "-", "-", "-", "-", opt["error"]))
                continue
            ratio = opt.get("over_lower_bound")
            algo_rows.append(
                (
                    opt["algorithm"] + (" *" if opt["algorithm"] == main["algorithm"] else ""),
                    fmt_time(opt["iteration_s"]),
                    fmt_time(opt["sync_total_s"]),
                    fmt_time(opt["sync_exposed_s"]),
                    fmt_time(opt.get("gradient_allreduce_s")),
                    "-" if ratio is None else f"{ratio:.2f}x",
                    fmt_bytes(opt.get("bytes_sent_per_device")),
                    opt.get("busiest_link", ""),
                )
            )
        cols = [
            "algorithm",
            "iteration",
            "sync total",
            "sync exposed",
            "one all-reduce of G",
            "vs lower bound",
            "sent per device",
            "busiest link",
        ]
        out.append(make_table("All-reduce algorithms (* chosen)", cols, algo_rows, right=cols[1:7]))
    for kind in ("weak", "strong"):
        rows_k = payload["scaling"][kind]
        if not rows_k:
            continue
        cols = [
            "N",
            "servers",
            "batch/device",
            "global batch",
            "iteration",
            "samples/s",
            "speedup",
            "efficiency",
            "sync exposed",
            "algorithm",
            "fits",
            "cost/epoch",
        ]
        table_rows = [
            (
                r["devices"],
                r["servers"],
                r["batch_per_device"],
                r["global_batch"],
                fmt_time(r["iteration_s"]),
                f"{r['throughput_samples_per_s']:,.1f}",
                f"{r['speedup']:.3f}",
                f"{r['scaling_efficiency'] * 100:.1f}%",
                fmt_time(r["sync_exposed_s"]),
                r["algorithm"],
                "yes" if r["fits"] else "no",
                _usd(r["cost_per_epoch_usd"]),
            )
            for r in rows_k
        ]
        what = "per-device batch fixed" if kind == "weak" else "global batch fixed"
        out.append(make_table(f"Scaling, {kind} ({what})", cols, table_rows, right=cols[:9] + cols[11:]))
    out.append(Text("notes:\n" + "\n".join(f"- {note}" for note in payload["notes"])))
    return out
