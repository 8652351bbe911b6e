"""Compare every strategy for a model on a cluster, rank them and recommend one.

With no arguments: VGG-16 on PipeDream's Cluster-A (4 servers x 4 V100 PCIe, 10 Gbps between servers),
32 images per device. An LLM (catalog name or config) gets the tensor x pipeline x data search instead.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption, bad_option
from planner.render import OutputFormat, fmt_bytes, fmt_time

DEFAULT_MODEL = "vgg16"
DEFAULT_CLUSTER = "pipedream-cluster-a"
DEFAULT_LLM_GLOBAL_BATCH = 1024  # sequences per iteration when --global-batch is not given
OBJECTIVES = ("throughput", "latency")


def command(
    model: Annotated[
        str, typer.Argument(help="catalog model or file (CNN, profile, graph.txt, LLM)")
    ] = DEFAULT_MODEL,
    cluster: Annotated[str, typer.Option(help="catalog cluster or cluster YAML file")] = DEFAULT_CLUSTER,
    servers: Annotated[int | None, typer.Option(help="override the outermost level's count")] = None,
    batch: Annotated[
        int | None, typer.Option(help="samples per device per iteration (CNN default 32; a profile: its own)")
    ] = None,
    profile_batch: Annotated[
        int | None, typer.Option(help="samples a measured profile's minibatch covers (graph.txt)")
    ] = None,
    dtype: Annotated[
        str | None, typer.Option(help="fp32, or fp16/bf16 mixed precision (default: fp32; an LLM bf16)")
    ] = None,
    optimizer: Annotated[
        str | None, typer.Option(help="sgd (momentum) or adam (default: sgd; an LLM adam)")
    ] = None,
    objective: Annotated[str, typer.Option(help="throughput (samples/s) or latency (time per iteration)")] = (
        "throughput"
    ),
    explain: Annotated[bool, typer.Option("--explain", help="the cost breakdown of the winner")] = False,
    sensitivity: Annotated[
        bool, typer.Option("--sensitivity", help="±20% on each hardware figure: the winner's time, flips")
    ] = False,
    global_batch: Annotated[
        int | None, typer.Option(help="LLM: sequences per iteration (default 1024)")
    ] = None,
    seq_len: Annotated[
        int | None, typer.Option(help="LLM: tokens per sequence (default: its context)")
    ] = None,
    tensor_parallel: Annotated[int | None, typer.Option("--tensor-parallel", "-t", help="LLM: t")] = None,
    pipeline_parallel: Annotated[int | None, typer.Option("--pipeline-parallel", "-p", help="LLM: p")] = None,
    data_parallel: Annotated[int | None, typer.Option("--data-parallel", "-d", help="LLM: d")] = None,
    microbatch: Annotated[int | None, typer.Option("--microbatch", "-b", help="LLM: micro-batch b")] = None,
    interleave: Annotated[int | None, typer.Option(help="LLM: model chunks per device v")] = None,
    recompute: Annotated[str | None, typer.Option(help="LLM: none, selective or full")] = None,
    zero: Annotated[int | None, typer.Option(help="LLM: ZeRO stage 0-3")] = None,
    top: Annotated[int, typer.Option(help="LLM: how many plans to list")] = 10,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare every strategy for a model on a cluster, rank them and recommend one (default: VGG-16 on
    PipeDream's Cluster-A, 4 servers)."""
    from planner.render import emit
    from planner.spec.catalog import find

    if objective not in OBJECTIVES:
        raise bad_option("--objective", f"one of {', '.join(OBJECTIVES)}", objective)
    spec = find("models", model)  # a Hugging Face config.json is an LLM too
    if spec is None or spec.spec == "llm":
        from planner.api.llm import LLMOptions

        options = LLMOptions(
            global_batch=DEFAULT_LLM_GLOBAL_BATCH if global_batch is None else global_batch,
            seq_len=seq_len,
            servers=servers,
            dtype=LLMOptions.dtype if dtype is None else dtype,
            optimizer=LLMOptions.optimizer if optimizer is None else optimizer,
            top=top,
            tensor_parallel=tensor_parallel,
            pipeline_parallel=pipeline_parallel,
            data_parallel=data_parallel,
            microbatch=microbatch,
            interleave=interleave,
            recompute=recompute,
            zero=zero,
        )
        emit(_llm_payload(model, cluster, options), fmt, _llm_tables)
        return
    for option, value in (
        ("--tensor-parallel", tensor_parallel),
        ("--pipeline-parallel", pipeline_parallel),
        ("--data-parallel", data_parallel),
        ("--microbatch", microbatch),
        ("--interleave", interleave),
        ("--recompute", recompute),
        ("--zero", zero),
        ("--global-batch", global_batch),
        ("--seq-len", seq_len),
    ):
        if value is not None:
            raise bad_option(option, f"only for an LLM; '{model}' is a {spec.spec}", show_got=False)
    payload = build_payload(
        model=model,
        cluster=cluster,
        servers=servers,
        batch=batch,
        profile_batch=profile_batch,
        dtype="fp32" if dtype is None else dtype,
        optimizer="sgd" if optimizer is None else optimizer,
        objective=objective,
        sensitivity=sensitivity,
    )
    emit(payload, fmt, lambda p: _tables(p, explain))


