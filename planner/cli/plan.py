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
from planner.cli import llm_options as llm
from planner.cli.common import FormatOption, ServersOption, bad_option, force_help, options_from
from planner.cli.plot_options import PlotFileOption, PlotOption
from planner.render import OutputFormat

CNN, LLM = PlanOptions, LLMOptions  # every default is the API's, defined once
LLM_ONLY = (
    *CONFIGURATION,
    *("interleave", "recompute", "zero", "global_batch", "seq_len", "attention"),
    *("expert_parallel", "capacity_factor", "gemm_precision"),
)


def command(
    model: Annotated[
        str, typer.Argument(help="catalog model or file (CNN, profile, graph.txt, LLM, HF config.json)")
    ] = DEFAULT_MODEL,
    cluster: Annotated[str, typer.Option(help="catalog cluster or cluster YAML file")] = DEFAULT_CLUSTER,
    servers: ServersOption = None,
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
        int | None,
        typer.Option(
            help=f"sequences per iteration (default {DEFAULT_LLM_GLOBAL_BATCH})", rich_help_panel=llm.PANEL
        ),
    ] = None,
    seq_len: llm.SeqLen = LLM.seq_len,
    tensor_parallel: llm.TensorParallel = LLM.tensor_parallel,
    pipeline_parallel: llm.PipelineParallel = LLM.pipeline_parallel,
    data_parallel: llm.DataParallel = LLM.data_parallel,
    microbatch: llm.Microbatch = LLM.microbatch,
    interleave: llm.Interleave = LLM.interleave,
    recompute: llm.Recompute = LLM.recompute,
    zero: llm.Zero = LLM.zero,
    attention: Annotated[
        str | None,
        typer.Option(
            help=f"LLM attention kernel: flash or standard (default {LLM.attention})",
            rich_help_panel=llm.PANEL,
        ),
    ] = None,
    expert_parallel: llm.ExpertParallel = LLM.expert_parallel,
    capacity_factor: llm.CapacityFactor = LLM.capacity_factor,
    gemm_precision: llm.GemmPrecision = LLM.gemm_precision,
    top: llm.Top = LLM.top,
    export: Annotated[
        tuple[str, Path] | None,
        typer.Option(
            metavar="TARGET FILE",
            help="also write the recommended plan for deepspeed, torch, pipedream or megatron to FILE",
        ),
    ] = None,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: Annotated[bool, typer.Option("--force", help=force_help("--export or --plot-file"))] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare every strategy for a model on a cluster, rank them and recommend one (default: VGG-16 on
    PipeDream's Cluster-A, 4 servers)."""
    given = dict(locals())  # the parameters, before the imports below add names
    from planner.api.inputs import load_model
    from planner.api.plan import plan_llm, plan_strategies
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.figures_training import llm_figure, plan_figure
    from planner.render.plan import llm_plan_tables, plan_tables

    request = plot_request(plot, plot_file, force)
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
        chosen = {setting: given[setting] for setting in (*LLM_ONLY, "servers", "top")}
        options = options_from(
            LLMOptions,
            {
                **chosen,
                "global_batch": DEFAULT_LLM_GLOBAL_BATCH if global_batch is None else global_batch,
                "dtype": LLM.dtype if dtype is None else dtype,
                "optimizer": LLM.optimizer if optimizer is None else optimizer,
                "attention": LLM.attention if attention is None else attention,
            },
        )
        result = plan_llm(spec, cluster, options)  # loaded once
        tables: Any = llm_plan_tables
        figure: Any = llm_figure
    else:
        for setting in LLM_ONLY:
            if given[setting] is not None:
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
        figure = plan_figure
    if export is not None:
        _export(result, *export, force)
    emit_with_plot(result.to_dict(), fmt, tables, figure, request)


def _export(result: Any, to: str, path: Path, force: bool) -> None:
    """Write the recommended plan for `to` to `path`; where it went, and the notes, to stderr."""
    from planner.api.export_plan import export_plan
    from planner.fileout import write_text
    from planner.render.export import tell

    exported = export_plan(result, to)
    write_text(path, exported.artifact, setting="--export", force=force)
    tell(exported.to_dict(), [], path)
