"""The `planner` command: a thin typer app; each area registers one module here.

A command's module (and the API module it reads its defaults from) is imported only when that command runs
or shows its own help: `planner --help` lists every command from the registry below, with each module's
docstring read as text, so it imports none of them.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import re
import signal
import sys
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import typer
import typer.core

from planner.errors import InfeasibleError, PlannerError, SettingError

# name -> module defining `app` (a typer.Typer), registered as `planner NAME ...`
SUBAPPS = {
    "hardware": "planner.cli.hardware",
    "models": "planner.cli.models",
    "edge": "planner.cli.edge",
    "fl": "planner.cli.fl",
    "pipeline": "planner.cli.pipeline",
    "specdec": "planner.cli.specdec",
    "export": "planner.cli.export",
}
# name -> module defining `command` (a function), registered as `planner NAME`
COMMANDS = {
    "plan": "planner.cli.plan",
    "validate": "planner.cli.validate",
    "comm": "planner.cli.comm",
    "dp": "planner.cli.dp",
    "lr": "planner.cli.lr",
    "llm-parallel": "planner.cli.llm_parallel",
    "calibrate": "planner.cli.calibrate",
    "schema": "planner.cli.schema",
    "profile": "planner.cli.profile",
    "verify": "planner.cli.verify",
}
_DOCSTRING = re.compile(r'\A(?:\s*#.*\n)*\s*[rb]?"""(.*?)"""', re.DOTALL)


@cache
def module_doc(module: str) -> str:
    """A module's docstring, read from its source without importing it."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    match = _DOCSTRING.match(Path(spec.origin).read_text(encoding="utf-8"))
    return match.group(1).strip() if match else ""


def first_paragraph(text: str) -> str:
    """The text up to its first blank line, on one line."""
    return " ".join(text.split("\n\n", 1)[0].split())


def _load(name: str) -> Any:
    """The click command (or group) of `name`, its module imported."""
    if name in SUBAPPS:
        group = typer.main.get_group(importlib.import_module(SUBAPPS[name]).app)
        group.name, group.help = name, first_paragraph(module_doc(SUBAPPS[name]))
        return group
    single = typer.Typer(rich_markup_mode="rich")
    single.command(name=name, help=module_doc(COMMANDS[name]))(
        importlib.import_module(COMMANDS[name]).command
    )
    command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(typer.core.TyperGroup):
    """The top-level group: commands are loaded when asked for; while the group's own help is drawn, a
    placeholder with the command's help stands in, so listing them imports nothing."""

    listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *SUBAPPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in SUBAPPS and cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            if self.listing:
                module = SUBAPPS.get(cmd_name) or COMMANDS[cmd_name]
                return typer.core.TyperCommand(cmd_name, help=first_paragraph(module_doc(module)))
            self.commands[cmd_name] = _load(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    name="planner",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def planner() -> None:
    """Analytical performance models and exact planners for distributed deep learning."""


def main() -> None:
    """Entry point: run the app; user errors print one line to stderr and exit with their code.

    Command-line mistakes (an unknown option, a value click cannot convert) are one line too: the app
    runs with standalone_mode=False, so click raises them here instead of drawing a usage box. SIGTERM
    and SIGHUP end the run as SystemExit(128 + signal), so `finally` blocks remove temporary files.
    """
    usage_error, click_error = _click_errors()
    try:
        with _signals_as_exit():
            code = app(prog_name="planner", standalone_mode=False)
    except PlannerError as exc:
        if isinstance(exc, (SettingError, InfeasibleError)):  # the API names settings; the user typed options
            exc = exc.for_options(option_for)
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except usage_error as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `planner` or `planner AREA` alone: help printed
            sys.exit(exc.exit_code)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        sys.stderr.write(f"error: {_one_line(exc.format_message())}{hint}\n")
        sys.exit(exc.exit_code)
    except click_error as exc:
        sys.stderr.write(f"error: {_one_line(exc.format_message())}\n")
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    if isinstance(code, int) and not isinstance(code, bool) and code:  # typer.Exit(code) from a command
        sys.exit(code)


@contextlib.contextmanager
def _signals_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise SystemExit(128 + signal); a second one is ignored so
    that the clean-up the first started completes. The previous handlers come back after the block."""

    def leave(signum: int, frame: object) -> None:
        for number in previous:
            signal.signal(number, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():  # handlers can only be set there
        for number in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if number is not None:
                previous[number] = signal.signal(number, leave)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def option_for(setting: str) -> str:
    """The command-line option of an API setting: every command names its options after the settings."""
    return "--" + setting.replace("_", "-")


def _click_errors() -> tuple[Any, Any]:
    """click's UsageError and ClickException, found through typer.BadParameter (typer may vendor click,
    so their types are known only at run time)."""
    bases = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return bases["UsageError"], bases["ClickException"]


def _one_line(text: str) -> str:
    return " ".join(text.split())
