"""The `planner` command: a thin typer app; each area registers one sub-app module here.

Modules listed in SUBAPPS must import only typer and the standard library at module level, so that
`planner --help` stays fast; each command imports what it needs when it runs.
"""

from __future__ import annotations

import importlib
import sys

import typer

from planner.errors import PlannerError

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
    """Entry point: run the app; user errors print one line to stderr and exit with their code."""
    try:
        app(prog_name="planner")
    except PlannerError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
