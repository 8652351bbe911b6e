"""Pipeline schedules as pictures: simulate GPipe, 1F1B and interleaved 1F1B, draw them.

`simulate` turns per-stage forward/backward times and M micro-batches into a per-device timeline of
events (device, start, end, kind fwd|bwd|idle, micro-batch, chunk). Each device runs its ops in the
order its schedule prescribes, each op as soon as its inputs are there (ASAP list scheduling):
- GPipe (Huang et al. NeurIPS'19 Fig. 2c): all M forwards, then all M backwards, last micro-batch first.
- 1F1B / PipeDream-flush (Narayanan et al. SC'21 Sec. 2.2.1, Fig. 4 top): device d runs
  min(K - d - 1, M) warm-up forwards, then alternates one forward and one backward, then drains.
- interleaved 1F1B (SC'21 Sec. 2.2.2, Fig. 4 bottom): device d holds v chunks, virtual stage c·K + d;
  the op order of Megatron-LM's forward_backward_pipelining_with_interleaving (warm-up
  (K - d - 1)·2 + (v - 1)·K forwards; forwards of k-th op on chunk (k // K) mod v, micro-batch
  (k // (K·v))·K + k mod K; backwards on the chunks in reverse). Needs M a multiple of K, as Megatron.
An op depends on the same micro-batch's forward on the previous virtual stage (backward: next), plus
an optional transfer delay per stage boundary (a pure delay: links never contended).

Renderers: `render_rows` / `render_text` / `render_rich` (one row per device, time bucketed into
columns; F, B and · distinct letters and colours; a legend, total time and measured bubble) and `to_svg`
(an SVG document built with the standard library only; no PNG writer, to add no dependency).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal
from xml.sax.saxutils import escape

Kind = Literal["fwd", "bwd", "idle"]
SCHEDULES: tuple[str, ...] = ("gpipe", "1f1b", "interleaved")


@dataclass(frozen=True)
class Event:
    """One interval of one device: an op (fwd/bwd of a micro-batch on a chunk) or idle time; seconds."""

    device: int
    start: float
    end: float
    kind: Kind
    microbatch: int | None = None
    chunk: int | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Timeline:
    """A simulated schedule: events per device (sorted by start, idle gaps included) and its makespan."""

    schedule: str
    stages: int
    microbatches: int
    chunks: int
    events: tuple[Event, ...]
    makespan: float

    @cached_property
    def _by_device(self) -> dict[int, list[Event]]:
        grouped: dict[int, list[Event]] = {d: [] for d in range(self.stages)}
        for event in self.events:
            grouped[event.device].append(event)
        return grouped

    def device_events(self, device: int) -> list[Event]:
        """The events of one device, in time order."""
        return list(self._by_device[device])

    def busy(self, device: int) -> float:
        """Seconds device `device` computes."""
        return sum(e.duration for e in self.device_events(device) if e.kind != "idle")

    @property
    def idle_total(self) -> float:
        """Idle device-seconds over all devices until the makespan."""
        return self.stages * self.makespan - sum(self.busy(d) for d in range(self.stages))

    @property
    def bubble_fraction(self) -> float:
        """Measured idle / total device-time; (K-1)/(v·M+K-1) for uniform stages."""
        total = self.stages * self.makespan
        return 0.0 if total == 0 else self.idle_total / total

    @property
    def bubble_overhead(self) -> float:
        """Measured idle / busy device-time; (K-1)/(v·M) for uniform stages."""
        busy = sum(self.busy(d) for d in range(self.stages))
        return 0.0 if busy == 0 else self.idle_total / busy

    def peak_in_flight(self, device: int) -> int:
        """Most (chunk, micro-batch) forwards done on `device` whose backward has not yet started."""
        count = peak = 0
        for event in self.device_events(device):
            if event.kind == "fwd":
                count += 1
                peak = max(peak, count)
            elif event.kind == "bwd":
                count -= 1
        return peak


Op = tuple[Kind, int, int]  # (kind, micro-batch, virtual stage)


def _device_orders(schedule: str, stages: int, microbatches: int, chunks: int) -> list[list[Op]]:
    """Each device's op sequence under `schedule`."""
    k, m, v = stages, microbatches, chunks
    orders: list[list[Op]] = []
    for d in range(k):
        if schedule == "gpipe":
            ops: list[Op] = [("fwd", j, d) for j in range(m)] + [("bwd", j, d) for j in reversed(range(m))]
        elif schedule == "1f1b":
            warm = min(k - d - 1, m)
            ops = [("fwd", j, d) for j in range(warm)]
            for i in range(m - warm):
                ops += [("fwd", warm + i, d), ("bwd", i, d)]
            ops += [("bwd", j, d) for j in range(m - warm, m)]
        else:  # interleaved, Megatron-LM's op order

            def virtual(index: int, forward: bool, d: int = d) -> Op:
                group = (index // k) % v
                chunk = group if forward else v - 1 - group
                mb = (index // (k * v)) * k + index % k
                return ("fwd" if forward else "bwd", mb, chunk * k + d)

            total = m * v
            warm = min((k - d - 1) * 2 + (v - 1) * k, total)
            ops = [virtual(i, True) for i in range(warm)]
            for i in range(total - warm):
                ops += [virtual(warm + i, True), virtual(i, False)]
            ops += [virtual(i, False) for i in range(total - warm, total)]
        orders.append(ops)
    return orders


def _expand(values: Sequence[float], count: int, name: str) -> list[float]:
    if len(values) == 1:
        return [float(values[0])] * count
    if len(values) != count:
        raise ValueError(f"{name} needs 1 or {count} values, got {len(values)}")
    return [float(x) for x in values]


def simulate(
    schedule: str,
    stages: int,
    microbatches: int,
    forward: Sequence[float],
    backward: Sequence[float],
    chunks: int = 1,
    transfer: Sequence[float] = (0.0,),
) -> Timeline:
    """Simulate one minibatch of `schedule`; times in seconds per micro-batch.

    `forward`/`backward`: one value (every device alike) or one per device (K), each the device's time per
    micro-batch, split evenly over its v chunks; or one per virtual stage (K·v, in model order: virtual
    stage c·K + d is chunk c of device d). `transfer`: one delay, or one
    per virtual-stage boundary (K·v - 1), added between an op and the next stage's op that needs it.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if stages < 1 or microbatches < 1 or chunks < 1:
        raise ValueError("stages, microbatches and chunks must be >= 1")
    if schedule != "interleaved" and chunks != 1:
        raise ValueError(f"{schedule} runs one chunk per device; chunks > 1 needs the interleaved schedule")
    if schedule == "interleaved" and microbatches % stages:
        raise ValueError("the interleaved schedule needs microbatches to be a multiple of stages")
    n = stages * chunks
    if len(forward) != len(backward) or len(forward) not in {1, stages, n}:
        counts = f"1, {stages} (per device)" + (f" or {n} (per virtual stage)" if n != stages else "")
        raise ValueError(f"forward and backward need {counts} values each, the same number")
    if len(forward) == n:
        fwd, bwd = [float(x) for x in forward], [float(x) for x in backward]
    else:  # per device: split evenly over its chunks
        per_f, per_b = _expand(forward, stages, "forward"), _expand(backward, stages, "backward")
        fwd = [per_f[s % stages] / chunks for s in range(n)]
        bwd = [per_b[s % stages] / chunks for s in range(n)]
    lag = _expand(transfer, n - 1, "transfer") if n > 1 else []
    if any(x < 0 for x in (*fwd, *bwd, *lag)):
        raise ValueError("times must be >= 0")

    orders = _device_orders(schedule, stages, microbatches, chunks)
    done: dict[Op, float] = {}
    free = [0.0] * stages
    cursor = [0] * stages
    ops: list[list[tuple[float, float, Op]]] = [[] for _ in range(stages)]
    remaining = sum(len(o) for o in orders)
    while remaining:
        progress = False
        for d in range(stages):
            while cursor[d] < len(orders[d]):
                op = orders[d][cursor[d]]
                kind, mb, s = op
                if kind == "fwd":
                    dep = ("fwd", mb, s - 1) if s > 0 else None
                    delay = lag[s - 1] if s > 0 else 0.0
                    duration = fwd[s]
                else:
                    dep = ("bwd", mb, s + 1) if s < n - 1 else ("fwd", mb, s)
                    delay = lag[s] if s < n - 1 else 0.0
                    duration = bwd[s]
                if dep is not None and dep not in done:
                    break
                ready = 0.0 if dep is None else done[dep] + delay
                start = max(free[d], ready)
                end = start + duration
                done[op] = end
                free[d] = end
                ops[d].append((start, end, op))
                cursor[d] += 1
                remaining -= 1
                progress = True
        if not progress:  # cannot happen for the three schedules; guards a wrong op order
            raise RuntimeError(f"{schedule} schedule deadlocked")
    makespan = max(free)
    events: list[Event] = []
    for d in range(stages):
        clock = 0.0
        for start, end, (kind, mb, s) in ops[d]:
            if start > clock:
                events.append(Event(d, clock, start, "idle"))
            events.append(Event(d, start, end, kind, mb, s // stages))
            clock = end
        if makespan > clock:
            events.append(Event(d, clock, makespan, "idle"))
    return Timeline(schedule, stages, microbatches, chunks, tuple(events), makespan)


# ---------------------------------------------------------------------------------------------- pictures

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
