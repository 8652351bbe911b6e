"""Options shared by every command."""

from __future__ import annotations

from typing import Annotated

import typer

from planner.render import OutputFormat

FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people; json or yaml (stable keys) for machines."),
]
