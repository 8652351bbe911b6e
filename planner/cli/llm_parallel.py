"""Plan LLM training with tensor × pipeline × data parallelism, micro-batching, interleaving, activation
recomputation and ZeRO: the fastest plans that fit in memory, and why the others do not.

MODEL: a catalog LLM (planner models list), an LLM YAML file, or a Hugging Face config.json.

Give --tensor-parallel, --pipeline-parallel, --data-parallel and --microbatch together to evaluate that one
configuration (--interleave, --recompute, --zero default to 1, full, 0). Otherwise every configuration on
the cluster's devices is searched; --tensor-parallel, --pipeline-parallel, --microbatch, --interleave,
--recompute and --zero then pin that part of the search. Exit 1 when no plan fits.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption, with_servers
from planner.limits import MAX_COUNT_OPTION
from planner.render import OutputFormat

MAX_WHOLE = MAX_COUNT_OPTION  # the largest count option the search takes (planner/limits.py)

RECOMPUTE_CHOICES = ("none", "selective", "full")


def command(
    model: Annotated[str, typer.Argument(help="catalog LLM, LLM YAML file, or a Hugging Face config.json")],
    cluster: Annotated[str, typer.Option("--cluster", help="catalog cluster name or a cluster YAML file")],
    global_batch: Annotated[int, typer.Option("--global-batch", help="sequences per iteration (B)")],
    seq_len: Annotated[
        int | None, typer.Option("--seq-len", help="tokens per sequence (default: the model's context)")
    ] = None,
    servers: Annotated[int | None, typer.Option(help="override the outermost level's count")] = None,
    devices: Annotated[int | None, typer.Option(help="devices to use (default: the whole cluster)")] = None,
    dtype: Annotated[str, typer.Option(help="bf16 / fp16 (mixed precision) or fp32")] = "bf16",
    optimizer: Annotated[str, typer.Option(help="adam or sgd (with momentum)")] = "adam",
    top: Annotated[int, typer.Option(help="how many plans to list")] = 10,
    tensor_parallel: Annotated[
        int | None, typer.Option("--tensor-parallel", "-t", help="tensor-parallel degree t")
    ] = None,
    pipeline_parallel: Annotated[
        int | None, typer.Option("--pipeline-parallel", "-p", help="pipeline stages p")
    ] = None,
    data_parallel: Annotated[
        int | None, typer.Option("--data-parallel", "-d", help="data-parallel replicas d")
    ] = None,
    microbatch: Annotated[int | None, typer.Option("--microbatch", "-b", help="micro-batch size b")] = None,
    interleave: Annotated[int | None, typer.Option(help="model chunks per device v (interleaving)")] = None,
    recompute: Annotated[
        str | None, typer.Option(help="activation recomputation: none, selective, full")
    ] = None,
    zero: Annotated[int | None, typer.Option(help="ZeRO stage 0-3")] = None,
    max_microbatch: Annotated[int, typer.Option(help="largest micro-batch size searched")] = 16,
    max_interleave: Annotated[int, typer.Option(help="largest interleaving searched")] = 8,
    sequence_parallel: Annotated[
        bool,
        typer.Option("--sequence-parallel/--no-sequence-parallel", help="shard activations tensor-parallel"),
    ] = True,
    overlap: Annotated[
        bool, typer.Option("--overlap/--no-overlap", help="overlap the gradient reduction with backward")
    ] = True,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Plan LLM training: tensor × pipeline × data parallelism, micro-batch, interleaving, recomputation,
    ZeRO; the fastest plans that fit and why the others fail (or one configuration with -t -p -d -b)."""
    from planner.render import emit

    payload = build_payload(
        model=model,
        cluster=cluster,
        servers=servers,
        devices=devices,
        global_batch=global_batch,
        seq_len=seq_len,
        dtype=dtype,
        optimizer=optimizer,
        top=top,
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        data_parallel=data_parallel,
        microbatch=microbatch,
        interleave=interleave,
        recompute=recompute,
        zero=zero,
        max_microbatch=max_microbatch,
        max_interleave=max_interleave,
        sequence_parallel=sequence_parallel,
        overlap=overlap,
    )
    emit(payload, fmt, _tables)


def _bad(option: str, expected: str, got: object = None, show_got: bool = True) -> Exception:
    from planner.errors import SpecError

    return SpecError(option, option.lstrip("-"), expected, got, show_got=show_got)


