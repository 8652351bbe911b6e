"""Tables of the federated-learning answers (planner.api.fl_*), built from their payloads."""

from __future__ import annotations

from typing import Any

from planner.render import first_sentence, fmt_bytes, fmt_count, fmt_si, fmt_time, make_table


def fleets_tables(payload: dict[str, Any]) -> list[Any]:
    """The catalog's fleets, one row each."""
    rows = [
        (
            f["name"],
            fmt_count(f["clients"]),
            ", ".join(f"{c['count']} {c['name']}" for c in f["classes"]),
            first_sentence(f["description"]),
        )
        for f in payload["fleets"]
    ]
    return [make_table("Fleets", ["name", "clients", "classes", "description"], rows, right=["clients"])]


def _classes_table(payload: dict[str, Any], title: str) -> Any:
    rows = [
        (
            c["name"],
            fmt_count(c["clients"]),
            c["device"],
            f"{c['samples_mean']:.0f}",
            fmt_time(c["step_s"]),
            fmt_time(c["download_s"]),
            fmt_time(c["compute_s"]),
            fmt_time(c["upload_s"]),
            fmt_time(c["total_s"]),
            f"{fmt_time(c['total_min_s'])} .. {fmt_time(c['total_max_s'])}",
            f"{c['availability']:g}",
        )
        for c in payload["classes"]
    ]
    columns = [
        "class",
        "clients",
        "device",
        "samples",
        "step",
        "download",
        "train",
        "upload",
        "total",
        "range",
        "avail.",
    ]
    return make_table(title, columns, rows, right=columns[1:2] + columns[3:9] + columns[10:], keep=["range"])


def round_tables(payload: dict[str, Any]) -> list[Any]:
    """The clients per class, the round's figures, the model, the histogram if asked for, the notes."""
    s, r, tr, model = payload["settings"], payload["round"], payload["training"], payload["model"]
    title = (
        f"Clients of fleet {payload['fleet']['name']}: {model['name']}, E = {s['epochs']:g}, "
        f"B = {s['batch_size']}, {s['local_steps_mean']:.1f} local steps on average (means per class)"
    )
    stderr = f" ± {fmt_time(r['clients_time_stderr_s'])}" if r["method"] == "monte-carlo" else ""
    rows = [
        ("clients selected / used", f"{s['clients_selected']} / {s['clients_per_round']}"),
        ("deadline", fmt_time(s["deadline_s"])),
        (f"expected slowest report ({r['method']})", fmt_time(r["clients_time_s"]) + stderr),
        ("server aggregation", fmt_time(r["aggregation_s"])),
        ("expected round", fmt_time(r["round_s"])),
        ("expected updates received", f"{r['updates']:.2f}"),
        ("slowest client of the fleet", fmt_time(r["all_clients_max_s"])),
        (
            "model download / update upload",
            f"{fmt_bytes(model['download_bytes'])} / {fmt_bytes(model['upload_bytes'])}",
        ),
        (
            "bytes per round (down + up)",
            f"{fmt_bytes(r['download_bytes'])} + {fmt_bytes(r['upload_bytes'])} = {fmt_bytes(r['bytes'])}",
        ),
        ("server ingress of the uploads", fmt_time(r["server_ingress_s"])),
    ]
    if s["relevant_fraction"] < 1:
        rows.append(("CMFL upload saved per round", fmt_bytes(r["cmfl_saved_upload_bytes"])))
    if s["prox_mu"] > 0:
        rows.append(("FedProx extra per step (mean)", fmt_time(r["prox_extra_s_per_step"])))
    if r["partial_work_fraction"] is not None:
        rows.append(("FedProx work done by updating clients", f"{100 * r['partial_work_fraction']:.1f}%"))
    rows += [
        (f"{tr['rounds']} rounds (your input): time", fmt_time(tr["time_s"])),
        (f"{tr['rounds']} rounds: bytes", fmt_bytes(tr["bytes"])),
    ]
    flops = model["training_flops_per_sample"]
    out: list[Any] = [
        _classes_table(payload, title),
        make_table("Round", ["quantity", "value"], rows, keep=["value"]),
        f"model: {model['name']}, {model['parameters']:,} parameters, "
        + (f"{fmt_si(flops, 'FLOP')} per training sample, " if flops else "")
        + model["upload"],
    ]
    if "histogram" in payload:
        out.append(histogram_text(payload["histogram"], s["deadline_s"], r["round_s"]))
    out += [f"note: {n}" for n in payload["notes"]]
    return out


