"""A private scratch folder for one run of an external solver (PuLP's CBC writes its model, warm start,
solution and log as files), removed on any exit: a return, an error, Ctrl-C or SIGTERM (the CLI turns
SIGTERM into SystemExit, so this `finally` runs).

PuLP would otherwise put `*-pulp.mps/.mst/.sol` straight into $TMPDIR and leave them behind when the run
is interrupted. An interrupted run's solver child (still running, with its files in the folder) is
killed before the folder goes, so it cannot write its solution into a folder that was just removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def scratch_folder(label: str) -> Iterator[Path]:
    """A new folder private to this run (mode 0700, under $TMPDIR), removed with its files on exit."""
    folder = tempfile.mkdtemp(prefix=f"planner-{label}-")
    before = set(_children())
    try:
        yield Path(folder)
    except BaseException:
        _kill_children_using(folder, set(_children()) - before)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def use_folder(solver: Any, folder: Path) -> Any:
    """The PuLP command-line solver `solver`, set to write its files into `folder`; returns it."""
    solver.tmpDir = str(folder)
    return solver


def _kill_children_using(folder: str, pids: set[int]) -> None:
    """SIGKILL (and reap) those of `pids`, children started in the block, whose command line names
    `folder`: the solver that an interrupt left running. Linux only (/proc); elsewhere nothing is done."""
    for pid in pids:
        if os.fsencode(folder) in _command_line(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def _command_line(pid: int) -> bytes:
    """The child's command line; empty for a moment right after exec (the kernel has not set it up yet,
    though Popen has returned), hence the short wait."""
    for _ in range(50):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            return b""
        if cmdline:
            return cmdline
        time.sleep(0.01)
    return b""


def _children() -> list[int]:
    pids: list[int] = []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children", encoding="ascii") as handle:
                pids.extend(int(pid) for pid in handle.read().split())
        except OSError:
            continue
    return pids
