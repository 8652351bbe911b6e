"""A plain-text line plot for the terminal: several series of (x, y) points on one character grid."""

from __future__ import annotations

import math
from collections.abc import Sequence

MARKERS = "*o+x#@%&"


def line_plot(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    width: int = 60,
    height: int = 14,
    x_label: str = "x",
    y_label: str = "y",
    x_log: bool = False,
    y_log: bool = False,
) -> str:
    """Draw each (label, xs, ys) with its own marker; later series overwrite earlier ones where they
    meet. The y axis starts at min(0, smallest y), or at the smallest y on a log axis (`y_log`; points
    that are not positive are left out there); a legend follows the plot."""

    def place(x: float, y: float) -> tuple[float, float] | None:
        if (x_log and x <= 0) or (y_log and y <= 0) or not (math.isfinite(x) and math.isfinite(y)):
            return None
        return (math.log10(x) if x_log else x, math.log10(y) if y_log else y)

    placed = [[place(x, y) for x, y in zip(xs, ys, strict=True)] for _, xs, ys in series]
    points = [p for row in placed for p in row if p is not None]
    if not points:
        return ""
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_lo, y_hi = min(p[1] for p in points), max(p[1] for p in points)
    if not y_log:
        y_lo = min(0.0, y_lo)
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0
    grid = [[" "] * width for _ in range(height)]
    for index, row in enumerate(placed):
        marker = MARKERS[index % len(MARKERS)]
        for point in row:
            if point is not None:
                col = round((point[0] - x_lo) / x_span * (width - 1))
                grid[height - 1 - round((point[1] - y_lo) / y_span * (height - 1))][col] = marker

    def tick(value: float, log: bool) -> str:
        return f"{10**value if log else value:.3g}"

    top, bottom = tick(y_hi, y_log), tick(y_lo, y_log)
    label_width = max(len(top), len(bottom))
    lines = [f"{y_label}" + (" (log scale)" if y_log else "")]
    for r, cells in enumerate(grid):
        shown = top if r == 0 else (bottom if r == height - 1 else "")
        lines.append(f"{shown:>{label_width}} |{''.join(cells)}")
    lines.append(" " * label_width + " +" + "-" * width)
    left, right = tick(x_lo, x_log), tick(x_hi, x_log)
    lines.append(" " * (label_width + 2) + left + " " * max(1, width - len(left) - len(right)) + right)
    lines.append(" " * (label_width + 2) + x_label + (" (log scale)" if x_log else ""))
    lines.extend(
        _legend(
            [f"{MARKERS[i % len(MARKERS)]} {label}" for i, (label, _, _) in enumerate(series)],
            label_width + 2 + width,
        )
    )
    return "\n".join(lines)


def _legend(entries: list[str], width: int) -> list[str]:
    """The legend's entries, two spaces apart, in lines no wider than the plot (an entry wider than that
    has a line of its own)."""
    lines: list[str] = []
    for entry in entries:
        if lines and len(lines[-1]) + 2 + len(entry) <= width:
            lines[-1] += "  " + entry
        else:
            lines.append(entry)
    return lines


BAR_FILLS = "#=o+x%@&"


def bar_chart(
    labels: Sequence[str],
    layers: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 50,
    value_label: str = "",
) -> str:
    """Horizontal bars, one line each, `labels` on the left; each layer a segment drawn with its own
    character, stacked left to right, the bar's total after it; a legend follows. Negative or
    non-finite heights count as 0."""
    heights = [[h if math.isfinite(h) and h > 0 else 0.0 for h in hs] for _, hs in layers]
    totals = [sum(column) for column in zip(*heights, strict=True)] if heights else []
    longest = max(totals, default=0.0) or 1.0
    label_width = max((len(label) for label in labels), default=0)
    lines = [value_label] if value_label else []
    for row, label in enumerate(labels):
        cells, reached = "", 0.0
        for index, hs in enumerate(heights):  # round the running total, so segments add up to the bar
            reached += hs[row]
            cells += BAR_FILLS[index % len(BAR_FILLS)] * (round(reached / longest * width) - len(cells))
        lines.append(f"{label:>{label_width}} |{cells} {totals[row]:.3g}")
    legend = [f"{BAR_FILLS[i % len(BAR_FILLS)]} {name}" for i, (name, _) in enumerate(layers)]
    return "\n".join(lines + _legend(legend, label_width + 2 + width))
