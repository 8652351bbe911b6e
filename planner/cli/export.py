"""Export a plan so an engine can run it: torch.distributed.pipelining, PipeDream, DeepSpeed, Megatron-LM.

Each command plans as its planning command does (same options, same payload builder) and writes what
the engine reads:

  planner export pipeline MODEL --cluster C --to torch|pipedream|deepspeed   (planner pipeline partition)
  planner export dp MODEL --cluster C [--zero 0-3] --to deepspeed            (planner dp)
  planner export llm MODEL --cluster C --global-batch B --to megatron|deepspeed   (planner llm-parallel)

Output: the engine's text on stdout (a Python split_spec, the stage_to_num_ranks map, a DeepSpeed config
JSON, Megatron-LM arguments) and a summary with notes on stderr; --format json|yaml prints everything
(structured forms, checks, notes) instead. --output FILE writes what stdout would get, never over an
existing file unless --force. A plan the engine cannot express exits 1 with the reason instead of a
configuration that would run something else.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from planner.api.llm import LLMOptions
from planner.cli.common import FormatOption, bad_option, force_help
from planner.render import OutputFormat

app = typer.Typer(
    no_args_is_help=True,
    epilog="The engine's text goes to stdout (or --output FILE, never over a file without --force), a "
    "summary and notes to stderr; --format json|yaml prints everything. Exit 1: the engine cannot express "
    "the plan (the reason is printed); exit 2: bad input.",
)

PIPELINE_TARGETS = ("torch", "pipedream", "deepspeed")
DP_TARGETS = ("deepspeed",)
LLM_TARGETS = ("megatron", "deepspeed")

OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="write to this file instead of stdout")
]
ForceOption = Annotated[bool, typer.Option("--force", help=force_help("--output"))]
ClusterOption = Annotated[str, typer.Option("--cluster", help="catalog cluster name or a cluster YAML file")]
ServersOption = Annotated[int | None, typer.Option(help="override the cluster's outermost count")]


def _target(to: str, allowed: tuple[str, ...]) -> str:
    if to not in allowed:
        raise bad_option("--to", f"one of {', '.join(allowed)}", to)
    return to


def _deliver(
    payload: dict[str, Any], fmt: OutputFormat, output: Path | None, force: bool, summary: list[Any]
) -> None:
    """The artifact (table format) or the whole payload (json/yaml) to stdout or --output; the summary
    and notes to stderr in table format."""
    from planner.fileout import write_text
    from planner.render import dumps

    text = payload["artifact"] if fmt is OutputFormat.table else dumps(payload, fmt)
    if output is not None:
        write_text(output, text, setting="--output", force=force)
    else:
        sys.stdout.write(text)
    if fmt is OutputFormat.table:
        from rich.console import Console

        console = Console(stderr=True)
        for item in summary:
            console.print(item)
        for note in payload["notes"]:
            console.print(f"note: {note}", highlight=False)
        if output is not None:
            console.print(
                f"wrote {payload['engine']} {payload['artifact_kind']} to {output}", highlight=False
            )


def _check_output(output: Path | None, force: bool) -> None:
    if output is not None:
        from planner.fileout import check_target

        check_target(output, setting="--output", force=force)


# ------------------------------------------------------------------------------------------ pipeline


@app.command("pipeline")
def pipeline(
    model: Annotated[
        str, typer.Argument(help="measured profile (PipeDream graph.txt, profile YAML) or CNN architecture")
    ],
    to: Annotated[str, typer.Option("--to", help="torch (split_spec), pipedream (ranks map), deepspeed")],
    cluster: Annotated[
        str | None, typer.Option(help="catalog cluster name or a cluster YAML file (or give --levels)")
    ] = None,
    servers: ServersOption = None,
    levels: Annotated[
        str | None,
        typer.Option(help="count:bandwidth per level, innermost first, e.g. '4:10GB/s,4:1.25GB/s'"),
    ] = None,
    cost_model: Annotated[str, typer.Option(help="native (the default) or pipedream")] = "native",
    straight: Annotated[
        bool, typer.Option("--straight", help="no replication: one device per stage")
    ] = False,
    memory: Annotated[str | None, typer.Option(help="memory limit per device, e.g. 16GB")] = None,
    activation_compression: Annotated[
        float | None, typer.Option(help="divide activation transfer bytes by R")
    ] = None,
    use_fewer_machines: Annotated[
        bool, typer.Option("--use-fewer-machines", help="allow a plan that leaves devices idle")
    ] = False,
    batch: Annotated[
        int | None, typer.Option(help="samples per minibatch for a CNN architecture (default 128)")
    ] = None,
    microbatches: Annotated[
        int | None,
        typer.Option(
            help="deepspeed: micro-batches per step (gradient_accumulation_steps; default 4 × stages)"
        ),
    ] = None,
    profile_batch: Annotated[
        int | None,
        typer.Option(help="deepspeed: samples per minibatch of a profile that does not state it (graph.txt)"),
    ] = None,
    output: OutputOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """A pipeline plan (planner pipeline partition) for torch, PipeDream or DeepSpeed.

    torch: split_spec for torch.distributed.pipelining (SplitPoint.BEGINNING at each stage's start).

    pipedream: the stage_to_num_ranks map ("0:15,1:1"), each node's stage, the stage_to_rank_map.

    deepspeed: PipelineModule partition_method and config JSON (exit 1 if no method gives the split).

    deepspeed: a micro-batch is the plan's minibatch; a step is --microbatches micro-batches.
    """
    from planner.cli.pipeline_partition import build_payload
    from planner.export import PipelinePlan

    target = _target(to, PIPELINE_TARGETS)
    for option, value in (("--microbatches", microbatches), ("--profile-batch", profile_batch)):
        if value is not None and target != "deepspeed":
            raise bad_option(option, "only with --to deepspeed", value)
        if value is not None and value < 1:
            raise bad_option(option, "a whole number >= 1", value)
    _check_output(output, force)
    payload = build_payload(
        model=model,
        cluster=cluster,
        servers=servers,
        levels=levels,
        cost_model=cost_model,
        straight=straight,
        memory=memory,
        activation_compression=activation_compression,
        use_fewer_machines=use_fewer_machines,
        batch=batch,
    )
    profile = _profile(model, payload["batch"])
    plan = PipelinePlan.from_payload(payload, [layer.name for layer in profile.layers])
    if target == "torch":
        from planner.export import torch_pipelining

        result = torch_pipelining.export(plan)
    elif target == "pipedream":
        from planner.export import pipedream_ranks

        result = pipedream_ranks.export(plan)
    else:
        result = _deepspeed_pipeline(plan, profile, payload["batch"], microbatches, profile_batch)
    result.update(
        target=target,
        model=payload["model"],
        cluster=payload["cluster"],
        cost_model=payload["cost_model"],
        pipeline_config=payload["config"],
        pipeline_time_s=payload["pipeline_time_s"],
        num_devices=payload["num_devices"],
        devices_used=payload["devices_used"],
    )
    _deliver(result, fmt, output, force, _pipeline_summary(payload))


def _profile(model: str, batch: int | None) -> Any:
    """The profile the plan partitioned (layer order, parameter counts, dtype); a CNN architecture is
    derived (its layers and parameters do not depend on the batch)."""
    from planner.spec.catalog import find

    spec = find("models", model)
    if spec.spec == "cnn":
        from planner.cost.layers import derive_profile

        return derive_profile(spec, batch or 1)
    return spec


def _deepspeed_pipeline(
    plan: Any, profile: Any, batch: int | None, microbatches: int | None, profile_batch: int | None
) -> dict[str, Any]:
    from planner.export import deepspeed
    from planner.optimize.balance import microbatch_advice

    if batch is not None and profile_batch is not None and batch != profile_batch:
        raise bad_option("--profile-batch", f"the profile's own minibatch, {batch}", profile_batch)
    micro = batch if batch is not None else profile_batch
    if micro is None:
        raise bad_option(
            "--profile-batch",
            f"the samples per minibatch of '{profile.name}' (DeepSpeed's micro-batch size), which the "
            "profile does not state",
            show_got=False,
        )
    if profile.dtype not in deepspeed.PRECISIONS:
        raise bad_option("MODEL", f"a profile in {', '.join(deepspeed.PRECISIONS)}", profile.dtype)
    count = (
        microbatches if microbatches is not None else microbatch_advice(plan.num_stages).minimum_microbatches
    )
    return deepspeed.pipeline_export(
        plan,
        [layer.parameters for layer in profile.layers],
        micro_batch=micro,
        microbatches=count,
        dtype=profile.dtype,
    )


def _ranges(devices: list[int]) -> str:
    """ "0-11", or "0,2,4" when the devices are not consecutive."""
    if devices == list(range(devices[0], devices[-1] + 1)) and len(devices) > 1:
        return f"{devices[0]}-{devices[-1]}"
    return ",".join(map(str, devices))


def _pipeline_summary(payload: dict[str, Any]) -> list[Any]:
    from planner.render import make_table
    from planner.units import format_quantity

    rows = []
    for k, stage in enumerate(payload["stages"]):
        names = stage["layer_names"]
        span = names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"
        rows.append([str(k), span, str(len(names)), str(stage["replicas"]), _ranges(stage["devices"])])
    title = (
        f"{payload['model']}: {payload['config']} on {payload['devices_used']} of {payload['num_devices']} "
        f"devices, {format_quantity(payload['pipeline_time_s'], 'time')} per minibatch "
        f"({payload['cost_model']} cost model)"
    )
    return [make_table(title, ["stage", "layers", "count", "replicas", "devices"], rows, right=["count"])]


# ------------------------------------------------------------------------------------------------ dp


@app.command("dp")
def dp(
    model: Annotated[str, typer.Argument(help="catalog model (CNN architecture or profile) or a file")],
    cluster: ClusterOption,
    to: Annotated[str, typer.Option("--to", help="deepspeed")] = "deepspeed",
    servers: ServersOption = None,
    devices: Annotated[int | None, typer.Option(help="devices to use (default: the whole cluster)")] = None,
    batch: Annotated[
        int | None, typer.Option(help="samples per device (with --global-batch: the global batch)")
    ] = None,
    global_batch: Annotated[
        bool, typer.Option("--global-batch", help="--batch is the global batch (strong scaling)")
    ] = False,
    profile_batch: Annotated[
        int | None, typer.Option(help="samples per minibatch of a profile that does not state it")
    ] = None,
    dtype: Annotated[str, typer.Option(help="fp32, or fp16 / bf16 mixed precision")] = "fp32",
    optimizer: Annotated[str, typer.Option(help="sgd (with momentum) or adam")] = "sgd",
    zero: Annotated[int, typer.Option(help="ZeRO stage 0-3 for the config")] = 0,
    output: OutputOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """A data-parallel plan (planner dp) as a DeepSpeed config JSON.

    Micro-batch = the batch per GPU, no accumulation, ZeRO stage --zero, precision --dtype.

    train_batch_size = micro-batch × accumulation steps × data-parallel GPUs.
    """
    from planner.api.dp import DPOptions, data_parallel
    from planner.export import deepspeed

    _target(to, DP_TARGETS)
    if zero not in (0, 1, 2, 3):
        raise bad_option("--zero", "a ZeRO stage 0, 1, 2 or 3", zero)
    _check_output(output, force)
    options = DPOptions(
        servers=servers,
        devices=devices,
        batch=batch,
        global_batch=global_batch,
        profile_batch=profile_batch,
        dtype=dtype,
        optimizer=optimizer,
    )
    payload = data_parallel(model, cluster, options).to_dict()
    result = deepspeed.dp_export(payload, zero)
    plan = payload["plan"]
    result.update(
        target="deepspeed",
        model=model,
        cluster=payload["inputs"]["cluster"],
        devices=plan["devices"],
        iteration_s=plan["iteration_s"],
        memory_per_device_bytes=plan["memory_per_device_bytes"],
    )
    title = f"{model}: data parallel on {plan['devices']} devices ({plan['algorithm']} all-reduce)"
    _deliver(result, fmt, output, force, [_kv_summary(title, result)])


def _kv_summary(title: str, result: dict[str, Any]) -> Any:
    from planner.render import make_table

    config = result["config"]
    rows = [
        ("train_batch_size", str(config["train_batch_size"])),
        ("train_micro_batch_size_per_gpu", str(config["train_micro_batch_size_per_gpu"])),
        ("gradient_accumulation_steps", str(config["gradient_accumulation_steps"])),
        ("data-parallel size", str(result["data_parallel_size"])),
        ("zero_optimization.stage", str(config["zero_optimization"]["stage"])),
        (
            "precision",
            "bf16" if config["bf16"]["enabled"] else "fp16" if config["fp16"]["enabled"] else "fp32",
        ),
    ]
    return make_table(title, ["DeepSpeed", "value"], rows)


# ----------------------------------------------------------------------------------------------- llm


@app.command("llm")
def llm(
    model: Annotated[str, typer.Argument(help="catalog LLM, LLM YAML file, or a Hugging Face config.json")],
    cluster: ClusterOption,
    global_batch: Annotated[int, typer.Option("--global-batch", help="sequences per iteration (B)")],
    to: Annotated[str, typer.Option("--to", help="megatron (arguments) or deepspeed (config JSON)")],
    rank: Annotated[int, typer.Option(help="export the plan ranked this (1 = the fastest)")] = 1,
    seq_len: Annotated[
        int | None, typer.Option("--seq-len", help="tokens per sequence (default: the model's context)")
    ] = None,
    servers: ServersOption = None,
    devices: Annotated[int | None, typer.Option(help="devices to use (default: the whole cluster)")] = None,
    dtype: Annotated[str, typer.Option(help="bf16 / fp16 (mixed precision) or fp32")] = LLMOptions.dtype,
    optimizer: Annotated[str, typer.Option(help="adam or sgd (with momentum)")] = LLMOptions.optimizer,
    tensor_parallel: Annotated[int | None, typer.Option("--tensor-parallel", "-t", help="degree t")] = None,
    pipeline_parallel: Annotated[
        int | None, typer.Option("--pipeline-parallel", "-p", help="stages p")
    ] = None,
    data_parallel: Annotated[int | None, typer.Option("--data-parallel", "-d", help="replicas d")] = None,
    microbatch: Annotated[int | None, typer.Option("--microbatch", "-b", help="micro-batch size b")] = None,
    interleave: Annotated[int | None, typer.Option(help="model chunks per device v")] = None,
    recompute: Annotated[str | None, typer.Option(help="none, selective or full")] = None,
    zero: Annotated[int | None, typer.Option(help="ZeRO stage 0-3")] = None,
    sequence_parallel: Annotated[
        bool, typer.Option("--sequence-parallel/--no-sequence-parallel", help="shard activations (t > 1)")
    ] = True,
    overlap: Annotated[
        bool, typer.Option("--overlap/--no-overlap", help="overlap the gradient reduction with backward")
    ] = True,
    output: OutputOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """An LLM plan (planner llm-parallel) as Megatron-LM arguments or a DeepSpeed config JSON.

    The search's --rank-th plan, or the configuration given by -t -p -d -b.

    Exit 1 when the engine cannot run the plan as planned (e.g. ZeRO-2/3 with pipeline stages).
    """
    from planner.api.llm import llm_parallel
    from planner.errors import InfeasibleError
    from planner.export import deepspeed, megatron
    from planner.spec.hf_config import load_llm

    target = _target(to, LLM_TARGETS)
    if rank < 1:
        raise bad_option("--rank", "a whole number >= 1", rank)
    _check_output(output, force)
    options = LLMOptions(
        global_batch=global_batch,
        seq_len=seq_len,
        servers=servers,
        devices=devices,
        dtype=dtype,
        optimizer=optimizer,
        top=rank,
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        data_parallel=data_parallel,
        microbatch=microbatch,
        interleave=interleave,
        recompute=recompute,
        zero=zero,
        sequence_parallel=sequence_parallel,
        overlap=overlap,
    )
    payload = llm_parallel(model, cluster, options).to_dict()
    if payload["mode"] == "evaluate":
        plan = payload["plan"]
        if not plan["feasible"]:
            raise InfeasibleError(f"the configuration is not feasible: {'; '.join(plan['reasons'])}")
    else:
        plans = payload["search"]["plans"]
        if rank > len(plans):
            raise bad_option("--rank", f"at most the {len(plans)} feasible plan(s)", rank)
        plan = plans[rank - 1]
    inputs = payload["inputs"]
    config = load_llm(model)
    if target == "megatron":
        result = megatron.export(plan, inputs, config)
    else:
        result = deepspeed.llm_export(plan, inputs, config.num_layers)
    result.update(
        target=target,
        model=inputs["model"],
        cluster=inputs["cluster"],
        devices=inputs["devices"],
        plan={key: plan[key] for key in _PLAN_KEYS},
        time_per_iteration_s=plan["time_per_iteration_s"],
        memory_per_device_bytes=plan["memory_per_device_bytes"],
    )
    _deliver(result, fmt, output, force, [_llm_summary(result)])


_PLAN_KEYS = (
    "tensor_parallel",
    "pipeline_parallel",
    "data_parallel",
    "microbatch",
    "interleave",
    "recompute",
    "zero_stage",
)


def _llm_summary(result: dict[str, Any]) -> Any:
    from planner.render import make_table
    from planner.units import format_quantity

    plan = result["plan"]
    rows = [(key, str(plan[key])) for key in _PLAN_KEYS]
    rows += [
        ("time per iteration", format_quantity(result["time_per_iteration_s"], "time")),
        ("memory per device", format_quantity(result["memory_per_device_bytes"], "memory")),
        ("world size", str(result["devices"])),
    ]
    title = f"{result['model']} on {result['cluster']}: the plan exported to {result['engine']}"
    return make_table(title, ["plan", "value"], rows)