def histogram_text(hist: dict[str, Any], deadline: float | None, round_s: float) -> str:
    """Bars of client counts per time bin; the deadline and the expected round marked on their bins."""
    counts, edges = hist["counts"], hist["edges_s"]
    widest = max(counts) or 1
    lines = ["Client round times (all clients of the fleet)"]
    for i, count in enumerate(counts):
        low, high = edges[i], edges[i + 1]
        marks = []
        if deadline is not None and low <= deadline < high:
            marks.append("deadline")
        if low <= round_s < high or (i == len(counts) - 1 and round_s >= high):
            marks.append("expected round")
        bar = "█" * max(1 if count else 0, round(40 * count / widest))
        tail = f"  <- {', '.join(marks)}" if marks else ""
        lines.append(f"{fmt_time(low):>10} .. {fmt_time(high):<10} {bar:<40} {count:>6}{tail}")
    return "\n".join(lines)


def select_tables(payload: dict[str, Any], show_clients: bool) -> list[Any]:
    """The three selections side by side, the clients each selects per class (and, asked, the ILP's)."""
    s = payload["settings"]
    rows = [
        (
            r["method"] + (" (expected)" if r["expected"] else ""),
            f"{r['clients']:g}",
            f"{r['utility']:.4f}",
            fmt_time(r["round_s"]),
            fmt_bytes(r["bytes"]),
            f"{r['objective']:.4f}",
            fmt_time(r["solve_s"]) if r["method"] == "ilp" else "",
        )
        for r in payload["selections"]
    ]
    title = (
        f"Client selection on {payload['fleet']['name']} ({payload['model']['name']}): maximise "
        f"{s['w_utility']:g}·utility − {s['w_latency_per_s']:g}·round[s] − "
        f"{s['w_bytes_per_gb']:g}·bytes[GB], "
        f"{s['min_clients']}..{s['max_clients']} clients"
    )
    columns = ["selection", "clients", "utility", "round", "bytes", "objective", "solve"]
    out: list[Any] = [make_table(title, columns, rows, right=columns[1:])]
    by_class = [
        (c["name"], fmt_count(c["clients"]), c["ilp_selected"], c["fastest_selected"])
        for c in payload["by_class"]
    ]
    out.append(
        make_table(
            "Selected per class",
            ["class", "clients", "ilp", "fastest"],
            by_class,
            right=["clients", "ilp", "fastest"],
        )
    )
    if show_clients:
        out.append("ILP selects clients (fleet order): " + ", ".join(map(str, payload["ilp_clients"])))
    out.append(f"utility: {payload['utility']}")
    out += [f"note: {n}" for n in payload["notes"]]
    return out


