"""The table of the validation cases (planner.api.validate)."""

from __future__ import annotations

from typing import Any

from planner.render import make_table

STATUS_COLOURS = {"pass": "green", "fail": "red", "known-deviation": "yellow", "skipped": "dim"}


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value.is_integer() and abs(value) < 1e16 else f"{value:.6g}"


def validation_tables(payload: dict[str, Any]) -> list[Any]:
    """Predicted vs published per case, then the counts and the published cases' error."""
    rows = [
        (
            c["name"],
            _number(c["predicted"]),
            {"at_least": "≥ ", "at_most": "≤ "}.get(c["comparison"], "") + _number(c["published"]),
            "-" if c["error_pct"] is None else f"{c['error_pct']:+.2f}%",
            f"{c['tolerance_pct']:g}%",
            f"[{STATUS_COLOURS[c['status']]}]{c['status']}[/]"
            + (", fitted on" if c.get("calibration") else ""),
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
    tail = ""
    for key, what in (
        ("published_abs_error_pct", "published"),
        ("measured_abs_error_pct", "measured"),
        ("calibration_abs_error_pct", "calibration (fitted on, left out above)"),
    ):
        err = s.get(key, {"cases": 0})
        if err["cases"]:
            median, most = err["median"], err["max"]
            tail += f"; {what} cases: median |error| {median:.2f}%, max {most:.2f}% over {err['cases']}"
    for key, what in (
        ("published_bounds", "bounds met"),
        ("configuration_matches", "configurations matched"),
        ("model_comparisons", "other models agreed with"),
    ):
        apart = s.get(key, {"cases": 0})
        if apart["cases"]:
            tail += f"; {what} {apart['pass']} of {apart['cases']}"
    return [table, counts + tail]
