"""The calibration's table and progress bar (planner.api.calibrate)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from planner.render import make_table
from planner.units import format_quantity as fq

STEP_LABELS = {
    "matmul-fp32": "matmul fp32",
    "matmul-fp64": "matmul fp64",
    "copy": "memory copy",
    "loopback": "loopback TCP",
}


def calibration_tables(payload: dict[str, Any], how: dict[str, str]) -> list[Any]:
    """Each measured figure with how it was measured; where the spec was written."""
    c = payload["calibration"]
    rows = [
        *(
            (f"matmul {dtype}", fq(rate, "compute"), how["matmul"])
            for dtype, rate in c["matmul_flop_per_s"].items()
        ),
        ("memory copy", fq(c["copy_bandwidth_bytes_per_s"], "bandwidth"), how["copy"]),
        ("loopback bandwidth", fq(c["loopback_bandwidth_bytes_per_s"], "bandwidth"), how["bandwidth"]),
        ("loopback latency", fq(c["loopback_latency_s"], "time"), how["latency"]),
        ("memory", fq(c["memory_bytes"], "memory"), how["memory"]),
    ]
    title = f"Measured on {c['date']}: {c['cpu']}, {c['cpus']} CPUs"
    out: list[Any] = [make_table(title, ["figure", "value", "how"], rows, right=["value"])]
    if payload["output_path"] is not None:
        out.append(f"wrote {payload['spec']} spec to {payload['output_path']} (planner hardware show FILE)")
    return out


@contextmanager
def progress_bar(
    totals: dict[str, int], labels: dict[str, str] = STEP_LABELS
) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr, one row per step (its repetitions, shown under its label); yields the
    tick to call per step. `planner profile` shows its timed steps with it too."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<13}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks = {step: bar.add_task(labels[step], total=count) for step, count in totals.items()}
        yield lambda step: bar.advance(tasks[step])


def print_to_stderr(renderables: list[Any]) -> None:
    """Tables on stderr (stdout then holds the YAML alone)."""
    from rich.console import Console

    console = Console(stderr=True)
    for renderable in renderables:
        console.print(renderable)
