"""Hardware catalog: list devices and clusters, show one by name or file."""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.catalog import HardwareShowOptions
from planner.cli.common import FormatOption, ServersOption
from planner.render import OutputFormat

DEFAULTS = HardwareShowOptions  # every default is the API's, defined once (planner.api.catalog)
app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_hardware(fmt: FormatOption = OutputFormat.table) -> None:
    """List the devices and clusters in the catalog."""
    from planner.api.catalog import hardware_list
    from planner.render import emit
    from planner.render.catalog import hardware_list_tables

    emit(hardware_list().to_dict(), fmt, hardware_list_tables)


@app.command("show")
def show_hardware(
    name: Annotated[str, typer.Argument(help="catalog name or alias, or a YAML file")],
    servers: ServersOption = DEFAULTS.servers,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one device or cluster with every figure in SI-readable units."""
    from planner.api.catalog import hardware_show
    from planner.render import emit
    from planner.render.catalog import hardware_tables

    emit(hardware_show(name, HardwareShowOptions(servers=servers)).to_dict(), fmt, hardware_tables)