def build_payload(
    *,
    model: str,
    cluster: str,
    servers: int | None = None,
    devices: int | None = None,
    global_batch: int,
    seq_len: int | None = None,
    dtype: str = "bf16",
    optimizer: str = "adam",
    top: int = 10,
    tensor_parallel: int | None = None,
    pipeline_parallel: int | None = None,
    data_parallel: int | None = None,
    microbatch: int | None = None,
    interleave: int | None = None,
    recompute: str | None = None,
    zero: int | None = None,
    max_microbatch: int = 16,
    max_interleave: int = 8,
    sequence_parallel: bool = True,
    overlap: bool = True,
) -> dict[str, Any]:
    """Resolve and check the inputs, then search (or evaluate one configuration); the payload every output
    format renders. SpecError for bad input, InfeasibleError when a search finds no plan that fits."""
    from planner.cost.compute import TRAINING_DTYPES
    from planner.cost.memory import OPTIMIZERS
    from planner.errors import InfeasibleError
    from planner.optimize import parallelism as par
    from planner.spec.catalog import find
    from planner.spec.hf_config import load_llm

    whole = {
        "--servers": servers,
        "--devices": devices,
        "--global-batch": global_batch,
        "--seq-len": seq_len,
        "--top": top,
        "--tensor-parallel": tensor_parallel,
        "--pipeline-parallel": pipeline_parallel,
        "--data-parallel": data_parallel,
        "--microbatch": microbatch,
        "--interleave": interleave,
        "--max-microbatch": max_microbatch,
        "--max-interleave": max_interleave,
    }
    for option, value in whole.items():
        if value is not None and value < 1:
            raise _bad(option, "a whole number >= 1", value)
        if value is not None and value > MAX_WHOLE:  # the search works in int64 arrays
            raise _bad(option, f"a whole number at most {MAX_WHOLE:,}", value)
    if dtype not in TRAINING_DTYPES:
        raise _bad("--dtype", f"one of {', '.join(TRAINING_DTYPES)}", dtype)
    if optimizer not in OPTIMIZERS:
        raise _bad("--optimizer", f"one of {', '.join(OPTIMIZERS)}", optimizer)
    if recompute is not None and recompute not in RECOMPUTE_CHOICES:
        raise _bad("--recompute", f"one of {', '.join(RECOMPUTE_CHOICES)}", recompute)
    if zero is not None and zero not in (0, 1, 2, 3):
        raise _bad("--zero", "a ZeRO stage 0, 1, 2 or 3", zero)
    given = {
        "--tensor-parallel": tensor_parallel,
        "--pipeline-parallel": pipeline_parallel,
        "--data-parallel": data_parallel,
        "--microbatch": microbatch,
    }
    evaluate = data_parallel is not None
    if evaluate and any(value is None for value in given.values()):
        missing = ", ".join(option for option, value in given.items() if value is None)
        raise _bad(
            missing.split(", ")[0],
            f"with --data-parallel, all of --tensor-parallel, --pipeline-parallel, --data-parallel and "
            f"--microbatch (missing: {missing})",
            show_got=False,
        )

    llm = load_llm(model)
    if llm.architecture != "decoder":
        raise _bad("MODEL", f"a decoder-only LLM; '{llm.name}' is an encoder-decoder model", show_got=False)
    machine = find("hardware", cluster, ("cluster",))
    if servers is not None:
        machine = with_servers(machine, servers)
    length = llm.max_sequence_length if seq_len is None else seq_len
    if length > llm.max_sequence_length:
        raise _bad("--seq-len", f"at most {llm.name}'s context of {llm.max_sequence_length} tokens", length)
    used = devices
    if evaluate:
        product = tensor_parallel * pipeline_parallel * data_parallel  # type: ignore[operator]
        if devices is not None and devices != product:
            raise _bad("--devices", f"t·p·d = {product} when the configuration is given", devices)
        used = product
    if used is not None and used > machine.total_devices:
        option = "--data-parallel" if evaluate else "--devices"
        raise _bad(
            option, f"at most the cluster's {machine.total_devices} devices in all (t·p·d = {used})", used
        )
    try:
        setup = par.TrainingSetup(
            model=llm,
            cluster=machine,
            global_batch=global_batch,
            seq_len=length,
            dtype=dtype,
            optimizer=optimizer,
            devices=used,
            sequence_parallel=sequence_parallel,
            overlap_grad_reduce=overlap,
        )
    except ValueError as exc:
        raise _bad("--dtype", str(exc), show_got=False) from None

    inputs = {
        "model": llm.name,
        "cluster": machine.name,
        "device": machine.device.name,
        "devices": setup.device_count,
        "devices_per_server": machine.devices_per_server,
        "global_batch": global_batch,
        "seq_len": length,
        "dtype": dtype,
        "optimizer": optimizer,
        "sequence_parallel": sequence_parallel,
        "overlap_grad_reduce": overlap,
        "device_memory_bytes": machine.device.memory,
    }
    if evaluate:
        plan = par.evaluate_configuration(
            setup,
            tensor=tensor_parallel,  # type: ignore[arg-type]
            pipeline=pipeline_parallel,  # type: ignore[arg-type]
            data=data_parallel,
            microbatch=microbatch,  # type: ignore[arg-type]
            interleave=1 if interleave is None else interleave,
            recompute="full" if recompute is None else recompute,
            zero=0 if zero is None else zero,
        )
        return {"mode": "evaluate", "inputs": inputs, "plan": plan.to_dict()}

    result = par.search(
        setup,
        top=top,
        max_microbatch=max_microbatch,
        max_interleave=max_interleave,
        recompute=par.RECOMPUTE if recompute is None else (recompute,),
        zero=par.ZERO_STAGES if zero is None else (zero,),
        tensor=tensor_parallel,
        pipeline=pipeline_parallel,
        microbatch=microbatch,
        interleave=interleave,
    )
    if not result.plans:
        counts = ", ".join(f"{n:,} on {reason}" for reason, n in result.rejected.items() if n)
        smallest = result.smallest_memory_bytes
        need = "" if smallest is None else f"; the smallest plan needs {smallest / 2**30:.1f} GiB per device"
        raise InfeasibleError(
            f"no feasible plan for {llm.name} on {setup.device_count} x {machine.device.name} "
            f"({machine.device.memory / 2**30:.0f} GiB each): {result.candidates:,} candidates fail "
            f"({counts}){need}"
        )
    return {"mode": "search", "inputs": inputs, "search": result.to_dict()}


