"""Tables of `planner plan` (planner.api.plan): the strategies ranked, the recommendation, the winner's
cost breakdown and the sensitivity to each hardware figure; an LLM's search and its recommendation."""

from __future__ import annotations

from typing import Any

from planner.render import band_note, fmt_band, fmt_bytes, fmt_time, make_table


def llm_plan_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.render.llm import llm_tables

    return [*llm_tables(payload), Text(f"recommendation: {payload['recommendation']}", style="bold")]


def plan_tables(payload: dict[str, Any], explain: bool) -> list[Any]:
    from rich.text import Text

    inputs = payload["inputs"]
    rows = []
    for rank, s in enumerate(payload["strategies"], 1):
        cost = s["cost_per_million_samples_usd"]
        rows.append(
            (
                rank,
                s["name"],
                s["config"],
                s["devices"],
                fmt_time(s["iteration_s"]),
                f"{s['throughput_samples_per_s']:,.1f}",
                fmt_band(s["error_band_pct"]),
                f"{s['speedup_over_one_device']:.2f}x",
                f"{s['efficiency']:.0%}",
                fmt_bytes(s["memory_per_device_bytes"]),
                "-" if cost is None else f"${cost:,.2f}",
                "yes" if s["fits"] else "no",
            )
        )
    title = (
        f"{inputs['model']} on {inputs['cluster']} ({inputs['devices']} x {inputs['device']}), "
        f"{inputs['batch_per_device']} samples per device, {inputs['dtype']}, work from {inputs['work']}; "
        f"ranked by {inputs['objective']}"
    )
    cols = [
        "#",
        "strategy",
        "config",
        "devices",
        "iteration",
        "samples/s",
        "band",
        "speedup",
        "eff.",
        "mem/device",
        "$/1M samples",
        "fits",
    ]
    numbers = [c for c in cols if c not in ("strategy", "config", "fits")]
    secondary = ["#", "devices", "fits", "eff.", "$/1M samples", "mem/device", "band"]
    out: list[Any] = [
        make_table(title, cols, rows, right=numbers, keep=["strategy", "config"], secondary=secondary)
    ]
    # the band column's classes, each stated once (a row's band is its class's: planner.validate.bands)
    out.extend(Text(note) for note in dict.fromkeys(band_note(s) for s in payload["strategies"]))
    out.append(Text(f"recommendation: {payload['recommendation']}", style="bold"))
    for note in payload["not_evaluated"]:
        out.append(Text(f"not evaluated: {note}"))
    if explain and payload["winner"] is not None:
        winner = next(s for s in payload["strategies"] if s["name"] == payload["winner"])
        out.append(
            make_table(
                f"Why: the cost breakdown of {winner['name']} ({winner['config']})",
                ["term", "value"],
                [(k, fmt_time(v) if k.endswith("_s") else f"{v:g}") for k, v in winner["breakdown"].items()],
                right=["value"],
            )
        )
        if winner["note"]:
            out.append(Text(winner["note"]))
    if "sensitivity" in payload:
        srows = [
            (
                r["factor"],
                _pct(r["minus_winner_change_pct"]),
                r["minus_new_winner"] or "-",
                _pct(r["plus_winner_change_pct"]),
                r["plus_new_winner"] or "-",
            )
            for r in payload["sensitivity"]
        ]
        out.append(
            make_table(
                "Sensitivity of the winner's iteration time to ±20% on each figure",
                ["figure", "-20%", "winner then", "+20%", "winner then"],
                srows,
                right=["-20%", "+20%"],
            )
        )
        flips = payload["ranking_flips"]
        out.append(
            Text(
                f"most sensitive: {payload['most_sensitive']}; "
                + (
                    f"the winner changes with: {', '.join(flips)}"
                    if flips
                    else "the winner holds at ±20% on every figure"
                )
            )
        )
    return out


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"
