"""A plain-text line plot for the terminal: several series of (x, y) points on one character grid."""

from __future__ import annotations

from collections.abc import Sequence

MARKERS = "*o+x#@%&"


def line_plot(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    width: int = 60,
    height: int = 14,
    x_label: str = "x",
    y_label: str = "y",
) -> str:
    """Draw each (label, xs, ys) with its own marker; later series overwrite earlier ones where they
    meet. The y axis starts at min(0, smallest y); a legend follows the plot."""
    points = [(x, y) for _, xs, ys in series for x, y in zip(xs, ys, strict=True)]
    if not points:
        return ""
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_lo, y_hi = min(0.0, min(p[1] for p in points)), max(p[1] for p in points)
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0
    grid = [[" "] * width for _ in range(height)]
    for index, (_, xs, ys) in enumerate(series):
        marker = MARKERS[index % len(MARKERS)]
        for x, y in zip(xs, ys, strict=True):
            col = round((x - x_lo) / x_span * (width - 1))
            grid[height - 1 - round((y - y_lo) / y_span * (height - 1))][col] = marker
    label_width = max(len(f"{y_hi:.3g}"), len(f"{y_lo:.3g}"))
    lines = [f"{y_label}"]
    for r, row in enumerate(grid):
        tick = f"{y_hi:.3g}" if r == 0 else (f"{y_lo:.3g}" if r == height - 1 else "")
        lines.append(f"{tick:>{label_width}} |{''.join(row)}")
    lines.append(" " * label_width + " +" + "-" * width)
    left, right = f"{x_lo:.3g}", f"{x_hi:.3g}"
    lines.append(" " * (label_width + 2) + left + " " * max(1, width - len(left) - len(right)) + right)
    lines.append(" " * (label_width + 2) + x_label)
    legend = "  ".join(f"{MARKERS[i % len(MARKERS)]} {label}" for i, (label, _, _) in enumerate(series))
    lines.append(legend)
    return "\n".join(lines)
