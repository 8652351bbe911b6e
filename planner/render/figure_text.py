"""A figure (planner.render.figure) drawn in the terminal with the plain-text line plot
(planner.textplot), each panel in turn, within 80 columns; marked points come last in each panel, so
their markers are drawn over the series."""

from __future__ import annotations

from planner.render.figure import Figure, Panel, Style
from planner.textplot import line_plot

# the plot's own columns; its y tick labels (up to 9 characters) and the axis take the rest of 80
PLOT_COLUMNS = 66


def figure_text(figure: Figure) -> str:
    """The figure's title, then each panel's title and plot."""
    parts = [figure.title]
    for panel in figure.panels:
        parts += ["", panel.title, _panel_text(panel)]
    return "\n".join(parts)


def _panel_text(panel: Panel) -> str:
    # references (linear scaling, a bound) first, so the answer's own points are drawn over them
    ordered = sorted(panel.series, key=lambda s: s.style is not Style.reference)
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
