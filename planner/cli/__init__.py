"""The `planner` command: a thin typer app; each area registers one sub-app module here.

Modules listed in SUBAPPS must import only typer and the standard library at module level, so that
`planner --help` stays fast; each command imports what it needs when it runs.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import typer

from planner.errors import PlannerError, SettingError

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
}

app = typer.Typer(
    name="planner",
    help="Analytical performance models and exact planners for distributed deep learning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

for _name, _module in SUBAPPS.items():
    _sub = importlib.import_module(_module)
    app.add_typer(_sub.app, name=_name, help=_sub.__doc__.strip().splitlines()[0])
for _name, _module in COMMANDS.items():
    _cmd = importlib.import_module(_module)
    app.command(name=_name, help=_cmd.__doc__.strip())(_cmd.command)


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
        if isinstance(exc, SettingError):  # the API names a setting; the user typed its option
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


def _click_errors() -> tuple[type[Exception], type[Exception]]:
    """click's UsageError and ClickException, found through typer.BadParameter (typer may vendor click)."""
    bases = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return bases["UsageError"], bases["ClickException"]


def _one_line(text: str) -> str:
    return " ".join(text.split())
