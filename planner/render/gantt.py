"""Pipeline schedules drawn: one row per device, time bucketed into columns (`render_rows`, `render_text`,
`render_rich`: F, B and · distinct letters and colours; a legend, total time and measured bubble) and
`to_svg` (an SVG document built with the standard library only; no PNG writer, to add no dependency).
The timelines come from planner.cost.pipeline_schedule.simulate.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from planner.cost.pipeline_schedule import Timeline

STYLES: dict[str, tuple[str, str]] = {  # kind -> (character, rich style)
    "fwd": ("F", "bold white on blue"),
    "bwd": ("B", "bold black on green"),
    "idle": ("·", "dim"),
}
CHUNK_STYLES = {  # interleaved: one shade per chunk (cycled)
    "fwd": ("bold white on blue", "bold white on dark_cyan", "bold white on purple4", "bold white on grey37"),
    "bwd": (
        "bold black on green",
        "bold black on yellow",
        "bold black on dark_sea_green",
        "bold black on orange3",
    ),
}


def render_rows(timeline: Timeline, width: int) -> list[list[tuple[str, str]]]:
    """One row per device of `width` columns, as (text, rich style) segments.

    Column c covers [c, c+1)·T/width. An op covers the columns between its rounded start and end; it is
    labelled 'F3' / 'B3' (1-based micro-batch) when its label fits, else filled with its letter.
    An op shorter than half a column can vanish; the totals printed beside the chart are exact.
    """
    if width < 1:
        raise ValueError("width must be >= 1")
    scale = width / timeline.makespan if timeline.makespan > 0 else 0.0
    rows = []
    for d in range(timeline.stages):
        cells: list[tuple[str, str]] = [STYLES["idle"]] * width
        for event in timeline.device_events(d):
            if event.kind == "idle":
                continue
            a, b = round(event.start * scale), min(round(event.end * scale), width)
            if b <= a:
                continue
            letter, style = STYLES[event.kind]
            if timeline.chunks > 1:
                shades = CHUNK_STYLES[event.kind]
                style = shades[(event.chunk or 0) % len(shades)]
            label = f"{letter}{(event.microbatch or 0) + 1}"
            text = label.ljust(b - a) if len(label) <= b - a else letter * (b - a)
            for i, ch in enumerate(text):
                cells[a + i] = (ch, style)
        merged: list[tuple[str, str]] = []
        for ch, style in cells:
            if merged and merged[-1][1] == style:
                merged[-1] = (merged[-1][0] + ch, style)
            else:
                merged.append((ch, style))
        rows.append(merged)
    return rows


def render_text(timeline: Timeline, width: int) -> list[str]:
    """The chart as plain text lines (no colour): device label, then `width` columns."""
    label_width = len(f"dev {timeline.stages - 1}")
    return [
        f"dev {d}".ljust(label_width) + " │" + "".join(text for text, _ in row) + "│"
        for d, row in enumerate(render_rows(timeline, width))
    ]


def render_rich(timeline: Timeline, width: int) -> object:
    """The chart as a rich Text: a row per device, a time axis, a legend with total time and bubble."""
    from rich.text import Text

    from planner.units import format_quantity

    label_width = len(f"dev {timeline.stages - 1}")
    text = Text(no_wrap=True, overflow="ignore")
    for d, row in enumerate(render_rows(timeline, width)):
        text.append(f"dev {d}".ljust(label_width) + " │")
        for chunk, style in row:
            text.append(chunk, style=style)
        text.append("│\n")
    end = format_quantity(timeline.makespan, "time")
    text.append(" " * label_width + " 0" + end.rjust(width + 1) + "\n", style="dim")
    text.append("legend: ")
    text.append("F", style=STYLES["fwd"][1])
    text.append(" forward  ")
    text.append("B", style=STYLES["bwd"][1])
    text.append(" backward  ")
    text.append(STYLES["idle"][0], style=STYLES["idle"][1])
    text.append(" idle   (Fn/Bn: micro-batch n")
    text.append(", shades: chunks)" if timeline.chunks > 1 else ")")
    text.append(
        f"\ntotal {end}, bubble fraction {timeline.bubble_fraction:.4g} (idle/total), "
        f"bubble overhead {timeline.bubble_overhead:.4g} (idle/busy)"
    )
    return text


def _nice_step(span: float, target: int) -> float:
    """A 1/2/5 × 10^n step giving about `target` ticks over `span`."""
    import math

    raw = span / max(target, 1)
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


SVG_COLOURS: dict[str, str] = {"fwd": "#4c78a8", "bwd": "#59a14f", "idle": "#eeeeee"}
SVG_CHUNK_SHADES = ("#4c78a8", "#72b7b2", "#b279a2", "#f28e2b")
SVG_CHUNK_SHADES_BWD = ("#59a14f", "#8cd17d", "#499894", "#b6992d")


def to_svg(timeline: Timeline, title: str = "", width_px: int = 960, row_px: int = 28) -> str:
    """The schedule as a standalone SVG document (a string; standard library only).

    One row per device, one rectangle per op (forward blue, backward green, idle grey; interleaved
    chunks in shades), labelled with the 1-based micro-batch where it fits, a time axis in ms and a
    legend.
    """
    from planner.units import format_quantity

    left, top, right = 70, 40 if title else 16, 20
    plot_w = max(width_px - left - right, 50)
    rows_h = timeline.stages * row_px
    axis_h, legend_h = 30, 26
    height = top + rows_h + axis_h + legend_h
    scale = plot_w / timeline.makespan if timeline.makespan > 0 else 0.0
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height}" '
        f'viewBox="0 0 {width_px} {height}" font-family="sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{width_px}" height="{height}" fill="white"/>',
    ]
    if title:
        out.append(f'<text x="{left}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>')
    for d in range(timeline.stages):
        y = top + d * row_px
        out.append(f'<text x="{left - 8}" y="{y + row_px / 2 + 4:.1f}" text-anchor="end">device {d}</text>')
        for event in timeline.device_events(d):
            x, w = left + event.start * scale, event.duration * scale
            colour = SVG_COLOURS[event.kind]
            if timeline.chunks > 1 and event.chunk is not None:
                shades = SVG_CHUNK_SHADES if event.kind == "fwd" else SVG_CHUNK_SHADES_BWD
                colour = shades[event.chunk % len(shades)]
            tip = f"{event.kind} " + (
                f"micro-batch {(event.microbatch or 0) + 1}, chunk {event.chunk}: "
                if event.kind != "idle"
                else ""
            )
            tip += f"{format_quantity(event.start, 'time')} – {format_quantity(event.end, 'time')}"
            out.append(
                f'<rect x="{x:.3f}" y="{y + 2}" width="{w:.3f}" height="{row_px - 4}" fill="{colour}" '
                f'stroke="white" stroke-width="0.5"><title>{escape(tip)}</title></rect>'
            )
            label = f"{(event.microbatch or 0) + 1}"
            if event.kind != "idle" and w >= 8 * len(label) + 2:
                out.append(
                    f'<text x="{x + w / 2:.3f}" y="{y + row_px / 2 + 4:.1f}" text-anchor="middle" '
                    f'fill="white">{label}</text>'
                )
    axis_y = top + rows_h + 4
    out.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="black"/>')
    step = _nice_step(timeline.makespan, 8)
    tick = 0.0
    while tick <= timeline.makespan * (1 + 1e-9) and scale > 0:
        x = left + tick * scale
        out.append(f'<line x1="{x:.3f}" y1="{axis_y}" x2="{x:.3f}" y2="{axis_y + 4}" stroke="black"/>')
        out.append(
            f'<text x="{x:.3f}" y="{axis_y + 16}" text-anchor="middle">'
            f"{escape(format_quantity(tick, 'time', digits=3))}</text>"
        )
        tick += step
    legend_y = axis_y + axis_h
    x = left
    for kind, name in (("fwd", "forward"), ("bwd", "backward"), ("idle", "idle")):
        out.append(f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{SVG_COLOURS[kind]}"/>')
        out.append(f'<text x="{x + 16}" y="{legend_y}">{name}</text>')
        x += 90
    summary = (
        f"total {format_quantity(timeline.makespan, 'time')}, bubble fraction "
        f"{timeline.bubble_fraction:.4g}, bubble overhead {timeline.bubble_overhead:.4g}"
    )
    out.append(f'<text x="{x + 10}" y="{legend_y}">{escape(summary)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
