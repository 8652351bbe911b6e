"""Parameter servers: synchronous, with backup workers, or asynchronous (throughput, gradient staleness), and
what a lost worker or a lost server costs (Li et al. OSDI 2014; Chen et al. 2016; Dean et al. 2012)."""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.ps_async import PSOptions
from planner.cli.common import FormatOption, quantity_option
from planner.render import OutputFormat


def command(
    worker_times: Annotated[
        str, typer.Option(help="compute time per gradient of each worker, e.g. 100ms,100ms,120ms,300ms")
    ],
    gradient: Annotated[float, quantity_option("memory", "gradient bytes per push, e.g. 97.5MiB")],
    bandwidth: Annotated[float, quantity_option("bandwidth", "each worker's and server's link, e.g. 10Gbps")],
    servers: Annotated[int, typer.Option(help="parameter-server shards S")] = PSOptions.servers,
    backup_workers: Annotated[
        int, typer.Option(help="b: update after the first N - b gradients (Chen et al. 2016)")
    ] = PSOptions.backup_workers,
    replicas: Annotated[int, typer.Option(help="copies of each shard on other servers")] = PSOptions.replicas,
    batch: Annotated[int, typer.Option(help="samples per gradient")] = PSOptions.batch,
    lose_worker: Annotated[
        int | None, typer.Option(help="0-based index of the worker lost (default: the slowest)")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    from planner.api.ps_async import parameter_server_modes
    from planner.cli.common import bad_option
    from planner.render import emit
    from planner.render.ps import ps_tables
    from planner.units import UnitError, parse_quantity

    try:
        times = tuple(parse_quantity(item.strip(), "time") for item in worker_times.split(","))
    except UnitError as exc:
        raise bad_option("--worker-times", str(exc), show_got=False) from None
    options = PSOptions(times, gradient, bandwidth, servers, backup_workers, replicas, batch, lose_worker)
    emit(parameter_server_modes(options).to_dict(), fmt, ps_tables)
