"""Run the reference cases and print predicted vs published with % error (exit 1 on any fail)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.api.validate import ValidateOptions
from planner.cli.common import FormatOption
from planner.render import OutputFormat

DEFAULTS = ValidateOptions  # every default is the API's, defined once (planner.api.validate)


def command(
    only: Annotated[
        str | None, typer.Option(help="run only cases whose name matches this glob")
    ] = DEFAULTS.only,
    data: Annotated[
        Path | None,
        typer.Option(help="folder with profiles/ and reference/ (default: $PLANNER_DATA or ../shared)"),
    ] = DEFAULTS.data,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Run the reference cases and print predicted vs published with % error (exit 1 on any fail)."""
    from planner.api.validate import validate
    from planner.render import emit
    from planner.render.validate import validation_tables

    result = validate(ValidateOptions(only=only, data=data))
    emit(result.to_dict(), fmt, validation_tables)
    if result.failed:
        raise typer.Exit(1)
