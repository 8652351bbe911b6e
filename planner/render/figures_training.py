"""The pictures of the training planners, from the payloads their tables show: `dp` (speed-up and
efficiency against devices), `plan` and `llm-parallel` (time against memory per device and against
cost: the Pareto front, the recommendation, infeasible points greyed)."""

from __future__ import annotations

from typing import Any

from planner.render.figure import Figure, Mark, Panel, Series, Style, pareto_front

GIB = 2**30


def dp_figure(payload: dict[str, Any]) -> Figure:
    """Speed-up and scaling efficiency against devices, weak and strong scaling, with linear scaling and
    the all-reduce lower bound's limit on weak scaling drawn; the plan's own device count marked."""
    main, scaling = payload["plan"], payload["scaling"]
    kinds = [kind for kind in ("weak", "strong") if scaling[kind]]
    devices = sorted({row["devices"] for kind in kinds for row in scaling[kind]} | {main["devices"]})

    def curves(key: str, scale: float) -> tuple[Series, ...]:
        return tuple(
            Series(
                f"{kind} scaling",
                tuple(float(r["devices"]) for r in scaling[kind]),
                tuple(r[key] * scale for r in scaling[kind]),
            )
            for kind in kinds
        )

    linear = Series("linear scaling", tuple(map(float, devices)), tuple(map(float, devices)), Style.reference)
    full = Series(
        "100 % efficiency", (float(devices[0]), float(devices[-1])), (100.0, 100.0), Style.reference
    )
    bounds = scaling["allreduce_bound"]

    def bound(key: str, scale: float) -> Series:
        return Series(
            "all-reduce lower bound allows (weak)",
            tuple(float(b["devices"]) for b in bounds),
            tuple(b[key] * scale for b in bounds),
            Style.bound,
        )

    label = f"this plan ({main['devices']} devices, {main['algorithm']})"
    inputs = payload["inputs"]
    return Figure(
        f"{inputs['model']} data-parallel on {inputs['cluster']} ({inputs['device']})",
        (
            Panel(
                "speed-up against devices",
                "devices",
                "speed-up over 1 device",
                (*curves("speedup", 1.0), linear, bound("speedup_bound", 1.0)),
                (Mark("plan", label, float(main["devices"]), main["speedup"]),),
                x_log=True,
                y_log=True,
            ),
            Panel(
                "scaling efficiency against devices",
                "devices",
                "efficiency (%)",
                (*curves("scaling_efficiency", 100.0), full, bound("efficiency_bound", 100.0)),
                (Mark("plan", label, float(main["devices"]), main["scaling_efficiency"] * 100),),
                x_log=True,
            ),
        ),
    )


def plan_figure(payload: dict[str, Any]) -> Figure:
    """Every strategy's time per sample against its memory per device and its cost per 1M samples."""
    inputs, strategies = payload["inputs"], payload["strategies"]
    winner = next((s for s in strategies if s["name"] == payload["winner"]), None)

    def panel(title: str, x_label: str, x_of: Any, x_log: bool) -> Panel:
        rows = [(s, x_of(s)) for s in strategies if x_of(s) is not None]
        points = [(x, s["time_per_sample_s"] * 1e3) for s, x in rows if s["fits"]]
        front = pareto_front(points)
        marks: tuple[Mark, ...] = ()
        if winner is not None and x_of(winner) is not None:
            label = f"recommendation: {winner['name']} ({winner['config']})"
            marks = (Mark("recommendation", label, x_of(winner), winner["time_per_sample_s"] * 1e3),)
        return Panel(
            title,
            x_label,
            "time per sample (ms)",
            (
                Series("strategies that fit", *_unzip(points), Style.points),
                Series("Pareto front", *_unzip(front)),
                Series(
                    "does not fit",
                    *_unzip([(x, s["time_per_sample_s"] * 1e3) for s, x in rows if not s["fits"]]),
                    Style.muted,
                ),
            ),
            marks,
            x_log=x_log,
            y_log=True,  # strategies differ by orders of magnitude (a parameter server against a pipeline)
        )

    return Figure(
        f"{inputs['model']} on {inputs['cluster']} ({inputs['devices']} x {inputs['device']}): strategies",
        (
            panel(
                "time against memory",
                "memory (GiB/device)",
                lambda s: s["memory_per_device_bytes"] / GIB,
                False,
            ),
            panel("time against cost", "$ per 1M samples", lambda s: s["cost_per_million_samples_usd"], True),
        ),
    )


def llm_figure(payload: dict[str, Any]) -> Figure:
    """The listed plans' time per iteration against memory per device (the fastest candidates that do not
    fit greyed) and, where the cluster has a price, against $ per million tokens; the best plan marked."""
    inputs = payload["inputs"]
    searched = payload["mode"] != "evaluate"
    plans = payload["search"]["plans"] if searched else [payload["plan"]]
    fits = [(p["memory_per_device_bytes"] / GIB, p["time_per_iteration_s"]) for p in plans if p["feasible"]]
    over = [
        (p["memory_per_device_bytes"] / GIB, p["time_per_iteration_s"]) for p in plans if not p["feasible"]
    ]
    if searched:
        over += [
            (p["memory_per_device_bytes"] / GIB, p["time_per_iteration_s"])
            for p in payload["search"].get("over_memory", [])
        ]
    best = plans[0]
    config = (
        f"t={best['tensor_parallel']} p={best['pipeline_parallel']} d={best['data_parallel']} "
        f"b={best['microbatch']} v={best['interleave']}"
    )
    if not searched:
        named = "this configuration" + ("" if best["feasible"] else " (does not fit)")
    else:
        named = "recommendation" if "recommendation" in payload else "best"
    label = f"{named}: {config}"
    panels = [
        Panel(
            "time against memory",
            "memory per device (GiB)",
            "time per iteration (s)",
            (
                Series("plans that fit", *_unzip(fits), Style.points),
                Series("Pareto front", *_unzip(pareto_front(fits))),
                Series("does not fit", *_unzip(over), Style.muted),
            ),
            (
                Mark(
                    "recommendation",
                    label,
                    best["memory_per_device_bytes"] / GIB,
                    best["time_per_iteration_s"],
                ),
            ),
            y_log=True,  # the axis spans the listed plans only, not down to zero
        )
    ]
    if best.get("usd_per_million_tokens") is not None:
        costs = [(p["usd_per_million_tokens"], p["time_per_iteration_s"]) for p in plans if p["feasible"]]
        panels.append(
            Panel(
                "time against cost",
                "$ per million tokens",
                "time per iteration (s)",
                (
                    Series("plans that fit", *_unzip(costs), Style.points),
                    Series("Pareto front", *_unzip(pareto_front(costs))),
                ),
                (
                    Mark(
                        "recommendation", label, best["usd_per_million_tokens"], best["time_per_iteration_s"]
                    ),
                ),
                y_log=True,
            )
        )
    return Figure(
        f"{inputs['model']} on {inputs['devices']} x {inputs['device']}, "
        f"global batch {inputs['global_batch']}",
        tuple(panels),
    )


def _unzip(points: list[tuple[float, float]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(p[0] for p in points), tuple(p[1] for p in points)
