"""Run the reference cases and print predicted vs published with % error (exit 1 on any fail)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption
from planner.render import OutputFormat


def command(
    only: Annotated[str | None, typer.Option(help="run only cases whose name matches this glob")] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="folder with profiles/ and reference/ (default: $PLANNER_DATA or ../shared)"),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Run the reference cases and print predicted vs published with % error (exit 1 on any fail)."""
    import dataclasses

    from planner.errors import SpecError
    from planner.render import emit
    from planner.spec.yamlio import is_dir
    from planner.validate.runner import default_data_dir, run, summarize

    if data is not None and not is_dir(data):
        raise SpecError(
            "--data", "data", f"expected an existing folder, and {data} is not one", show_got=False
        )
    data_dir = data if data is not None else default_data_dir()
    results = run(data_dir, only)
    payload = {
        "data_dir": None if data_dir is None else str(data_dir),
        "cases": [dataclasses.asdict(r) for r in results],
        "summary": summarize(results),
    }
    emit(payload, fmt, _tables)
    if any(r.status == "fail" for r in results):
        raise typer.Exit(1)


def _tables(payload: dict[str, Any]) -> list[Any]:
    from planner.render import make_table

    colours = {"pass": "green", "fail": "red", "known-deviation": "yellow", "skipped": "dim"}

    def num(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:,.0f}" if value.is_integer() and abs(value) < 1e16 else f"{value:.6g}"

    rows = [
        (
            c["name"],
            num(c["predicted"]),
            {"at_least": "≥ ", "at_most": "≤ "}.get(c["comparison"], "") + num(c["published"]),
            "-" if c["error_pct"] is None else f"{c['error_pct']:+.2f}%",
            f"{c['tolerance_pct']:g}%",
            f"[{colours[c['status']]}]{c['status']}[/]",
            c["reason"],
        )
        for c in payload["cases"]
    ]
    table = make_table(
        f"Validation (data: {payload['data_dir'] or 'none'}; quantities and sources: --format json)",
        ["case", "predicted", "published", "error", "tolerance", "status", "reason"],
        rows,
        right=["predicted", "published", "error", "tolerance"],
        keep=["status"],
    )
    s = payload["summary"]
    counts = ", ".join(f"{n} {status}" for status, n in s["counts"].items())
    err = s["published_abs_error_pct"]
    tail = (
        f"; published cases: median |error| {err['median']:.2f}%, max {err['max']:.2f}% over {err['cases']}"
        if err["cases"]
        else ""
    )
    return [table, counts + tail]
