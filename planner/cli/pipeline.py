"""Pipeline parallelism: bubbles and schedules as pictures (GPipe, 1F1B, interleaved).

Each command is one function below, registered on `app`; shared options and their checks are the
module-level aliases and `_check_*` helpers, so a new command (e.g. `partition`) is one more function.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption, force_help
from planner.limits import MAX_CHART_WIDTH, MAX_SIMULATED_OPS, MIN_CHART_WIDTH
from planner.render import OutputFormat

app = typer.Typer(no_args_is_help=True)


class ScheduleName(str, Enum):
    gpipe = "gpipe"
    one_f_one_b = "1f1b"
    interleaved = "interleaved"


StagesOption = Annotated[
    int, typer.Option("--stages", "-k", help="pipeline stages K (= devices, Megatron's p)")
]
ScheduleOption = Annotated[
    ScheduleName,
    typer.Option(
        help="gpipe (all forwards, then all backwards), 1f1b (PipeDream-flush), interleaved (Megatron)"
    ),
]
ChunksOption = Annotated[
    int | None, typer.Option(help="model chunks per device v for the interleaved schedule (default 2)")
]


def _check_positive(option: str, value: int) -> None:
    from planner.errors import SpecError

    if value < 1:
        raise SpecError(option, option.lstrip("-"), "expected a whole number >= 1", value)


def _check_chunks(schedule: ScheduleName, chunks: int | None, stages: int, microbatches: int | None) -> int:
    """The number of chunks per device the schedule runs; SpecError for a combination that has none."""
    from planner.errors import SpecError

    if schedule is not ScheduleName.interleaved:
        if chunks not in (None, 1):
            raise SpecError(
                "--chunks", "chunks", f"applies to the interleaved schedule; {schedule.value} runs 1", chunks
            )
        return 1
    v = 2 if chunks is None else chunks
    if v < 2:
        raise SpecError(
            "--chunks", "chunks", "expected >= 2 for the interleaved schedule (1 chunk is 1f1b)", v
        )
    if microbatches is not None and microbatches % stages:
        raise SpecError(
            "--microbatches",
            "microbatches",
            f"expected a multiple of --stages ({stages}) for the interleaved schedule "
            "(Megatron SC'21 Sec. 2.2.2)",
            microbatches,
        )
    return v


def _formula(v: int) -> dict[str, str]:
    if v == 1:
        return {"bubble_fraction": "(K-1)/(M+K-1)", "bubble_overhead": "(K-1)/M"}
    return {"bubble_fraction": "(K-1)/(v·M+K-1)", "bubble_overhead": "(K-1)/(v·M)"}


def _sweep_microbatches(stages: int, interleaved: bool) -> list[int]:
    if interleaved:
        return [stages * j for j in (1, 2, 4, 8, 16)]
    powers = {2**i for i in range(0, 31) if 2**i <= 16 * stages}
    return sorted(powers | {stages, 4 * stages, 16 * stages})


@app.command("bubble")
def bubble(
    stages: StagesOption,
    microbatches: Annotated[
        int | None,
        typer.Option("--microbatches", "-m", help="micro-batches M per minibatch (absent: a sweep over M)"),
    ] = None,
    schedule: ScheduleOption = ScheduleName.gpipe,
    chunks: ChunksOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Pipeline bubble: idle/total (GPipe's (K-1)/(M+K-1)) and idle/ideal (Megatron's (p-1)/(v·m))."""
    import numpy as np

    from planner.cost.pipeline import bubble_fraction, bubble_overhead, naive_utilisation
    from planner.optimize.balance import microbatch_advice
    from planner.render import emit

    _check_positive("--stages", stages)
    if microbatches is not None:
        _check_positive("--microbatches", microbatches)
    v = _check_chunks(schedule, chunks, stages, microbatches)
    advice = microbatch_advice(stages)
    payload: dict[str, Any] = {
        "schedule": schedule.value,
        "stages": stages,
        "chunks": v,
        "formulas": _formula(v),
        "naive_utilisation": float(naive_utilisation(stages)),
        "advice": {
            "rule": "M >= 4K (GPipe Sec. 2.3)",
            "minimum_microbatches": advice.minimum_microbatches,
            "bubble_fraction_at_minimum": float(bubble_fraction(stages, advice.minimum_microbatches, v)),
        },
    }
    if microbatches is not None:
        fraction = float(bubble_fraction(stages, microbatches, v))
        payload.update(
            microbatches=microbatches,
            bubble_fraction=fraction,
            bubble_overhead=float(bubble_overhead(stages, microbatches, v)),
            utilisation=1.0 - fraction,
        )
    else:
        ms = np.array(_sweep_microbatches(stages, v > 1))
        fractions, overheads = bubble_fraction(stages, ms, v), bubble_overhead(stages, ms, v)
        payload["sweep"] = [
            {
                "microbatches": int(m),
                "bubble_fraction": float(f),
                "bubble_overhead": float(o),
                "utilisation": 1.0 - float(f),
            }
            for m, f, o in zip(ms, fractions, overheads, strict=True)
        ]
    emit(payload, fmt, _bubble_tables)