def build_payload(
    *,
    model: str,
    cluster: str,
    servers: int | None,
    batch: int | None,
    profile_batch: int | None,
    dtype: str,
    optimizer: str,
    objective: str,
    sensitivity: bool,
) -> dict[str, Any]:
    """Resolve the inputs, compare the strategies, and return the payload every format renders."""
    from planner.api.training import TrainingOptions, resolve_training
    from planner.optimize import plan

    resolved = resolve_training(
        model,
        cluster,
        TrainingOptions(
            servers=servers, batch=batch, profile_batch=profile_batch, dtype=dtype, optimizer=optimizer
        ),
    )
    comparison = plan.compare(resolved.setup, resolved.profile, resolved.batch, objective)  # type: ignore[arg-type]
    machine = resolved.setup.cluster
    price = machine.price
    payload: dict[str, Any] = {
        "inputs": {
            "model": model,
            "cluster": machine.name,
            "device": machine.device.name,
            "devices": machine.total_devices,
            "servers": machine.levels[-1].count,
            "batch_per_device": resolved.batch,
            "dtype": dtype,
            "optimizer": optimizer,
            "objective": objective,
            "work": "measured times" if resolved.setup.arrays.measured else "FLOP (roofline)",
            "price": None
            if price is None
            else {"usd_per_server_hour": price.usd_per_hour, "date": price.date, "source": price.source},
        },
        "strategies": [s.to_dict() for s in comparison.strategies],
        "not_evaluated": list(comparison.infeasible),
        "recommendation": comparison.recommendation,
        "winner": None if comparison.winner is None else comparison.winner.name,
    }
    if sensitivity:
        rows = plan.sensitivity(resolved.setup, resolved.profile, resolved.batch, comparison)
        payload["sensitivity"] = rows
        payload["most_sensitive"] = max(
            rows,
            key=lambda r: max(
                abs(r["minus_winner_change_pct"] or 0.0), abs(r["plus_winner_change_pct"] or 0.0)
            ),
            default={"factor": None},
        )["factor"]
        payload["ranking_flips"] = sorted(
            {f"{r['factor']} {sign}" for r in rows for sign in ("minus", "plus") if r[f"{sign}_new_winner"]}
        )
    return payload


def _llm_payload(model: str, cluster: str, options: Any) -> dict[str, Any]:
    """The LLM search (or one configuration) of planner.api.llm, with a recommendation; exit 1 when the
    configuration given does not fit."""
    from planner.api.llm import describe, llm_parallel
    from planner.errors import InfeasibleError

    result = llm_parallel(model, cluster, options)
    payload = result.to_dict()
    best = result.best
    assert best is not None  # a search without a feasible plan raised InfeasibleError
    if result.plan is not None and not best.feasible:
        raise InfeasibleError(f"{describe(best)} does not fit: {'; '.join(best.reasons)}")
    if result.plan is not None:
        for key in ("time_per_iteration_s", "tflops_per_device", "memory_per_device_bytes", "feasible"):
            payload[key] = getattr(best, key)
    payload["recommendation"] = (
        f"{describe(best)}: {best.time_per_iteration_s:.4g} s per iteration, {best.tflops_per_device:.0f} "
        f"TFLOP/s per device, {best.memory_per_device_bytes / 2**30:.1f} GiB per device"
    )
    return payload


def _llm_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.render.llm import llm_tables

    return [*llm_tables(payload), Text(f"recommendation: {payload['recommendation']}", style="bold")]


def _tables(payload: dict[str, Any], explain: bool) -> list[Any]:
    from rich.text import Text

    from planner.render import make_table

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
        "speedup",
        "eff.",
        "mem/device",
        "$/1M samples",
        "fits",
    ]
    numbers = ["#", "devices", "iteration", "samples/s", "speedup", "eff.", "mem/device", "$/1M samples"]
    secondary = ["#", "devices", "fits", "eff.", "$/1M samples", "mem/device"]
    out: list[Any] = [
        make_table(title, cols, rows, right=numbers, keep=["strategy", "config"], secondary=secondary)
    ]
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
