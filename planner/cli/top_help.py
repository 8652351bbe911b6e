"""`planner` and `planner --help` alone: the command list, drawn with rich as typer draws it, without typer.

Importing typer (and the rich markdown and traceback modules its help formatter loads) is most of the
start-up of `planner --help` (issue 17: 0.19 s CPU; bench/cli_startup.py); the list itself only needs
the registry in planner.cli and each command module's docstring read as text. The layout follows typer's
rich help (usage, description, an Options panel and a Commands panel, each a rounded dim box); the
completion options are typer's, which handles them when given.
"""

from __future__ import annotations

import os

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from planner.cli import COMMANDS, DESCRIPTION, SUBAPPS, first_paragraph, module_doc

OPTIONS = (
    ("--install-completion", "Install completion for the current shell."),
    ("--show-completion", "Show completion for the current shell, to copy it or customize the installation."),
    ("--help", "Show this message and exit."),
)


def print_top_help() -> None:
    width = os.environ.get("TERMINAL_WIDTH")  # typer's override of the terminal width
    console = Console(width=int(width) if width and width.isdigit() else None, highlight=False)
    console.print(Padding(Text("Usage: planner [OPTIONS] COMMAND [ARGS]...", style="bold"), 1))
    console.print(Padding(Text(DESCRIPTION), (0, 1, 1, 1)))
    console.print(_panel("Options", OPTIONS))
    rows = [(name, first_paragraph(module_doc(module))) for name, module in {**COMMANDS, **SUBAPPS}.items()]
    console.print(_panel("Commands", rows))


def _panel(title: str, rows: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> Panel:
    table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1), expand=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(ratio=1)
    for name, text in rows:
        table.add_row(name, text)
    return Panel(table, box=box.ROUNDED, border_style="dim", title=title, title_align="left")
