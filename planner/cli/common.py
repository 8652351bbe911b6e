"""Options shared by every command: the output format, and quantity options (a number with a unit, e.g.
`--size 100MB`), parsed into SI here; the ranges are checked by the API's options (planner.limits), so a
bad value is refused the same way from Python and from the command line."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from planner.render import OutputFormat

FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people; json or yaml (stable keys) for machines."),
]


def quantity_option(kind: str, help: str, *flags: str, default: float | None = None) -> Any:
    """A typer option whose text is a planner.units quantity of `kind` ("10 GB/s", "5ms"), given to the
    command in SI units; `default` (SI) is shown in the help in its unit."""
    from planner.units import format_quantity

    def parse(text: str | float) -> float:
        if isinstance(text, float):  # the default, already in SI
            return text
        from planner.units import UnitError, parse_quantity

        try:
            return parse_quantity(text, kind)
        except UnitError as exc:
            raise typer.BadParameter(str(exc)) from None

    shown: bool | str = format_quantity(default, kind) if default is not None else False
    return typer.Option(
        *flags,
        parser=parse,
        metavar={"memory": "SIZE"}.get(kind, kind.upper()),
        help=help,
        show_default=shown,
    )


def force_help(option: str) -> str:
    """The help of a --force that lets `option` replace a file (planner.fileout does the writing)."""
    return f"let {option} replace an existing file; a symbolic link is itself replaced, not written through"


def bad_option(option: str, expected: str, got: object = None, show_got: bool = True) -> Exception:
    """A SpecError (exit 2) for a command-line option: names the option and what was expected."""
    from planner.errors import SpecError

    return SpecError(option, option.lstrip("-"), expected, got, show_got=show_got)
