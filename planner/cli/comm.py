"""Compare all-reduce algorithms for a message or a model's gradient on a cluster: time, bytes per device,
busiest link and how far each is from the lower bound, best first; optionally Deep Gradient Compression.

The message is what each device contributes (G): --size, or a model's gradient (parameters × --dtype
bytes). Costs follow planner.cost.collectives (alpha-beta, full duplex, one port per device) on the
cluster's levels; the bandwidth of a level is its link's bandwidth × efficiency, per GPU inside a server
and per server NIC between servers.
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.comm import CommOptions, algorithm_choices
from planner.cli.common import ClusterOption, FormatOption, ServersOption, options_from, quantity_option
from planner.cli.plot_options import ForceOption, PlotFileOption, PlotOption
from planner.render import OutputFormat

DEFAULTS = CommOptions  # every default is the API's, defined once (planner.api.comm)


def command(
    cluster: ClusterOption,
    size: Annotated[
        float | None,
        quantity_option("memory", "message per device, e.g. 100MB (1e8 bytes), 97.5 MiB", "--size"),
    ] = DEFAULTS.size,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="a catalog model, a file or a HF config.json: its gradient is the message"
        ),
    ] = DEFAULTS.model,
    servers: ServersOption = DEFAULTS.servers,
    devices: Annotated[
        int | None, typer.Option(help="devices taking part (default: all), innermost first")
    ] = DEFAULTS.devices,
    algorithm: Annotated[str, typer.Option(help=algorithm_choices())] = DEFAULTS.algorithm,
    ps_shards: Annotated[int, typer.Option(help="servers of ps-sharded")] = DEFAULTS.ps_shards,
    ps_dedicated: Annotated[
        bool, typer.Option("--ps-dedicated", help="PS servers outside the devices (2NG traffic, not 2(N-1)G)")
    ] = DEFAULTS.ps_dedicated,
    ps_backups: Annotated[int, typer.Option(help="backup replicas of each PS shard")] = DEFAULTS.ps_backups,
    dtype: Annotated[str, typer.Option(help="gradient dtype (bytes per parameter)")] = DEFAULTS.dtype,
    compress_density: Annotated[
        float | None,
        typer.Option(help="also cost Deep Gradient Compression keeping this fraction, e.g. 0.001"),
    ] = DEFAULTS.compress_density,
    compress_encoding: Annotated[
        str, typer.Option(help="DGC positions: delta16, coo32, coo64 or bitmap")
    ] = DEFAULTS.compress_encoding,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare all-reduce algorithms (parameter servers, ring, tree, ...: see --algorithm) on a cluster."""
    given = dict(locals())  # the parameters, before the imports below add names
    from planner.api.comm import allreduce_comparison
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.comm import comm_tables
    from planner.render.figures_systems import comm_figure

    request = plot_request(plot, plot_file, force)
    options = options_from(CommOptions, given, "cluster", "plot", "plot_file", "force")
    emit_with_plot(allreduce_comparison(cluster, options).to_dict(), fmt, comm_tables, comm_figure, request)
