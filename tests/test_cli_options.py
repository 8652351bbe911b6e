"""The shared quantity option: a number with a unit parsed into SI, its default shown in its unit, a bad
unit refused with one line naming the option."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.testing import CliRunner

from planner.cli.common import quantity_option
from planner.units import format_quantity

app = typer.Typer()


@app.command()
def size_command(
    size: Annotated[float, quantity_option("memory", "a message size", "--size", default=100e6)] = 100e6,
) -> None:
    print(repr(size))


def test_text_is_parsed_into_si_and_the_default_is_si_already() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--size", "2 GiB"]).stdout.strip() == repr(2.0 * 2**30)
    assert runner.invoke(app, []).stdout.strip() == repr(100e6)
    assert f"[default: ({format_quantity(100e6, 'memory')})]" in runner.invoke(app, ["--help"]).stdout


def test_a_bad_unit_names_the_option() -> None:
    result = CliRunner().invoke(app, ["--size", "2 XB"])
    assert result.exit_code == 2 and "--size" in result.output and "unknown memory unit" in result.output
