"""A figure (planner.render.figure) drawn in the terminal with the plain-text line plot
(planner.textplot), each panel in turn, within 80 columns; marked points come last in each panel, so
their markers are drawn over the series."""

from __future__ import annotations

from planner.render.figure import Figure, Panel, Style
from planner.textplot import bar_chart, line_plot

# the plot's own columns; its y tick labels (up to 9 characters) and the axis take the rest of 80
PLOT_COLUMNS = 66


def figure_text(figure: Figure) -> str:
    """The figure's title, then each panel's title and plot."""
    parts = [figure.title]
    for panel in figure.panels:
        parts += ["", panel.title, _panel_text(panel)]
    return "\n".join(parts)


def _panel_text(panel: Panel) -> str:
    if panel.bars:
        return _bars_text(panel)
    # references (linear scaling, a bound) first, so the answer's own points are drawn over them
    ordered = sorted(panel.series, key=lambda s: s.style not in (Style.reference, Style.bound))
    series = [(s.label, s.xs, s.ys) for s in ordered if s.xs]
    series += [(mark.label, (mark.x,), (mark.y,)) for mark in panel.marks]
    return line_plot(
        series,
        width=PLOT_COLUMNS,
        x_label=panel.x_label,
        y_label=panel.y_label,
        x_log=panel.x_log,
        y_log=panel.y_log,
    )


def _bars_text(panel: Panel) -> str:
    """A panel of bars as horizontal bars in x order on one scale (each group's layers their own
    characters), then its series' and marks' points as lines of text: a character grid has no room to
    draw them over the bars."""
    rows = sorted((x, g, k) for g, bars in enumerate(panel.bars) for k, x in enumerate(bars.xs))
    layers = [
        (label, [heights[k] if g == group else 0.0 for _, g, k in rows])
        for group, bars in enumerate(panel.bars)
        for label, heights in bars.layers
    ]
    labels = [panel.bars[g].labels[k] for _, g, k in rows]
    parts = [bar_chart(labels, layers, width=PLOT_COLUMNS - 16, value_label=panel.y_label)]
    for series in panel.series:  # a reference (a target, a deadline) says what it is in its label
        points = ", ".join(f"({x:.3g}, {y:.3g})" for x, y in zip(series.xs, series.ys, strict=True))
        parts.append(f"- {series.label}" + ("" if series.style is Style.reference else f": {points}"))
    parts += [f"* {mark.label}" for mark in panel.marks]
    return "\n".join(parts)
