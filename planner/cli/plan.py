"""Compare every strategy for a model on a cluster, rank them and recommend one.

With no arguments: VGG-16 on PipeDream's Cluster-A (4 servers x 4 V100 PCIe, 10 Gbps between servers),
32 images per device. An LLM (catalog name or config) gets the tensor x pipeline x data search instead.
--export TARGET FILE writes exactly the recommended plan for an engine (planner export's forms).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from planner.api.llm import CONFIGURATION, LLMOptions
from planner.api.plan import DEFAULT_CLUSTER, DEFAULT_LLM_GLOBAL_BATCH, DEFAULT_MODEL, PlanOptions
from planner.cli.common import FormatOption, bad_option, force_help
from planner.render import OutputFormat

CNN, LLM = PlanOptions, LLMOptions  # every default is the API's, defined once
LLM_ONLY = (*CONFIGURATION, "interleave", "recompute", "zero", "global_batch", "seq_len")


def command(
    model: Annotated[
        str, typer.Argument(help="catalog model or file (CNN, profile, graph.txt, LLM, HF config.json)")
    ] = DEFAULT_MODEL,
    cluster: Annotated[str, typer.Option(help="catalog cluster or cluster YAML file")] = DEFAULT_CLUSTER,
    servers: Annotated[int | None, typer.Option(help="override the outermost level's count")] = None,
    batch: Annotated[
        int | None, typer.Option(help="samples per device per iteration (CNN default 32; a profile: its own)")
    ] = CNN.batch,
    profile_batch: Annotated[
        int | None, typer.Option(help="samples a measured profile's minibatch covers (graph.txt)")
    ] = CNN.profile_batch,
    dtype: Annotated[
        str | None,
        typer.Option(help=f"fp32, or fp16/bf16 mixed precision (default: {CNN.dtype}; an LLM {LLM.dtype})"),
    ] = None,
    optimizer: Annotated[
        str | None,
        typer.Option(help=f"sgd (momentum) or adam (default: {CNN.optimizer}; an LLM {LLM.optimizer})"),
    ] = None,
    objective: Annotated[
        str, typer.Option(help="throughput (samples/s) or latency (time per iteration)")
    ] = CNN.objective,
    explain: Annotated[bool, typer.Option("--explain", help="the cost breakdown of the winner")] = False,
    rematerialise: Annotated[
        bool | None,
        typer.Option(
            "--rematerialise/--no-rematerialise",
            help=f"GPipe recomputes activations in the backward (default: {CNN.rematerialise})",
        ),
    ] = None,
    sensitivity: Annotated[
        bool, typer.Option("--sensitivity", help="±20% on each hardware figure: the winner's time, flips")
    ] = CNN.sensitivity,
    global_batch: Annotated[
        int | None, typer.Option(help=f"LLM: sequences per iteration (default {DEFAULT_LLM_GLOBAL_BATCH})")
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
    top: Annotated[int, typer.Option(help="LLM: how many plans to list")] = LLM.top,
    export: Annotated[
        tuple[str, Path] | None,
        typer.Option(
            metavar="TARGET FILE",
            help="also write the recommended plan for deepspeed, torch, pipedream or megatron to FILE",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=force_help("--export"))] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare every strategy for a model on a cluster, rank them and recommend one (default: VGG-16 on
    PipeDream's Cluster-A, 4 servers)."""
    from planner.api.plan import plan_llm, plan_strategies
    from planner.api.training import load_model
    from planner.render import emit
    from planner.render.plan import llm_plan_tables, plan_tables

    if export is not None:
        from planner.fileout import check_target

        check_target(export[1], setting="--export", force=force)
    spec = load_model(model)  # an LLM spec (or a Hugging Face config.json) gets the LLM search
    kind = str(spec.spec)
    result: Any
    if kind == "llm":
        if rematerialise is not None:
            raise bad_option(
                "--rematerialise",
                f"GPipe's, for a CNN or profile; '{model}' is an LLM (see --recompute)",
                show_got=False,
            )
        options = LLMOptions(
            global_batch=DEFAULT_LLM_GLOBAL_BATCH if global_batch is None else global_batch,
            seq_len=seq_len,
            servers=servers,
            dtype=LLM.dtype if dtype is None else dtype,
            optimizer=LLM.optimizer if optimizer is None else optimizer,
            top=top,
            tensor_parallel=tensor_parallel,
            pipeline_parallel=pipeline_parallel,
            data_parallel=data_parallel,
            microbatch=microbatch,
            interleave=interleave,
            recompute=recompute,
            zero=zero,
        )
        result = plan_llm(spec, cluster, options)  # loaded once
        tables: Any = llm_plan_tables
    else:
        llm_only = (tensor_parallel, pipeline_parallel, data_parallel, microbatch, interleave, recompute)
        for setting, value in zip(LLM_ONLY, (*llm_only, zero, global_batch, seq_len), strict=True):
            if value is not None:
                option = "--" + setting.replace("_", "-")
                raise bad_option(option, f"only for an LLM; '{model}' is a {kind}", show_got=False)
        plan_options = PlanOptions(
            servers=servers,
            batch=batch,
            profile_batch=profile_batch,
            dtype=CNN.dtype if dtype is None else dtype,
            optimizer=CNN.optimizer if optimizer is None else optimizer,
            objective=objective,
            sensitivity=sensitivity,
            rematerialise=CNN.rematerialise if rematerialise is None else rematerialise,
        )
        result = plan_strategies(model, cluster, plan_options)
        tables = lambda p: plan_tables(p, explain)  # noqa: E731
    if export is not None:
        _export(result, *export, force)
    emit(result.to_dict(), fmt, tables)


def _export(result: Any, to: str, path: Path, force: bool) -> None:
    """Write the recommended plan for `to` to `path`; where it went, and the notes, to stderr."""
    from planner.api.export_plan import export_plan
    from planner.fileout import write_text
    from planner.render.export import tell

    exported = export_plan(result, to)
    write_text(path, exported.artifact, setting="--export", force=force)
    tell(exported.to_dict(), [], path)
