"""Options shared by every command: the output format, and quantity options (a number with a unit, e.g.
`--size 100MB`), parsed into SI here; the ranges are checked by the API's options (planner.limits), so a
bad value is refused the same way from Python and from the command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, overload

import typer

from planner.render import OutputFormat

FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people; json or yaml (stable keys) for machines."),
]
ClusterOption = Annotated[str, typer.Option("--cluster", help="catalog cluster name or a cluster YAML file")]
ServersOption = Annotated[int | None, typer.Option(help="override the outermost level's count")]
DevicesOption = Annotated[int | None, typer.Option(help="devices to use (default: the whole cluster)")]

Options = TypeVar("Options")


def options_from(kind: type[Options], values: Mapping[str, Any], *own: str) -> Options:
    """The API's options dataclass `kind` from a command's values named as its settings (the command
    passes `locals()`), less `fmt` and the command's `own` values (a plot, a file to write): any other
    value must be a setting, so a misnamed parameter fails instead of leaving a setting at its default."""
    return kind(**{name: value for name, value in values.items() if name not in ("fmt", *own)})


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


@overload
def parse_numbers(
    text: str, option: str, *, whole: Literal[True], empty: bool = False
) -> tuple[int, ...]: ...
@overload
def parse_numbers(
    text: str, option: str, *, whole: Literal[False] = False, empty: bool = False
) -> tuple[float, ...]: ...
def parse_numbers(text: str, option: str, *, whole: bool = False, empty: bool = False) -> tuple[float, ...]:
    """`0.8,0.1` -> (0.8, 0.1): comma-separated plain numbers in ASCII digits (planner.units.parse_number);
    `whole`: whole numbers in digits only, as ints; `empty`: no number at all is allowed. A bad list is a
    SpecError naming `option`."""
    from planner.units import parse_number

    parts = [part.strip() for part in text.split(",") if part.strip()]
    if whole:
        if not all(part.isascii() and part.isdigit() for part in parts):
            raise bad_option(option, "comma-separated whole numbers, e.g. 30,60,80", text)
        values: tuple[float, ...] = tuple(int(part) for part in parts)
    else:
        try:
            values = tuple(parse_number(part) for part in parts)
        except ValueError:
            raise bad_option(option, "comma-separated numbers, e.g. 0.8,0.1", text) from None
    if not values and not empty:
        raise bad_option(option, "at least one number", text)
    return values


WEIGHTS_HELP = "layer weights: fp8 / int8 (W8A8, at that peak) or int4 (weight-only W4A16)"  # serve, specdec
