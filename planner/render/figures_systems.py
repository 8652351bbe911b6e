"""The pictures of the system questions, from the payloads their tables show: `pipeline partition`
(per-stage time and memory as stacked bars), `serve` (throughput against time per output token over
batch sizes), `comm` (time against message size per algorithm) and `fl round` (the distribution of the
clients' round times)."""

from __future__ import annotations

from typing import Any

from planner.render.figure import Bars, Figure, Mark, Panel, Series, Style

GIB = 2**30
BAR_WIDTH = 0.6  # of the gap between stages (1)


def partition_figure(payload: dict[str, Any]) -> Figure:
    """Each stage's pipeline term (time per minibatch per replica: its compute and the rest, sync not
    hidden and the update) and, between stages, the transfer term; the largest term, the pipeline's
    time, marked. With the native cost model, each stage's memory per device too."""
    stages = payload["stages"]
    compute = tuple(s["compute_s"] / s["replicas"] * 1e3 for s in stages)
    rest = tuple(s["time_s"] * 1e3 - c for s, c in zip(stages, compute, strict=True))
    names = tuple(f"stage {k} (x{s['replicas']})" for k, s in enumerate(stages))
    xs = tuple(float(2 * k) for k in range(len(stages)))  # transfers sit between the stages
    stage_bars = Bars(
        names,
        xs,
        (("compute / replicas", compute), ("sync not hidden + update / replicas", rest)),
        (BAR_WIDTH,) * len(stages),
    )
    groups = [stage_bars]
    terms = [(x, s["time_s"], name) for x, s, name in zip(xs, stages, names, strict=True)]
    if len(stages) > 1 and "transfer_in_s" in stages[0]:
        transfers = [(2.0 * k - 1, s["transfer_in_s"], f"to stage {k}") for k, s in enumerate(stages) if k]
        groups.append(
            Bars(
                tuple(name for _, _, name in transfers),
                tuple(x for x, _, _ in transfers),
                (("transfer in", tuple(t * 1e3 for _, t, _ in transfers)),),
                (BAR_WIDTH,) * len(transfers),
            )
        )
        terms += transfers
    x, slowest, name = max(terms, key=lambda term: term[1])
    bottleneck = Mark("bottleneck", f"bottleneck: {name}, {slowest * 1e3:.3g} ms", x, slowest * 1e3)
    panels = [
        Panel(
            "time per minibatch of each pipeline term",
            "",
            "time (ms)",
            (),
            (bottleneck,),
            bars=tuple(groups),
        )
    ]
    if "memory_bytes" in stages[0]:
        activations = tuple(s["in_flight_minibatches"] * s["activation_bytes"] / GIB for s in stages)
        states = tuple(s["memory_bytes"] / GIB - a for s, a in zip(stages, activations, strict=True))
        memory = Bars(
            names,
            xs,
            (
                ("weights, gradients, optimizer state, stashed versions", states),
                ("activations of the minibatches in flight", activations),
            ),
            (BAR_WIDTH,) * len(stages),
        )
        panels.append(Panel("memory per device of each stage", "", "memory (GiB/device)", (), bars=(memory,)))
    where = payload["cluster"] or f"{payload['num_devices']} devices"
    return Figure(
        f"{payload['model']} on {where}: pipeline {payload['config']}, {payload['cost_model']} cost model",
        tuple(panels),
    )


