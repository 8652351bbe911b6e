"""Tables and charts of pipeline bubbles and schedules (planner.api.pipeline)."""

from __future__ import annotations

import shutil
from fractions import Fraction
from typing import Any

from planner.cost.pipeline_schedule import Timeline
from planner.render import make_table
from planner.render.gantt import render_rich
from planner.units import format_quantity


def _num(value: float) -> str:
    return f"{value:.4g}"


def bubble_tables(payload: dict[str, Any]) -> list[Any]:
    """The bubble at M (or the sweep over M), its formulas and GPipe's rule."""
    k, v = payload["stages"], payload["chunks"]
    title = f"{payload['schedule']}: K = {k} stages" + (f", v = {v} chunks per device" if v > 1 else "")
    advice = payload["advice"]
    rule = (
        f"GPipe's rule {advice['rule'].split(' (')[0]}: M >= {advice['minimum_microbatches']}, "
        f"bubble fraction {_num(advice['bubble_fraction_at_minimum'])}"
    )
    formulas = payload["formulas"]
    if "sweep" not in payload:
        m = payload["microbatches"]
        rows: list[tuple[Any, ...]] = [
            ("micro-batches M", m),
            (
                f"bubble fraction = idle/total = {formulas['bubble_fraction']}",
                f"{Fraction(k - 1, v * m + k - 1)} = {_num(payload['bubble_fraction'])}",
            ),
            (
                f"bubble overhead = idle/ideal = {formulas['bubble_overhead']}",
                f"{Fraction(k - 1, v * m)} = {_num(payload['bubble_overhead'])}",
            ),
            ("utilisation = 1 - bubble fraction", _num(payload["utilisation"])),
            ("naive model parallelism utilisation = 1/K", _num(payload["naive_utilisation"])),
        ]
        if m == 1:  # M = 1 is naive model parallelism
            rows.append(
                (
                    "naive model parallelism: model per device = 1/K",
                    _num(payload["naive_memory_per_device_fraction"]),
                )
            )
        return [make_table(title, ["quantity", "value"], rows), rule]
    rows = [
        (
            row["microbatches"],
            _num(row["bubble_fraction"]),
            _num(row["bubble_overhead"]),
            _num(row["utilisation"]),
            "M = 4K" if row["microbatches"] == 4 * k else "",
        )
        for row in payload["sweep"]
    ]
    columns = ["M", "bubble fraction", "bubble overhead", "utilisation", ""]
    legend = (
        f"bubble fraction = idle/total = {formulas['bubble_fraction']}; "
        f"bubble overhead = idle/ideal = {formulas['bubble_overhead']}"
    )
    return [make_table(title, columns, rows, right=columns[:4]), legend, rule]


def schedule_renderables(payload: dict[str, Any], timeline: Timeline, width: int | None) -> list[Any]:
    """The chart (`width` columns, default the terminal's), the measured bubble and the closed form."""
    label = len(f"dev {payload['stages'] - 1}") + 3
    columns = width or max(20, min(shutil.get_terminal_size().columns - label, 240))
    k, m, v = payload["stages"], payload["microbatches"], payload["chunks"]
    head = f"{payload['schedule']}: K = {k} stages, M = {m} micro-batches" + (
        f", v = {v} chunks" if v > 1 else ""
    )
    if payload["rematerialised"]:
        head += "; re-materialised: each backward B recomputes its forward (b = backward + forward)"
    closed = payload["closed_form"]
    rows = [
        ("time per minibatch (simulated)", format_quantity(payload["time_s"], "time")),
        ("bubble fraction = idle/total (measured)", _num(payload["bubble_fraction"])),
        ("bubble overhead = idle/busy (measured)", _num(payload["bubble_overhead"])),
    ]
    if closed["time_s"] is not None:
        rows.append((f"closed form {closed['formula']}", format_quantity(closed["time_s"], "time")))
    if closed["lower_bound_s"] is not None:
        rows.append(
            (
                "closed-form bounds (lower, upper)",
                f"{format_quantity(closed['lower_bound_s'], 'time')}, "
                f"{format_quantity(closed['upper_bound_s'], 'time')}",
            )
        )
    out: list[Any] = [head, render_rich(timeline, columns), make_table(None, ["quantity", "value"], rows)]
    if payload["svg_path"]:
        out.append(f"wrote {payload['svg_path']}")
    return out


def balance_tables(payload: dict[str, Any]) -> list[Any]:
    """GPipe's balance: one row per stage, then its GPipe time beside equal layer counts."""
    unit = payload["bottleneck_unit"]
    rows = [
        (
            row["stage"],
            f"{row['first_layer']} .. {row['last_layer']}",
            row["layers"],
            format_quantity(row["time_s"], "time"),
            format_quantity(row["parameter_bytes"], "memory"),
        )
        for row in payload["partition"]
    ]
    title = (
        f"GPipe's balance by {payload['objective']}: K = {payload['stages']}, balance {payload['balance']}"
    )
    table = make_table(title, ["stage", "layers", "count", "time / minibatch", "parameters"], rows)
    equal = payload["equal_layers"]
    bottleneck = format_quantity(payload["bottleneck"], "time" if unit == "s" else "memory")
    summary = (
        f"largest stage {bottleneck}; GPipe with M = {payload['microbatches']} micro-batches of a "
        f"{payload['batch']}-sample minibatch: {format_quantity(payload['gpipe_time_s'], 'time')} "
        f"(equal layer counts {equal['balance']}: {format_quantity(equal['gpipe_time_s'], 'time')})"
    )
    return [table, summary]


def staleness_tables(payload: dict[str, Any]) -> list[Any]:
    """PipeDream's staleness and weight versions per stage, then the other rule's totals."""
    has_bytes = payload["weights_bytes"] is not None
    rows = [
        (
            row["stage"],
            row["in_flight_minibatches"],
            row["staleness_updates"],
            row["weight_versions"],
            *((format_quantity(row["stashed_weight_bytes"], "memory"),) if has_bytes else ()),
        )
        for row in payload["per_stage"]
    ]
    columns = ["stage", "in flight", "staleness (updates)", "weight versions"]
    columns += ["stashed weights"] if has_bytes else []
    title = f"PipeDream, {payload['rule']}: K = {payload['stages']} stages (asynchronous 1F1B)"
    other = payload["other"]
    consistent = (
        "one version across stages"
        if payload["consistent_across_stages"]
        else ("stages of one minibatch use different versions")
    )
    summary = (
        f"{consistent}; {payload['total_weight_versions']} weight versions in all"
        + (
            f" ({format_quantity(payload['total_stashed_weight_bytes'], 'memory')} stashed)"
            if has_bytes
            else ""
        )
        + f"; {other['rule']}: staleness {other['staleness_updates']}, "
        f"{other['total_weight_versions']} versions"
        + (
            f" ({format_quantity(other['total_stashed_weight_bytes'], 'memory')} stashed)"
            if has_bytes
            else ""
        )
    )
    return [make_table(title, columns, rows), summary, payload["source"]]
