"""Pipeline parallelism: bubbles and schedules as pictures (GPipe, 1F1B, interleaved).

Each command is one function below, registered on `app`; shared options and their checks are the
module-level aliases and `_check_*` helpers, so a new command (e.g. `partition`) is one more function.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from planner.api.pipedream_sync import StalenessOptions
from planner.api.pipeline import BubbleOptions, ScheduleOptions, chunks_per_device
from planner.api.pipeline_balance import BalanceOptions
from planner.cli.common import FormatOption, ServersOption, force_help, quantity_option
from planner.cli.partition_options import (
    DEFAULTS,
    ActivationCompression,
    Batch,
    CostModel,
    FewerMachines,
    Levels,
    Memory,
    PartitionCluster,
    PartitionModel,
    Straight,
)
from planner.cli.plot_options import ForceOption, PlotFileOption, PlotOption
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
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Pipeline bubble: idle/total (GPipe's (K-1)/(M+K-1)) and idle/ideal (Megatron's (p-1)/(v·m))."""
    from planner.api.pipeline import pipeline_bubble
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.figures_sweeps import bubble_figure
    from planner.render.pipeline import bubble_tables

    request = plot_request(plot, plot_file, force)
    options = BubbleOptions(stages=stages, microbatches=microbatches, schedule=schedule.value, chunks=chunks)
    emit_with_plot(pipeline_bubble(options).to_dict(), fmt, bubble_tables, bubble_figure, request)


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
    rematerialise: Annotated[
        bool | None,
        typer.Option(
            "--rematerialise/--no-rematerialise",
            help="GPipe recomputes each forward in the backward (default: on for --schedule gpipe)",
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
        v = chunks_per_device(schedule.value, chunks)
        if len(forward_s) not in (stages, stages * v):  # one per device or virtual stage, not one for all
            counts = f"{stages}" + (f" (per device) or {stages * v} (per virtual stage)" if v > 1 else "")
            raise bad_option("--stage-times", f"expected {counts} items", len(forward_s))
    else:
        forward_s = ScheduleOptions.forward_s if forward is None else (forward,)
        backward_s = ScheduleOptions.backward_s if backward is None else (backward,)
    options = ScheduleOptions(
        stages, microbatches, schedule.value, chunks, forward_s, backward_s, rematerialise
    )
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


@app.command("partition")
def partition(
    model: PartitionModel,
    cluster: PartitionCluster = None,
    servers: ServersOption = DEFAULTS.servers,
    levels: Levels = None,
    cost_model: CostModel = DEFAULTS.cost_model,
    straight: Straight = DEFAULTS.straight,
    memory: Memory = DEFAULTS.memory,
    activation_compression: ActivationCompression = DEFAULTS.activation_compression,
    use_fewer_machines: FewerMachines = DEFAULTS.use_fewer_machines,
    batch: Batch = DEFAULTS.batch,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Split a model into pipeline stages (PipeDream's optimizer): stages, replicas, time, speedup."""
    given = dict(locals())  # the parameters, before the imports below add names
    from planner.api.partition import PartitionOptions, pipeline_partition
    from planner.cli.partition_options import partition_options
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.figures_systems import partition_figure
    from planner.render.partition import partition_tables

    request = plot_request(plot, plot_file, force)
    options = partition_options(PartitionOptions, given, "model", "cluster", "plot", "plot_file", "force")
    result = pipeline_partition(model, cluster, options).to_dict()
    emit_with_plot(result, fmt, partition_tables, partition_figure, request)


class BalanceObjective(str, Enum):
    time = "time"
    memory = "memory"


BALANCE_BY = BalanceObjective(BalanceOptions.objective)


@app.command("balance")
def balance_command(
    model: Annotated[
        str, typer.Argument(help="catalog CNN or profile, or amoebanet-d-L-D (L normal cells, filters D)")
    ],
    stages: StagesOption,
    by: Annotated[
        BalanceObjective,
        typer.Option("--by", help="time (forward + backward + recompute) or memory (parameters)"),
    ] = BALANCE_BY,
    microbatches: Annotated[
        int, typer.Option("--microbatches", "-m", help="micro-batches M per minibatch")
    ] = BalanceOptions.microbatches,
    batch: Annotated[int, typer.Option(help="samples per minibatch")] = BalanceOptions.batch,
    device: Annotated[str, typer.Option(help="device whose roofline times the layers")] = (
        BalanceOptions.device
    ),
    dtype: Annotated[str, typer.Option(help="fp32, fp16 or bf16")] = BalanceOptions.dtype,
    rematerialise: Annotated[
        bool,
        typer.Option("--rematerialise/--no-rematerialise", help="GPipe recomputes each forward"),
    ] = BalanceOptions.rematerialise,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """GPipe's balance: the exact min-max split of a model's layers into K stages (by time or memory)."""
    from planner.api.pipeline_balance import pipeline_balance
    from planner.render import emit
    from planner.render.pipeline import balance_tables

    options = BalanceOptions(stages, by.value, microbatches, batch, device, dtype, rematerialise)
    emit(pipeline_balance(model, options).to_dict(), fmt, balance_tables)


@app.command("staleness")
def staleness(
    stages: StagesOption,
    vertical_sync: Annotated[
        bool,
        typer.Option(
            "--vertical-sync/--weight-stashing",
            help="every stage uses the input stage's weight version (else each its latest, stashed)",
        ),
    ] = StalenessOptions.vertical_sync,
    weights: Annotated[
        float | None,
        quantity_option("memory", "the model's weights, split evenly over the stages (stashed bytes)"),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """PipeDream's weight staleness per stage and the versions it stashes (weight stashing, vertical sync)."""
    from planner.api.pipedream_sync import pipedream_staleness
    from planner.render import emit
    from planner.render.pipeline import staleness_tables

    options = StalenessOptions(stages, vertical_sync, weights)
    emit(pipedream_staleness(options).to_dict(), fmt, staleness_tables)