def serve_figure(payload: dict[str, Any]) -> Figure:
    """Tokens/s per GPU against time per output token: the batch curve of one configuration (the
    running batch marked), or, searching, every configuration tried (those missing the targets greyed,
    the TPOT target drawn, the best marked)."""
    title = f"{payload['model']} served on {payload['cluster']} ({payload['device']})"
    x_label, y_label = "time per output token (ms)", "tokens/s per GPU"
    if "candidates" not in payload:
        curve = payload["curve"]
        xs, ys = tuple(c["tpot_s"] * 1e3 for c in curve), tuple(c["tokens_per_s_per_gpu"] for c in curve)
        split = f"t={payload['tensor_parallel']} p={payload['pipeline_parallel']}"
        running = Mark(
            "batch",
            f"running batch {payload['batch']}",
            payload["tpot_s"] * 1e3,
            payload["tokens_per_s_per_gpu"],
        )
        batches = ", ".join(str(c["batch"]) for c in curve)
        panel = Panel(
            f"throughput against latency over batch sizes ({batches})",
            x_label,
            y_label,
            (Series(f"batch curve, {split}", xs, ys),),
            (running,),
            x_log=True,
        )
        return Figure(title, (panel,))
    candidates, best = payload["candidates"], payload["best"]

    def points(meets: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
        chosen = [c for c in candidates if c["meets_targets"] is meets]
        return tuple(c["tpot_s"] * 1e3 for c in chosen), tuple(c["tokens_per_s_per_gpu"] for c in chosen)

    series = [
        Series("configurations that meet the targets", *points(True), Style.points),
        Series("miss a target", *points(False), Style.muted),
    ]
    if payload["tpot_target_s"] is not None:
        tops = [c["tokens_per_s_per_gpu"] for c in candidates]
        target = payload["tpot_target_s"] * 1e3
        series.append(Series("TPOT target", (target, target), (0.0, max(tops)), Style.reference))
    config = f"t={best['tensor_parallel']} p={best['pipeline_parallel']} batch {best['batch']}"
    mark = Mark("best", f"best: {config}", best["tpot_s"] * 1e3, best["tokens_per_s_per_gpu"])
    panel = Panel("configurations tried", x_label, y_label, tuple(series), (mark,))
    return Figure(title, (panel,))


def comm_figure(payload: dict[str, Any]) -> Figure:
    """Each algorithm's all-reduce time against the message size (the API's sweep) with the lower bound
    drawn; the best algorithm at the message asked about marked."""
    sweep, best = payload["sweep"], payload["results"][0]
    sizes = tuple(float(size) for size in sweep["sizes_bytes"])
    series = [Series(a["algorithm"], sizes, tuple(t * 1e3 for t in a["time_s"])) for a in sweep["algorithms"]]
    series.append(
        Series("lower bound", sizes, tuple(t * 1e3 for t in sweep["lower_bound_s"]), Style.reference)
    )
    size = payload["message"]["bytes"]
    mark = Mark("best", f"best at {size:.3g} B: {best['algorithm']}", size, best["time_s"] * 1e3)
    cluster = payload["cluster"]
    return Figure(
        f"all-reduce on {cluster['name']} ({cluster['devices']} devices)",
        (
            Panel(
                "time against message size",
                "message per device (bytes)",
                "time (ms)",
                tuple(series),
                (mark,),
                x_log=True,
                y_log=True,
            ),
        ),
    )


def fl_round_figure(payload: dict[str, Any]) -> Figure:
    """How many of the fleet's clients take how long for a round (the result's histogram of client
    round times), the expected round time marked on its bin, the deadline drawn if one was set."""
    hist, r = payload["histogram"], payload["round"]
    counts, edges = hist["counts"], hist["edges_s"]
    bins = range(len(counts))
    bars = Bars(
        tuple(f"{edges[i]:.3g}-{edges[i + 1]:.3g} s" for i in bins),
        tuple((edges[i] + edges[i + 1]) / 2 for i in bins),
        (("clients", tuple(float(c) for c in counts)),),
        tuple(edges[i + 1] - edges[i] for i in bins),
        categories=False,
    )
    round_s = r["round_s"]
    at = next((i for i in bins if round_s < edges[i + 1]), len(counts) - 1)  # its bin, or the last
    expected = Mark("round", f"expected round: {round_s:.3g} s", round_s, float(counts[at]))
    series: tuple[Series, ...] = ()
    deadline = payload["settings"]["deadline_s"]
    if deadline is not None:
        series = (
            Series(f"deadline {deadline:.3g} s", (deadline, deadline), (0.0, max(counts)), Style.reference),
        )
    fleet, model = payload["fleet"], payload["model"]
    return Figure(
        f"{model['name']} on fleet {fleet['name']} ({fleet['clients']} clients)",
        (
            Panel(
                "client round times (every client of the fleet)",
                "round time (s)",
                "clients",
                series,
                (expected,),
                x_log=True,
                bars=(bars,),
            ),
        ),
    )
