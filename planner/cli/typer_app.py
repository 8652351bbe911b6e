"""The typer app behind `planner`: the lazy top-level group, running it, and click's errors as one line.

Imported by planner.cli.main for every command line except the bare top-level help, which
planner.cli.top_help draws without typer (typer and rich's markdown take most of start-up).
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import typer
import typer.core

from planner.cli import COMMANDS, DESCRIPTION, SUBAPPS, first_paragraph, module_doc, option_for
from planner.errors import InfeasibleError, PlannerError, PlannerWarning, SettingError, one_line


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


@app.callback(help=DESCRIPTION)
def planner() -> None:
    pass


def run() -> None:
    """Run the app; user errors print one line to stderr and exit with their code.

    Command-line mistakes (an unknown option, a value click cannot convert) are one line too: the app
    runs with standalone_mode=False, so click raises them here instead of drawing a usage box. SIGTERM
    and SIGHUP end the run as SystemExit(128 + signal), so `finally` blocks remove temporary files.
    """
    usage_error, click_error = _click_errors()
    try:
        with _signals_as_exit(), _warnings_as_lines():
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
def _warnings_as_lines() -> Iterator[None]:
    """Within the block, each PlannerWarning the lower layers record prints once, as one line on stderr
    ('warning: ...'); other warnings go to Python's usual handler."""
    usual = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, PlannerWarning):
            sys.stderr.write(f"warning: {one_line(str(message))}\n")
        else:
            usual(message, category, *args, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("default", PlannerWarning)  # once per message and place
        warnings.showwarning = show
        yield


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


def _click_errors() -> tuple[Any, Any]:
    """click's UsageError and ClickException, found through typer.BadParameter (typer may vendor click,
    so their types are known only at run time)."""
    bases = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return bases["UsageError"], bases["ClickException"]


def _one_line(text: str) -> str:
    return " ".join(text.split())
