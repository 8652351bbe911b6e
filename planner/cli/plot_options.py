"""--plot, --plot-file and --force, defined once for every command that draws its answer: the picture
is built from the payload the table shows (a planner.render figure builder), drawn in the terminal
after the tables, or written as SVG/PNG through planner.fileout."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from planner.cli.common import bad_option, force_help
from planner.render import OutputFormat

PlotOption = Annotated[
    bool,
    typer.Option("--plot", help="also draw the answer as a picture in the terminal (with --format table)"),
]
PlotFileOption = Annotated[
    Path | None,
    typer.Option(
        "--plot-file",
        metavar="FILE.svg|FILE.png",
        help="also write the picture to FILE, SVG or PNG by its suffix (needs the extra planner[plot])",
    ),
]
ForceOption = Annotated[bool, typer.Option("--force", help=force_help("--plot-file"))]


@dataclass(frozen=True)
class PlotRequest:
    terminal: bool
    file: Path | None
    force: bool

    @property
    def wanted(self) -> bool:
        return self.terminal or self.file is not None


def plot_request(plot: bool, plot_file: Path | None, force: bool) -> PlotRequest:
    """The pictures asked for, checked before any long work: --plot-file names an .svg or .png that may
    be written, and matplotlib is there."""
    if plot_file is not None:
        if plot_file.suffix.lower() not in (".svg", ".png"):
            raise bad_option("--plot-file", "a file name ending in .svg or .png", str(plot_file))
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise bad_option(
                "--plot-file", "matplotlib installed: pip install 'planner[plot]'", show_got=False
            )
        from planner.fileout import check_target

        check_target(plot_file, setting="--plot-file", force=force)
    return PlotRequest(plot, plot_file, force)


def emit_with_plot(
    payload: dict[str, Any],
    fmt: OutputFormat,
    tables: Callable[[dict[str, Any]], Iterable[Any]],
    figure: Callable[[dict[str, Any]], Any],
    request: PlotRequest,
) -> None:
    """Write the picture file (if asked), then print the payload as planner.render.emit does, the
    terminal picture (if asked) after its tables, or to stderr beside JSON or YAML (so that stdout
    stays machine-readable)."""
    from planner.render import emit

    if request.file is not None:
        from planner.fileout import write_bytes
        from planner.render.figure_file import figure_bytes

        data = figure_bytes(figure(payload), request.file.suffix.lower().lstrip("."), setting="--plot-file")
        write_bytes(request.file, data, setting="--plot-file", force=request.force)
    if not request.terminal:
        emit(payload, fmt, tables)
        return
    from rich.text import Text

    from planner.render.figure_text import figure_text

    if fmt is OutputFormat.table:
        emit(payload, fmt, lambda p: [*tables(p), Text(figure_text(figure(p)))])
        return
    emit(payload, fmt, tables)
    sys.stderr.write(figure_text(figure(payload)) + "\n")
