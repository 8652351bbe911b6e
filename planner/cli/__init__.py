"""The `planner` command: a thin typer app (planner.cli.typer_app); each area registers one module here.

A command's module (and the API module it reads its defaults from) is imported only when that command runs
or shows its own help: `planner --help` lists every command from the registry below, with each module's
docstring read as text, so it imports none of them, nor typer (planner.cli.top_help draws it).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

DESCRIPTION = "Analytical performance models and exact planners for distributed deep learning."
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
    "ps": "planner.cli.ps",
    "dgc": "planner.cli.dgc",
    "dp": "planner.cli.dp",
    "lr": "planner.cli.lr",
    "llm-parallel": "planner.cli.llm_parallel",
    "serve": "planner.cli.serve",
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


def main() -> None:
    """Entry point. `planner` and `planner --help` alone draw the command list without importing typer
    (planner.cli.top_help: start-up, issue 17); every other command line runs the typer app
    (planner.cli.typer_app.run: user errors print one line to stderr and exit with their code)."""
    if sys.argv[1:] in ([], ["--help"]):
        from planner.cli.top_help import print_top_help

        try:
            print_top_help()
        except BrokenPipeError:  # `planner --help | head`: as the typer app does
            sys.stderr.close()
            sys.exit(0)
        sys.exit(2 if len(sys.argv) == 1 else 0)  # typer's no_args_is_help exits 2
    if sys.argv[1:2] != ["calibrate"]:
        # numpy's OpenBLAS starts one spinning thread per core when imported: ~0.06 s of CPU on every
        # command's start-up, for arrays too small to use them. `calibrate` measures the BLAS with all its
        # threads; a value the user set is kept.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from planner.cli.typer_app import run

    run()


def __getattr__(name: str) -> Any:
    """`app` (the typer app) is imported on first use: the module itself stays free of typer."""
    if name == "app":
        from planner.cli.typer_app import app

        return app
    raise AttributeError(name)


def option_for(setting: str) -> str:
    """The command-line option of an API setting: every command names its options after the settings."""
    return "--" + setting.replace("_", "-")
