"""The pictures of the commands that sweep one setting, from the payloads their tables show:
`pipeline bubble` (the bubble against micro-batches, the three schedules) and `specdec speedup` /
`specdec models` (the speed-up against the draft length gamma for several acceptance rates, the optimum
marked), `specdec batch` (the speed-up against the served batch, where it stops paying marked)."""

from __future__ import annotations

from typing import Any

from planner.render.figure import Figure, Mark, Panel, Series, Style


def bubble_figure(payload: dict[str, Any]) -> Figure:
    """Bubble fraction (idle/total) against micro-batches M for the schedule asked about (the sweep or
    the one M given) and beside it the other two schedules' sweeps; the smallest M the rule of thumb
    asks for (M >= 4K) marked."""
    rows = payload.get("sweep") or [payload]
    advice, stages = payload["advice"], payload["stages"]

    def name(schedule: str, chunks: int) -> str:
        return f"{schedule}, v = {chunks}" if schedule == "interleaved" else schedule

    curve = Series(
        name(payload["schedule"], payload["chunks"]),
        tuple(float(r["microbatches"]) for r in rows),
        tuple(r["bubble_fraction"] for r in rows),
    )
    others = tuple(
        Series(
            name(other["schedule"], other["chunks"]),
            tuple(float(r["microbatches"]) for r in other["sweep"]),
            tuple(r["bubble_fraction"] for r in other["sweep"]),
        )
        for other in payload["schedules"]
        if other["schedule"] != payload["schedule"]
    )
    rule = Mark(
        "minimum",
        f"{advice['rule']}: M = {advice['minimum_microbatches']}",
        float(advice["minimum_microbatches"]),
        advice["bubble_fraction_at_minimum"],
    )
    return Figure(
        f"pipeline bubble, K = {stages} stages ({payload['schedule']} asked; gpipe and 1f1b share one curve)",
        (
            Panel(
                "bubble against micro-batches",
                "micro-batches M",
                "bubble fraction (idle / total)",
                (curve, *others),
                (rule,),
                x_log=True,
            ),
        ),
    )


def specdec_figure(payload: dict[str, Any]) -> Figure:
    """Speed-up against gamma for the given alpha and a few common ones (the API's plot series), the
    optimal gamma marked when speculating gains anything."""
    plot = payload["plot"]
    gammas = tuple(float(g) for g in plot["gammas"])
    series = tuple(Series(f"alpha {alpha}", gammas, tuple(ys)) for alpha, ys in plot["series"].items())
    marks: tuple[Mark, ...] = ()
    if payload["optimal_gamma"] >= 1:
        label = f"optimum: gamma {payload['optimal_gamma']}, {payload['optimal_speedup']:.3f}x"
        marks = (Mark("optimum", label, float(payload["optimal_gamma"]), payload["optimal_speedup"]),)
    return Figure(
        f"speculative decoding, alpha {payload['alpha']:g}, c = {plot['c']:.3g}",
        (Panel("speed-up against draft length", "gamma (draft tokens per step)", "speed-up", series, marks),),
    )


def specdec_batch_figure(payload: dict[str, Any]) -> Figure:
    """Speculative decoding's speed-up against the served batch (each batch at its best gamma), with
    no speed-up (1x) drawn; the batch where it stops paying marked when the sweep reaches it."""
    rows = payload["rows"]
    batches = tuple(float(r["batch"]) for r in rows)
    curve = Series(
        f"alpha {payload['alpha']:g}, best gamma per batch", batches, tuple(r["speedup"] for r in rows)
    )
    plain = Series("no speed-up", (batches[0], batches[-1]), (1.0, 1.0), Style.reference)
    marks: tuple[Mark, ...] = ()
    breakeven = payload["breakeven_batch"]
    if breakeven is not None:
        at = next(r for r in rows if r["batch"] == breakeven)
        marks = (Mark("breakeven", f"stops paying at batch {breakeven}", float(breakeven), at["speedup"]),)
    target, draft = payload["target"], payload["draft"]
    on = f"(t = {target['tensor_parallel']}) on {payload['device']}"
    return Figure(
        f"{draft['name']} drafting for {target['name']} {on}",
        (
            Panel(
                "speed-up against batch size",
                "sequences in the batch",
                "speed-up",
                (curve, plain),
                marks,
                x_log=True,
            ),
        ),
    )