def heterofl_tables(payload: dict[str, Any]) -> list[Any]:
    """The levels, the clients per level and class, and HeteroFL against full width."""
    s = payload["settings"]
    levels = [
        (
            lv["level"],
            f"{lv['width']:g}",
            f"{lv['parameter_fraction_formula']:.5g}",
            f"{lv['parameter_fraction']:.5g}",
            fmt_count(lv["parameters"]),
            fmt_bytes(lv["model_bytes"]),
            fmt_bytes(lv["training_memory_bytes"]),
        )
        for lv in payload["levels"]
    ]
    columns = [
        "level p",
        "width r^(p-1)",
        "r^(2(p-1))",
        "params / full",
        "parameters",
        "model",
        f"memory (B={s['batch_size']})",
    ]
    out: list[Any] = [
        make_table(
            f"HeteroFL levels of {payload['model']['name']} (r = {s['ratio']:g})",
            columns,
            levels,
            right=columns,
        )
    ]
    per = [str(p) for p in range(1, s["levels"] + 1)]
    rows = [
        (
            c["name"],
            fmt_count(c["clients"]),
            fmt_bytes(c["memory_budget_bytes"]),
            *(c["clients_per_level"][p] for p in per),
            c["clients_without_level"],
            fmt_time(c["full_width_s"]),
            fmt_time(c["assigned_s"]),
        )
        for c in payload["by_class"]
    ]
    head = [
        "class",
        "clients",
        "memory budget",
        *(f"p={p}" for p in per),
        "none",
        "full-width round",
        "own level",
    ]
    out.append(
        make_table(f"Clients per level (deadline {fmt_time(s['deadline_s'])})", head, rows, right=head[1:])
    )
    h, f = payload["heterofl"], payload["full_width"]
    summary = [
        ("eligible clients", fmt_count(h["eligible_clients"]), fmt_count(f["eligible_clients"])),
        (f"expected round, m = {s['clients_per_round']}", fmt_time(h["round_s"]), fmt_time(f["round_s"])),
        ("bytes per round", fmt_bytes(h["bytes"]), fmt_bytes(f["bytes"])),
    ]
    out.append(
        make_table(
            "HeteroFL vs full width",
            ["", "HeteroFL", "full width"],
            summary,
            right=["HeteroFL", "full width"],
        )
    )
    out += [f"note: {n}" for n in payload["notes"]]
    return out


def noniid_tables(payload: dict[str, Any]) -> list[Any]:
    """EMD per class and in all, and the cost of the shared subset."""
    part, shared = payload["partition"], payload["shared_subset"]
    rows = [
        (
            c["name"],
            fmt_count(c["clients"]),
            f"{c['emd_mean']:.3f}",
            f"{c['emd_min']:.3f} .. {c['emd_max']:.3f}",
            fmt_time(c["shared_download_s"]),
        )
        for c in payload["by_class"]
    ]
    emd = payload["emd"]
    rows.append(
        ("all", fmt_count(part["clients"]), f"{emd['mean']:.3f}", f"{emd['min']:.3f} .. {emd['max']:.3f}", "")
    )
    columns = ["class", "clients", "EMD mean", "EMD range", "shared-data download"]
    out: list[Any] = [
        make_table(
            f"Label skew on {payload['fleet']['name']}: {part['source']}", columns, rows, right=columns[1:]
        )
    ]
    costs = [
        (
            "shared set |G| = beta N",
            f"{shared['shared_samples']:,.0f} samples ({100 * shared['fraction']:g}%)",
        ),
        (
            "sent to each client (alpha |G|)",
            f"{shared['samples_per_client']:,.0f} samples, {fmt_bytes(shared['bytes_per_client'])}",
        ),
        ("sent in all", fmt_bytes(shared["total_bytes"])),
        ("one-time download (slowest client)", fmt_time(shared["one_time_download_s"])),
        (
            "accuracy lost to skew without / with (model)",
            f"{shared['accuracy_loss_points']:.1f} / {shared['accuracy_loss_with_shared_points']:.1f} points",
        ),
        ("accuracy the shared data buys (model)", f"+{shared['accuracy_gain_points']:.1f} points"),
    ]
    extra = payload.get("training_with_shared")
    if extra:
        costs += [
            ("extra local training per round (mean)", fmt_time(extra["extra_compute_s_mean"])),
            (
                f"expected round without / with, m = {extra['clients_per_round']}",
                f"{fmt_time(extra['round_s_without'])} / {fmt_time(extra['round_s_with'])}",
            ),
        ]
    out.append(
        make_table("Globally shared data (Zhao et al. 2018)", ["quantity", "value"], costs, keep=["value"])
    )
    out += [f"note: {n}" for n in payload["notes"]]
    return out
