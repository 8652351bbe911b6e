"""How a planner process behaves around its work, whatever runs it: termination signals end it as an
exit (so `finally` blocks remove temporary files) and the warnings the lower layers record print as one
line each."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

from planner.errors import PlannerWarning, one_line


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Within the block, each PlannerWarning the lower layers record prints once, as one line on stderr
    ('warning: ...'); other warnings go to Python's usual handler."""
    usual = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, PlannerWarning):
            sys.stderr.write(f"warning: {one_line(str(message))}\n")
        else:
            usual(message, category, *args, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("default", PlannerWarning)  # once per message and place
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def signals_as_exit() -> Iterator[None]:
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
