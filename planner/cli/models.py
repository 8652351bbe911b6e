"""Model catalog: list models, show a model's layers and totals (catalog name, YAML, graph.txt or a
Hugging Face config.json)."""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.catalog import ModelShowOptions
from planner.cli.common import FormatOption
from planner.render import OutputFormat

DEFAULTS = ModelShowOptions  # every default is the API's, defined once (planner.api.catalog)
app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_models(fmt: FormatOption = OutputFormat.table) -> None:
    """List the models in the catalog: CNN architectures, measured profiles and LLM configs."""
    from planner.api.catalog import models_list
    from planner.render import emit
    from planner.render.catalog import models_list_tables

    emit(models_list().to_dict(), fmt, models_list_tables)


@app.command("show")
def show_model(
    name: Annotated[
        str,
        typer.Argument(help="catalog name, a YAML file, a PipeDream graph.txt or a Hugging Face config.json"),
    ],
    batch_size: Annotated[
        int, typer.Option(help="samples per minibatch for a CNN architecture")
    ] = DEFAULTS.batch_size,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show a model: per-layer table and totals (an LLM: its configuration and parameter breakdown)."""
    from planner.api.catalog import model_show
    from planner.render import emit
    from planner.render.catalog import model_tables

    emit(model_show(name, ModelShowOptions(batch_size=batch_size)).to_dict(), fmt, model_tables)
