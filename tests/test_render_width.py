"""Tables fit an 80-column terminal: secondary columns are left out (and named) rather than the lines
wrapping; a wide terminal shows every column (issue 14)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

COMMANDS = [
    ["plan"],
    ["dp", "alexnet", "--cluster", "pipedream-cluster-a"],
    ["comm", "--size", "100MB", "--cluster", "pipedream-cluster-a"],
    ["llm-parallel", "gpt2", "--cluster", "dgx-a100", "--global-batch", "16"],
    ["pipeline", "partition", "vgg16", "--cluster", "pipedream-cluster-a"],
    ["hardware", "list"],
]


def _run(argv: list[str], columns: int, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> str:
    from planner.cli import main

    monkeypatch.setattr(sys, "argv", ["planner", *argv])
    monkeypatch.setenv("COLUMNS", str(columns))
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None)
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_line_fits_80_columns(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    out = _run(argv, 80, monkeypatch, capsys)
    assert max(len(line) for line in out.splitlines()) <= 80


def test_plan_names_the_columns_it_leaves_out_and_a_wide_terminal_shows_them(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    narrow = _run(["plan"], 80, monkeypatch, capsys)
    wide = _run(["plan"], 200, monkeypatch, capsys)
    assert "left out to fit 80 columns: #" in " ".join(narrow.split())
    assert "mem/device" in wide and "left out" not in wide
    for kept in ("strategy", "iteration", "samples/s", "speedup"):
        assert kept in narrow