def _num(value: float) -> str:
    return f"{value:.4g}"


def _bubble_tables(payload: dict[str, Any]) -> list[Any]:
    from fractions import Fraction

    from planner.render import make_table

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
        rows = [
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


def _parse_time(option: str, text: str) -> float:
    from planner.errors import SpecError
    from planner.units import UnitError, parse_quantity

    try:
        value = parse_quantity(text, "time")
    except UnitError as exc:
        raise SpecError(option, option.lstrip("-"), str(exc), show_got=False) from None
    if value < 0:
        raise SpecError(option, option.lstrip("-"), "expected a time >= 0", text)
    return value


def _parse_stage_times(text: str) -> tuple[list[float], list[float]]:
    """'1ms/2ms,1.2ms/2.4ms' -> forward and backward times, seconds."""
    from planner.errors import SpecError

    forward, backward = [], []
    for item in text.split(","):
        parts = item.split("/")
        if len(parts) != 2:
            raise SpecError(
                "--stage-times",
                "stage-times",
                "expected FORWARD/BACKWARD per stage, comma-separated, e.g. 1ms/2ms,1.2ms/2.4ms",
                item.strip(),
            )
        forward.append(_parse_time("--stage-times", parts[0].strip()))
        backward.append(_parse_time("--stage-times", parts[1].strip()))
    return forward, backward


@app.command("schedule")
def schedule_chart(
    stages: StagesOption,
    microbatches: Annotated[int, typer.Option("--microbatches", "-m", help="micro-batches M per minibatch")],
    schedule: ScheduleOption = ScheduleName.one_f_one_b,
    chunks: ChunksOption = None,
    forward: Annotated[
        str | None, typer.Option(help="one device's forward time per micro-batch (default 1ms)")
    ] = None,
    backward: Annotated[
        str | None, typer.Option(help="one device's backward time per micro-batch (default 2ms)")
    ] = None,
    stage_times: Annotated[
        str | None,
        typer.Option(
            help="FORWARD/BACKWARD per device (K items) or per virtual stage (K·v), e.g. 1ms/2ms,1.2ms/2.4ms"
        ),
    ] = None,
    svg: Annotated[Path | None, typer.Option(help="also write the chart to this SVG file")] = None,
    force: Annotated[bool, typer.Option("--force", help=force_help("--svg"))] = False,
    width: Annotated[
        int | None, typer.Option(help="columns of the terminal chart (default: the terminal's width)")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Draw a pipeline schedule: forward, backward and idle per device over time (terminal, SVG)."""
    from planner.cost.pipeline_schedule import simulate
    from planner.errors import SpecError
    from planner.fileout import check_target, write_text
    from planner.render import emit
    from planner.render.gantt import to_svg

    _check_positive("--stages", stages)
    _check_positive("--microbatches", microbatches)
    if width is not None and not MIN_CHART_WIDTH <= width <= MAX_CHART_WIDTH:
        raise SpecError(
            "--width", "width", f"expected {MIN_CHART_WIDTH} to {MAX_CHART_WIDTH:,} columns", width
        )
    v = _check_chunks(schedule, chunks, stages, microbatches)
    if 2 * stages * microbatches * v > MAX_SIMULATED_OPS:
        raise SpecError(
            "--microbatches",
            "microbatches",
            f"expected 2·K·M·v <= {MAX_SIMULATED_OPS:,} ops for a chart (`pipeline bubble` has no limit)",
            microbatches,
        )
    if stage_times is not None:
        if forward is not None or backward is not None:
            raise SpecError(
                "--stage-times",
                "stage-times",
                "expected either --stage-times or --forward/--backward, not both",
            )
        fwd, bwd = _parse_stage_times(stage_times)
        if len(fwd) not in (stages, stages * v):
            counts = f"{stages}" + (f" (per device) or {stages * v} (per virtual stage)" if v > 1 else "")
            raise SpecError("--stage-times", "stage-times", f"expected {counts} items", len(fwd))
    else:
        fwd = [_parse_time("--forward", forward or "1ms")]
        bwd = [_parse_time("--backward", backward or "2ms")]
    if svg is not None:
        check_target(svg, setting="--svg", force=force)

    timeline = simulate(schedule.value, stages, microbatches, fwd, bwd, chunks=v)
    payload = schedule_payload(timeline, fwd, bwd)
    if svg is not None:
        title = f"{schedule.value}: K = {stages}, M = {microbatches}" + (f", v = {v}" if v > 1 else "")
        write_text(svg, to_svg(timeline, title=title), setting="--svg", force=force)
        payload["svg_path"] = str(svg)
    emit(payload, fmt, lambda p: _schedule_renderables(p, timeline, width))


def schedule_payload(timeline: Any, forward: list[float], backward: list[float]) -> dict[str, Any]:
    """The JSON of a simulated schedule: measured bubble, the closed form it is checked against, events."""
    from planner.cost.pipeline import (
        bubble_fraction,
        bubble_overhead,
        gpipe_time,
        one_f_one_b_time_bounds,
        uniform_pipeline_time,
    )

    k, m, v = timeline.stages, timeline.microbatches, timeline.chunks
    uniform = len(set(forward)) == 1 and len(set(backward)) == 1
    per_device = len(forward) in (1, k)
    closed: dict[str, Any] = {"time_s": None, "exact": False, "lower_bound_s": None, "upper_bound_s": None}
    if uniform:
        f_dev = forward[0] * (1 if per_device else v)
        b_dev = backward[0] * (1 if per_device else v)
        closed.update(
            time_s=float(uniform_pipeline_time(k, m, f_dev, b_dev, v)),
            exact=True,
            formula="(M + (K-1)/v)·(f + b)",
            bubble_fraction=float(bubble_fraction(k, m, v)),
            bubble_overhead=float(bubble_overhead(k, m, v)),
        )
    elif timeline.schedule == "gpipe":
        f_all, b_all = (forward * k, backward * k) if len(forward) == 1 else (forward, backward)
        closed.update(
            time_s=gpipe_time(f_all, b_all, m),
            exact=True,
            formula="Σ(f_k + b_k) + (M-1)(max f + max b)",
        )
    elif timeline.schedule == "1f1b":
        lower, upper = one_f_one_b_time_bounds(
            forward * (k // len(forward)), backward * (k // len(backward)), m
        )
        closed.update(lower_bound_s=lower, upper_bound_s=upper, formula="bounds; the simulation is exact")
    else:
        closed.update(formula="none for unequal interleaved stages; the simulation is exact")
    return {
        "schedule": timeline.schedule,
        "stages": k,
        "microbatches": m,
        "chunks": v,
        "forward_time_s": list(forward),
        "backward_time_s": list(backward),
        "time_s": timeline.makespan,
        "bubble_fraction": timeline.bubble_fraction,
        "bubble_overhead": timeline.bubble_overhead,
        "closed_form": closed,
        "devices": [
            {
                "device": d,
                "busy_s": timeline.busy(d),
                "idle_s": timeline.makespan - timeline.busy(d),
                "peak_in_flight_microbatches": timeline.peak_in_flight(d),
            }
            for d in range(k)
        ],
        "events": [
            {
                "device": e.device,
                "start_s": e.start,
                "end_s": e.end,
                "kind": e.kind,
                "microbatch": None if e.microbatch is None else e.microbatch + 1,
                "chunk": e.chunk,
            }
            for e in timeline.events
        ],
        "svg_path": None,
    }


def _schedule_renderables(payload: dict[str, Any], timeline: Any, width: int | None) -> list[Any]:
    import shutil

    from planner.render import make_table
    from planner.render.gantt import render_rich
    from planner.units import format_quantity

    label = len(f"dev {payload['stages'] - 1}") + 3
    columns = width or max(20, min(shutil.get_terminal_size().columns - label, 240))
    k, m, v = payload["stages"], payload["microbatches"], payload["chunks"]
    head = f"{payload['schedule']}: K = {k} stages, M = {m} micro-batches" + (
        f", v = {v} chunks" if v > 1 else ""
    )
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


class CostModelName(str, Enum):
    native = "native"
    pipedream = "pipedream"


@app.command("partition")
def partition(
    model: Annotated[
        str, typer.Argument(help="measured profile (PipeDream graph.txt, profile YAML) or CNN architecture")
    ],
    cluster: Annotated[
        str | None, typer.Option(help="catalog cluster name or a cluster YAML file (or give --levels)")
    ] = None,
    servers: Annotated[int | None, typer.Option(help="override the cluster's outermost count")] = None,
    levels: Annotated[
        str | None,
        typer.Option(
            help="count:bandwidth per level, innermost first, e.g. '4:10GB/s,4:1.25GB/s' "
            "(PipeDream's -n/-b); for the native model: latency 0, efficiency 1"
        ),
    ] = None,
    cost_model: Annotated[
        CostModelName,
        typer.Option(help="native (topology-aware, the default) or pipedream (its optimizer's exact terms)"),
    ] = CostModelName.native,
    straight: Annotated[
        bool, typer.Option("--straight", help="no replication: one device per stage")
    ] = False,
    memory: Annotated[
        str | None, typer.Option(help="memory limit per device, e.g. 16GB (turns the check on)")
    ] = None,
    activation_compression: Annotated[
        float | None,
        typer.Option(
            help="divide activation transfer bytes by R (pipedream: transfers count only when given)"
        ),
    ] = None,
    use_fewer_machines: Annotated[
        bool, typer.Option("--use-fewer-machines", help="allow a plan that leaves devices idle")
    ] = False,
    batch: Annotated[
        int | None, typer.Option(help="samples per minibatch for a CNN architecture (default 128)")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Split a model into pipeline stages (PipeDream's optimizer): stages, replicas, time, speedup."""
    from planner.cli.pipeline_partition import build_payload, tables
    from planner.render import emit

    payload = build_payload(
        model=model,
        cluster=cluster,
        servers=servers,
        levels=levels,
        cost_model=cost_model.value,
        straight=straight,
        memory=memory,
        activation_compression=activation_compression,
        use_fewer_machines=use_fewer_machines,
        batch=batch,
    )
    emit(payload, fmt, tables)
