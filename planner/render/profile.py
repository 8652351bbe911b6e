"""The layer table of `planner profile` and its progress bar (planner.api.profile)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from planner.render import fmt_bytes, fmt_count, fmt_time, make_table


def profile_tables(payload: dict[str, Any]) -> list[Any]:
    """Each layer's median times with their spread, parameters and output bytes; where it was written."""
    rows = [
        (
            layer["name"],
            fmt_time(layer["forward_s"]),
            f"± {fmt_time(layer['forward_spread_s'])}",
            fmt_time(layer["backward_s"]),
            f"± {fmt_time(layer['backward_spread_s'])}",
            fmt_count(layer["parameters"]),
            fmt_bytes(layer["output_bytes"]),
            layer["op"],
        )
        for layer in payload["layers"]
    ]
    title = (
        f"{payload['model']}: batch {payload['batch']}, {payload['dtype']} on {payload['device']}, "
        f"{payload['threads']} thread(s), median of {payload['repeats']} steps: "
        f"{fmt_time(payload['step_s'])} per forward + backward"
    )
    columns = ["layer", "forward", "spread", "backward", "b. spread", "parameters", "output", "op"]
    out: list[Any] = [
        make_table(
            title, columns, rows, right=columns[1:7], secondary=["op", "spread", "b. spread", "output"]
        )
    ]
    if payload["output_path"] is not None:
        out.append(f"wrote the profile to {payload['output_path']}")
    return out


@contextmanager
def progress_bar(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr over the timed steps; yields the tick to call after each."""
    from planner.render.calibrate import progress_bar as steps_bar

    with steps_bar({"steps": total}, {"steps": "profiling"}) as tick:
        yield lambda: tick("steps")
