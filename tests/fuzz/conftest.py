"""Fuzz session report: how many generated inputs ran through the CLI."""

from __future__ import annotations

import pytest

from .harness import COUNTER


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COUNTER["inputs"]:
        terminalreporter.write_line(f"fuzz: {COUNTER['inputs']:,} generated inputs ran through the CLI")
