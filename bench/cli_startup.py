"""Benchmark: start-up of the `planner` command (issue 17, item 4): median of 5 runs, wall and CPU seconds.

Targets on an idle machine: `planner --help` <= 0.15 s wall, the default `planner plan` (VGG-16 on
Cluster-A) <= 0.5 s. CPU (the child's user + system) is the figure to compare on a loaded machine, where
wall time waits for the cores. `python -X importtime -c "import planner.cli"` finds what the imports cost.

Run: python bench/cli_startup.py [--runs 5]
Uses the `planner` console script on PATH when present, else `python -m planner`. The package's bytecode
is compiled first, as an installed planner has it (pip writes it; an editable checkout writes it on first
run): where PYTHONDONTWRITEBYTECODE is set, as on this project's machines, every run would otherwise
compile planner's sources again (+0.1 s CPU per command).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run_timed import run_timed

COMMANDS = {
    "planner --help": ["--help"],
    "planner (no arguments)": [],
    "planner plan --help": ["plan", "--help"],
    "planner hardware list": ["hardware", "list"],
    "planner plan": ["plan"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import compileall

    import planner

    compileall.compile_dir(Path(planner.__file__).parent, quiet=1)
    script = shutil.which("planner")
    base = [script] if script else [sys.executable, "-m", "planner"]
    for label, extra in COMMANDS.items():
        t = run_timed([*base, *extra], args.runs)
        print(
            f"{label:<24} wall {t.wall_s * 1e3:7.1f} ms  cpu {t.cpu_s * 1e3:7.1f} ms  "
            f"peak {t.peak_rss_mib:5.0f} MiB  exit {t.exit_code}  (median of {args.runs}, {base[0]})"
        )


if __name__ == "__main__":
    main()
