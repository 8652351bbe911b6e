"""`planner --help` lists every command without importing any command's module (or the API modules they read
their defaults from): commands load when they run or show their own help."""

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
loaded = sorted(m for m in sys.modules if m.startswith(("planner.cli.", "planner.api", "numpy", "yaml")))
print("LOADED", " ".join(loaded))
"""


def _loaded(*argv: str) -> tuple[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    out, _, loaded = done.stdout.rpartition("LOADED")
    return out, loaded.split()


def test_the_top_level_help_lists_every_command_and_imports_none() -> None:
    from planner.cli import COMMANDS, SUBAPPS

    out, loaded = _loaded("--help")
    assert all(name in out for name in (*COMMANDS, *SUBAPPS))
    assert "Compare every strategy for a model on a cluster" in " ".join(out.split())
    assert loaded == []


def test_a_command_loads_only_its_own_modules() -> None:
    _, loaded = _loaded("lr", "--batch", "8192", "--format", "json")
    assert "planner.cli.lr" in loaded and "planner.api.lr" in loaded
    assert not [m for m in loaded if m.startswith(("planner.cli.plan", "planner.api.fl", "planner.cli.edge"))]
