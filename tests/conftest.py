"""Shared test helpers: run the real `planner` entry point in-process, and locate ../shared."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Call planner.cli.main with argv; return exit code, stdout and stderr."""
    from planner.cli import main

    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["planner", *args])
        monkeypatch.setenv("COLUMNS", "200")
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the repo (design notes, reference figures, PipeDream profiles), or skip."""
    if not (SHARED / "profiles" / "pipedream").is_dir():
        pytest.skip(f"../shared is absent ({SHARED}): cases that need PipeDream's profiles are skipped")
    return SHARED
