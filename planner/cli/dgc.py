"""Deep Gradient Compression over a training run: the warm-up schedule of sparsities, bytes per epoch, the
break-even bandwidth per epoch and over the run, momentum correction's memory (Lin et al., ICLR 2018)."""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.dgc_schedule import DGCOptions
from planner.cli.common import FormatOption, ServersOption
from planner.render import OutputFormat

DEFAULTS = DGCOptions


def command(
    model: Annotated[str, typer.Argument(help="catalog model or a file: its gradient is compressed")],
    cluster: Annotated[str, typer.Option(help="catalog cluster name or a cluster YAML file")],
    density: Annotated[float, typer.Option(help="final fraction sent, e.g. 0.001 (99.9 % sparse)")] = (
        DEFAULTS.density
    ),
    warmup_epochs: Annotated[
        int, typer.Option(help="epochs of exponentially rising sparsity (DGC Sec. 5: 4)")
    ] = DEFAULTS.warmup_epochs,
    epochs: Annotated[int, typer.Option(help="epochs of training")] = DEFAULTS.epochs,
    batch: Annotated[int, typer.Option(help="samples per worker per iteration")] = DEFAULTS.batch,
    epoch_samples: Annotated[
        int, typer.Option(help="samples per epoch (default: ImageNet-1k train)")
    ] = DEFAULTS.epoch_samples,
    devices: Annotated[int | None, typer.Option(help="workers (default: the whole cluster)")] = None,
    servers: ServersOption = None,
    encoding: Annotated[str, typer.Option(help="positions: delta16, coo32, coo64 or bitmap")] = (
        DEFAULTS.encoding
    ),
    dtype: Annotated[str, typer.Option(help="gradient dtype (bytes per value)")] = DEFAULTS.dtype,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    from planner.api.dgc_schedule import dgc_schedule
    from planner.render import emit
    from planner.render.dgc import dgc_tables

    options = DGCOptions(
        density, warmup_epochs, epochs, batch, epoch_samples, devices, servers, encoding, dtype
    )
    emit(dgc_schedule(model, cluster, options).to_dict(), fmt, dgc_tables)
