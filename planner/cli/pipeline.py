"""Pipeline parallelism: bubbles and schedules as pictures (GPipe, 1F1B, interleaved).

Each command is one function below, registered on `app`; shared options and their checks are the
module-level aliases and `_check_*` helpers, so a new command (e.g. `partition`) is one more function.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from planner.api.pipeline import DEFAULT_INTERLEAVED_CHUNKS, BubbleOptions, ScheduleOptions
from planner.cli.common import FormatOption, force_help, quantity_option
from planner.limits import MAX_CHART_WIDTH, MIN_CHART_WIDTH
from planner.render import OutputFormat

app = typer.Typer(no_args_is_help=True)


class ScheduleName(str, Enum):
    gpipe = "gpipe"
    one_f_one_b = "1f1b"
    interleaved = "interleaved"


BUBBLE_SCHEDULE = ScheduleName(BubbleOptions.schedule)  # the defaults are the API's
CHART_SCHEDULE = ScheduleName(ScheduleOptions.schedule)
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


@app.command("bubble")
def bubble(
    stages: StagesOption,
    microbatches: Annotated[
        int | None,
        typer.Option("--microbatches", "-m", help="micro-batches M per minibatch (absent: a sweep over M)"),
    ] = None,
    schedule: ScheduleOption = BUBBLE_SCHEDULE,
    chunks: ChunksOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Pipeline bubble: idle/total (GPipe's (K-1)/(M+K-1)) and idle/ideal (Megatron's (p-1)/(v·m))."""
    from planner.api.pipeline import pipeline_bubble
    from planner.render import emit
    from planner.render.pipeline import bubble_tables

    options = BubbleOptions(stages=stages, microbatches=microbatches, schedule=schedule.value, chunks=chunks)
    emit(pipeline_bubble(options).to_dict(), fmt, bubble_tables)


@app.command("schedule")
def schedule_chart(
    stages: StagesOption,
    microbatches: Annotated[int, typer.Option("--microbatches", "-m", help="micro-batches M per minibatch")],
    schedule: ScheduleOption = CHART_SCHEDULE,
    chunks: ChunksOption = None,
    forward: Annotated[
        float | None,
        quantity_option(
            "time", "one device's forward time per micro-batch", default=ScheduleOptions.forward_s[0]
        ),
    ] = None,
    backward: Annotated[
        float | None,
        quantity_option(
            "time", "one device's backward time per micro-batch", default=ScheduleOptions.backward_s[0]
        ),
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
    from planner.api.pipeline import pipeline_schedule
    from planner.cli.common import bad_option
    from planner.fileout import check_target, write_text
    from planner.render import emit
    from planner.render.gantt import to_svg
    from planner.render.pipeline import schedule_renderables

    if width is not None and not MIN_CHART_WIDTH <= width <= MAX_CHART_WIDTH:
        raise bad_option("--width", f"expected {MIN_CHART_WIDTH} to {MAX_CHART_WIDTH:,} columns", width)
    if stage_times is not None:
        if forward is not None or backward is not None:
            raise bad_option(
                "--stage-times", "either --stage-times or --forward/--backward, not both", show_got=False
            )
        forward_s, backward_s = _parse_stage_times(stage_times)
        v = chunks or (DEFAULT_INTERLEAVED_CHUNKS if schedule is ScheduleName.interleaved else 1)
        if len(forward_s) not in (stages, stages * v):  # one per device or virtual stage, not one for all
            counts = f"{stages}" + (f" (per device) or {stages * v} (per virtual stage)" if v > 1 else "")
            raise bad_option("--stage-times", f"expected {counts} items", len(forward_s))
    else:
        forward_s = ScheduleOptions.forward_s if forward is None else (forward,)
        backward_s = ScheduleOptions.backward_s if backward is None else (backward,)
    options = ScheduleOptions(stages, microbatches, schedule.value, chunks, forward_s, backward_s)
    if svg is not None:
        check_target(svg, setting="--svg", force=force)
    result = pipeline_schedule(options)
    payload = {**result.to_dict(), "svg_path": None}
    if svg is not None:
        v = result.timeline.chunks
        title = f"{schedule.value}: K = {stages}, M = {microbatches}" + (f", v = {v}" if v > 1 else "")
        write_text(svg, to_svg(result.timeline, title=title), setting="--svg", force=force)
        payload["svg_path"] = str(svg)
    emit(payload, fmt, lambda p: schedule_renderables(p, result.timeline, width))


def _parse_stage_times(text: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """'1ms/2ms,1.2ms/2.4ms' -> forward and backward times, seconds."""
    from planner.cli.common import bad_option
    from planner.units import UnitError, parse_quantity

    forward, backward = [], []
    for item in text.split(","):
        parts = item.split("/")
        if len(parts) != 2:
            raise bad_option(
                "--stage-times",
                "FORWARD/BACKWARD per stage, comma-separated, e.g. 1ms/2ms,1.2ms/2.4ms",
                item.strip(),
            )
        try:
            forward.append(parse_quantity(parts[0].strip(), "time"))
            backward.append(parse_quantity(parts[1].strip(), "time"))
        except UnitError as exc:
            raise bad_option("--stage-times", str(exc), show_got=False) from None
    return tuple(forward), tuple(backward)


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
