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
    dtype: Annotated[str, typer.Option(help="fp32, or fp16/bf16 mixed precision (LLM default bf16)")] = "",
    optimizer: Annotated[str, typer.Option(help="sgd (momentum) or adam")] = "",
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
    top: Annotated[int, typer.Option(help="LLM: how many plans to list")] = 10,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare every strategy for a model on a cluster, rank them and recommend one (default: VGG-16 on
    PipeDream's Cluster-A, 4 servers)."""
    from planner.render import emit
    from planner.spec.catalog import find

    if objective not in OBJECTIVES:
        raise bad_option("--objective", f"one of {', '.join(OBJECTIVES)}", objective)
    spec = find("models", model) if not model.endswith("config.json") else None
    if spec is None or spec.spec == "llm":
        payload = _llm_payload(
            model,
            cluster,
            servers,
            global_batch,
            seq_len,
            dtype or "bf16",
            optimizer or "adam",
            tensor_parallel,
            pipeline_parallel,
            data_parallel,
            microbatch,
            top,
        )
        emit(payload, fmt, _llm_tables)
        return
    for option, value in (
        ("--tensor-parallel", tensor_parallel),
        ("--pipeline-parallel", pipeline_parallel),
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
        dtype=dtype or "fp32",
        optimizer=optimizer or "sgd",
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
    from planner.cli.dp import resolve_training
    from planner.optimize import plan

    resolved = resolve_training(
        model=model,
        cluster=cluster,
        servers=servers,
        devices=None,
        batch=batch,
        profile_batch=profile_batch,
        dtype=dtype,
        optimizer=optimizer,
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


def _llm_payload(
    model: str,
    cluster: str,
    servers: int | None,
    global_batch: int | None,
    seq_len: int | None,
    dtype: str,
    optimizer: str,
    t: int | None,
    p: int | None,
    d: int | None,
    b: int | None,
    top: int,
) -> dict[str, Any]:
    """The LLM search (or one configuration), via planner llm-parallel's payload, with a recommendation."""
    from planner.cli.llm_parallel import build_payload as llm_payload

    payload = llm_payload(
        model=model,
        cluster=cluster,
        servers=servers,
        global_batch=global_batch or DEFAULT_LLM_GLOBAL_BATCH,
        seq_len=seq_len,
        dtype=dtype,
        optimizer=optimizer,
        top=top,
        tensor_parallel=t,
        pipeline_parallel=p,
        data_parallel=d,
        microbatch=b,
    )
    if payload.get("mode") == "evaluate":
        one = payload["plan"]
        for key in ("time_per_iteration_s", "tflops_per_device", "memory_per_device_bytes", "feasible"):
            payload[key] = one[key]
        payload["recommendation"] = "the configuration as given" + (
            "" if one["feasible"] else " does not fit"
        )
        return payload
    plans = payload["search"].get("plans") or payload["search"].get("top") or []
    if plans:
        best = plans[0]
        payload["recommendation"] = (
            f"t={best['tensor_parallel']} p={best['pipeline_parallel']} d={best['data_parallel']} "
            f"b={best['microbatch']} v={best['interleave']} recompute={best['recompute']} "
            f"ZeRO-{best['zero_stage']}: {best['time_per_iteration_s']:.4g} s per iteration, "
            f"{best['tflops_per_device']:.0f} TFLOP/s per device, "
            f"{best['memory_per_device_bytes'] / 2**30:.1f} GiB per device"
        )
    else:
        payload["recommendation"] = "no configuration fits; see the reasons"
    return payload


def _llm_tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.cli.llm_parallel import _tables as llm_tables

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
    out: list[Any] = [make_table(title, cols, rows, right=numbers, keep=["strategy", "config"])]
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
