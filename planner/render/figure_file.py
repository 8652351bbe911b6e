"""A figure (planner.render.figure) drawn as SVG or PNG with matplotlib (the optional extra `plot`,
imported only here, only when a file is asked for).

The bytes depend only on the figure and the matplotlib version: matplotlib's defaults (not the user's
matplotlibrc), the font it ships (DejaVu Sans; SVG text as paths), a fixed SVG id salt, and no date or
software name in the metadata. Each series and each marked point carries an SVG id (`series-<n>`,
`mark-<name>`), so a test can find where a point was drawn.
"""

from __future__ import annotations

import io
from typing import Any

from planner.errors import SpecError
from planner.render.figure import Figure, Panel, Style

FORMATS = ("svg", "png")
DPI = 100
PANEL_SIZE_IN = (8.0, 4.5)
MUTED = "#b0b0b0"
# series take matplotlib's tab10 colours less its red, which marks alone use
SERIES_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
MARK_COLOUR = "#d62728"
NARROW_LOG_SPAN = 100  # a log axis over less than this ratio has its 2s and 5s labelled too


def figure_bytes(figure: Figure, fmt: str, *, setting: str = "format") -> bytes:
    """The figure as an SVG (text) or PNG file's bytes; `fmt` is 'svg' or 'png'."""
    if fmt not in FORMATS:
        raise SpecError(setting, "", f"a picture is written as {' or '.join(FORMATS)}, not {fmt!r}")
    try:
        import matplotlib
        from cycler import cycler
        from matplotlib.figure import Figure as MplFigure
    except ImportError:
        raise SpecError(
            setting,
            "",
            "drawing a picture file needs matplotlib: pip install 'planner[plot]'",
            show_got=False,
        ) from None
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # inside the context: the user's matplotlibrc is restored afterwards
        rc = matplotlib.rcParams
        rc["font.family"] = "DejaVu Sans"  # shipped with matplotlib: the same glyphs everywhere
        rc["svg.fonttype"] = "path"  # text as outlines, so no viewer substitutes a font
        rc["svg.hashsalt"] = "planner"  # fixed ids instead of random ones
        rc["axes.prop_cycle"] = cycler(color=SERIES_COLOURS)
        width, height = PANEL_SIZE_IN
        canvas = MplFigure(figsize=(width, height * len(figure.panels)), dpi=DPI, layout="constrained")
        canvas.suptitle(figure.title, fontsize=10)
        axes = canvas.subplots(len(figure.panels), 1, squeeze=False)[:, 0]
        for ax, panel in zip(axes, figure.panels, strict=True):
            _draw_panel(ax, panel)
        out = io.BytesIO()
        metadata: dict[str, Any] = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
        canvas.savefig(out, format=fmt, dpi=DPI, metadata=metadata)
    return out.getvalue()


def _draw_panel(ax: Any, panel: Panel) -> None:
    ax.set_title(panel.title, fontsize=9)
    ax.set_xlabel(panel.x_label)
    ax.set_ylabel(panel.y_label)
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for log, axis, scale in ((panel.x_log, ax.xaxis, ax.set_xscale), (panel.y_log, ax.yaxis, ax.set_yscale)):
        if log:  # plain numbers (16, not 1.6 x 10^1) at the decades only
            scale("log")
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.set_minor_formatter(NullFormatter())
    colours = iter(SERIES_COLOURS * len(panel.bars))  # every layer of every group its own colour
    for group, bars in enumerate(panel.bars):
        bottoms = [0.0] * len(bars.xs)
        for layer, (label, heights) in enumerate(bars.layers):
            colour = next(colours)
            drawn = ax.bar(bars.xs, heights, width=bars.width, bottom=bottoms, label=label, color=colour)
            for k, patch in enumerate(drawn.patches):  # one id per bar segment, for a test to find
                patch.set_gid(f"bars-{group}-{layer}-{k}")
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ticks = [
        (x, label)
        for bars in panel.bars
        if bars.categories
        for x, label in zip(bars.xs, bars.labels, strict=True)
    ]
    if ticks:
        ax.set_xticks([x for x, _ in ticks], [label for _, label in ticks])
    for index, series in enumerate(panel.series):
        if not series.xs:
            continue
        style: dict[str, Any] = {
            Style.line: {"marker": "o", "markersize": 4},
            Style.points: {"marker": "o", "markersize": 5, "linestyle": "none"},
            Style.reference: {"color": "black", "linestyle": "--", "linewidth": 1},
            Style.bound: {"color": "#555555", "linestyle": ":", "linewidth": 1.5},
            Style.muted: {"color": MUTED, "marker": "x", "markersize": 4, "linestyle": "none"},
        }[series.style]
        ax.plot(series.xs, series.ys, label=series.label, gid=f"series-{index}", **style)
    for mark in panel.marks:
        ax.plot(
            [mark.x],
            [mark.y],
            marker="*",
            markersize=16,
            color=MARK_COLOUR,
            linestyle="none",
            label=mark.label,
            gid=f"mark-{mark.name}",
            zorder=5,
        )
    from matplotlib.ticker import LogLocator

    for log, axis, limits in ((panel.x_log, ax.xaxis, ax.get_xlim()), (panel.y_log, ax.yaxis, ax.get_ylim())):
        if log and limits[1] < NARROW_LOG_SPAN * limits[0]:  # too few decades to label: 1, 2, 5 of each
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.set_axisbelow(True)  # the grid behind bars
    ax.grid(True, which="both", linewidth=0.3, color="#dddddd")
    # beside the axes, never over a point
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
