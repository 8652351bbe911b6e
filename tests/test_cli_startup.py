"""`planner --help` lists every command without importing any command's module (or the API modules they read
their defaults from), nor typer: commands load when they run or show their own help. Start-up times are
measured by bench/cli_startup.py, not asserted."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from planner.cli import main
sys.argv = ["planner", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
prefixes = ("planner.cli.", "planner.api", "numpy", "yaml", "typer", "rich.markdown", "rich.traceback")
loaded = sorted(m for m in sys.modules if m.startswith(prefixes))
print("LOADED", " ".join(loaded))
"""


def _loaded(*argv: str) -> tuple[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    out, _, loaded = done.stdout.rpartition("LOADED")
    return out, loaded.split()


def test_the_top_level_help_lists_every_command_and_imports_none() -> None:
    from planner.cli import COMMANDS, SUBAPPS

    for argv in (("--help",), ()):  # `planner` alone prints the same list
        out, loaded = _loaded(*argv)
        assert all(name in out for name in (*COMMANDS, *SUBAPPS))
        assert "Compare every strategy for a model on a cluster" in " ".join(out.split())
        assert "--install-completion" in out
        assert loaded == ["planner.cli.top_help"]  # no command module, no typer


def test_a_command_loads_only_its_own_modules() -> None:
    _, loaded = _loaded("lr", "--batch", "8192", "--format", "json")
    assert "planner.cli.lr" in loaded and "planner.api.lr" in loaded
    assert not [m for m in loaded if m.startswith(("planner.cli.plan", "planner.api.fl", "planner.cli.edge"))]
    assert "planner.cli.typer_app" in loaded and "planner.cli.top_help" not in loaded


def test_the_completion_options_still_reach_typer() -> None:
    out, loaded = _loaded("--show-completion", "bash")
    assert "planner.cli.typer_app" in loaded and "complete" in out.lower()