def _known(value: float | None) -> bool:
    import math

    return value is not None and math.isfinite(value)


def _size(value: float | None) -> str:
    from planner.units import format_quantity

    return format_quantity(value, "memory") if _known(value) else "-"  # type: ignore[arg-type]


def _time(value: float | None) -> str:
    from planner.units import format_quantity

    return format_quantity(value, "time") if _known(value) else "-"  # type: ignore[arg-type]


def _tables(payload: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.render import make_table

    inputs = payload["inputs"]
    title = (
        f"{inputs['model']} on {inputs['devices']} x {inputs['device']} ({inputs['cluster']}, "
        f"{inputs['devices_per_server']} per server, {_size(inputs['device_memory_bytes'])} each): global "
        f"batch {inputs['global_batch']} x {inputs['seq_len']} tokens, {inputs['dtype']}, "
        f"{inputs['optimizer']}"
    )
    out: list[Any] = [Text(title, style="bold")]
    if payload["mode"] == "evaluate":
        out.extend(_plan_tables(payload["plan"]))
        return out
    found = payload["search"]
    columns = ["#", "t", "p", "d", "b", "v", "recompute", "ZeRO", "time/iter", "TFLOP/s/dev", "MFU"]
    columns += ["memory/dev", "bubble"]
    rows = [
        (
            i,
            plan["tensor_parallel"],
            plan["pipeline_parallel"],
            plan["data_parallel"],
            plan["microbatch"],
            plan["interleave"],
            plan["recompute"],
            plan["zero_stage"],
            _time(plan["time_per_iteration_s"]),
            f"{plan['tflops_per_device']:.1f}",
            f"{plan['mfu'] * 100:.1f}%",
            _size(plan["memory_per_device_bytes"]),
            f"{plan['bubble_overhead'] * 100:.1f}%",
        )
        for i, plan in enumerate(found["plans"], start=1)
    ]
    numbers = [c for c in columns if c not in ("recompute",)]
    out.append(
        make_table(
            f"Top {len(rows)} of {found['feasible']:,} feasible plans ({found['candidates']:,} candidates)",
            columns,
            rows,
            right=numbers,
        )
    )
    rejected = [(reason, f"{count:,}") for reason, count in found["rejected"].items()] + [
        ("  " + code, f"{count:,}") for code, count in found["rejected_details"].items() if count
    ]
    out.append(make_table("Rejected candidates", ["reason", "count"], rejected, right=["count"]))
    best = found["plans"][0]
    out.append(
        Text(
            f"best: t={best['tensor_parallel']} p={best['pipeline_parallel']} d={best['data_parallel']} "
            f"b={best['microbatch']} v={best['interleave']} recompute={best['recompute']} "
            f"ZeRO-{best['zero_stage']}: {_time(best['time_per_iteration_s'])} per iteration, "
            f"{_size(best['memory_per_device_bytes'])} per device"
        )
    )
    return out


def _plan_tables(plan: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    from planner.render import make_table

    config = (
        f"t={plan['tensor_parallel']} p={plan['pipeline_parallel']} d={plan['data_parallel']} "
        f"b={plan['microbatch']} v={plan['interleave']} recompute={plan['recompute']} "
        f"ZeRO-{plan['zero_stage']}"
    )
    status = "feasible" if plan["feasible"] else "NOT FEASIBLE"
    rows = [
        ("time per iteration", _time(plan["time_per_iteration_s"])),
        ("micro-batches per pipeline (m)", f"{plan['microbatches']:g}"),
        ("TFLOP/s per device (executed)", f"{plan['tflops_per_device']:.1f}"),
        ("TFLOP/s per device (model)", f"{plan['model_tflops_per_device']:.1f}"),
        ("MFU", f"{plan['mfu'] * 100:.1f}%"),
        ("tokens/s", f"{plan['tokens_per_s']:,.0f}"),
        ("memory per device", _size(plan["memory_per_device_bytes"])),
    ]
    rows += [
        (name.removesuffix("_s").replace("_", " "), _time(v)) for name, v in plan["time_breakdown_s"].items()
    ]
    memory = plan["memory_breakdown_bytes"]
    rows += [
        (f"memory: {name.replace('_', ' ')}", _size(v) if name != "stage" else str(v))
        for name, v in memory.items()
    ]
    out: list[Any] = [make_table(f"{config} ({status})", ["quantity", "value"], rows, right=["value"])]
    out.extend(Text(f"why not: {reason}") for reason in plan["reasons"])
    return out
