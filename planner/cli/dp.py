"""Plan data-parallel training: iteration breakdown, best all-reduce, memory, scaling over N, cost.

MODEL: a CNN architecture (FLOP per layer, timed by the roofline) or a profile with measured times.

A PipeDream graph.txt does not state its minibatch: give --profile-batch, or --batch is taken to be it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.dp import DPOptions
from planner.cli import training_options as training
from planner.cli.common import (
    ClusterOption,
    DevicesOption,
    FormatOption,
    ServersOption,
    options_from,
    quantity_option,
)
from planner.cli.plot_options import ForceOption, PlotFileOption, PlotOption
from planner.render import OutputFormat

DEFAULTS = DPOptions  # every default is the API's, defined once (planner.api.dp, planner.api.training)


def command(
    model: Annotated[str, typer.Argument(help="catalog model (CNN architecture or profile) or a file")],
    cluster: ClusterOption,
    servers: ServersOption = DEFAULTS.servers,
    devices: DevicesOption = DEFAULTS.devices,
    batch: training.Batch = DEFAULTS.batch,
    global_batch: training.GlobalBatch = DEFAULTS.global_batch,
    profile_batch: training.ProfileBatch = DEFAULTS.profile_batch,
    dtype: training.Dtype = DEFAULTS.dtype,
    optimizer: training.Optimizer = DEFAULTS.optimizer,
    algorithm: Annotated[str, typer.Option(help="all-reduce algorithm, or best")] = DEFAULTS.algorithm,
    overlap: Annotated[
        bool, typer.Option("--overlap/--no-overlap", help="overlap gradient all-reduce with backward")
    ] = DEFAULTS.overlap,
    bucket: Annotated[
        float | None,
        quantity_option("memory", "DDP gradient bucket size (default: DDP's bucket_cap_mb, 25 MiB)"),
    ] = DEFAULTS.bucket,
    epochs: Annotated[
        float | None, typer.Option(help="report the time and cost of this many epochs")
    ] = DEFAULTS.epochs,
    epoch_samples: Annotated[
        int, typer.Option(help="samples per epoch (default: ImageNet-1k train)")
    ] = DEFAULTS.epoch_samples,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Plan data-parallel training: iteration breakdown, best all-reduce, memory, scaling over N, cost."""
    given = dict(locals())  # the parameters, before the imports below add names
    from planner.api.dp import data_parallel
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.dp import dp_tables
    from planner.render.figures_training import dp_figure

    request = plot_request(plot, plot_file, force)
    options = options_from(DPOptions, given, "model", "cluster", "plot", "plot_file", "force")
    emit_with_plot(data_parallel(model, cluster, options).to_dict(), fmt, dp_tables, dp_figure, request)
