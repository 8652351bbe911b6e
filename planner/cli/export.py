"""Export a plan so an engine can run it: torch.distributed.pipelining, PipeDream, DeepSpeed, Megatron-LM.

Each command plans as its planning command does (the same options and API) and writes what the engine
reads:

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

from pathlib import Path
from typing import Annotated

import typer

from planner.api.export import DPExportOptions, LLMExportOptions, PipelineExportOptions
from planner.cli import llm_options
from planner.cli import partition_options as part
from planner.cli import training_options as training
from planner.cli.common import (
    ClusterOption,
    DevicesOption,
    FormatOption,
    ServersOption,
    force_help,
    options_from,
)
from planner.render import OutputFormat

app = typer.Typer(
    no_args_is_help=True,
    epilog="The engine's text goes to stdout (or --output FILE, never over a file without --force), a "
    "summary and notes to stderr; --format json|yaml prints everything. Exit 1: the engine cannot express "
    "the plan (the reason is printed); exit 2: bad input.",
)
PIPELINE, DP, LLM = PipelineExportOptions, DPExportOptions, LLMExportOptions  # the defaults are the API's
NOT_SETTINGS = ("model", "cluster", "to", "output", "force")  # each command's values that are not options

OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="write to this file instead of stdout")
]
ForceOption = Annotated[bool, typer.Option("--force", help=force_help("--output"))]


def _check_output(output: Path | None, force: bool) -> None:
    if output is not None:
        from planner.fileout import check_target

        check_target(output, setting="--output", force=force)


@app.command("pipeline")
def pipeline(
    model: part.PartitionModel,
    to: Annotated[str, typer.Option("--to", help="torch (split_spec), pipedream (ranks map), deepspeed")],
    cluster: part.PartitionCluster = None,
    servers: ServersOption = PIPELINE.servers,
    levels: part.Levels = None,
    cost_model: part.CostModel = PIPELINE.cost_model,
    straight: part.Straight = PIPELINE.straight,
    memory: part.Memory = PIPELINE.memory,
    activation_compression: part.ActivationCompression = PIPELINE.activation_compression,
    use_fewer_machines: part.FewerMachines = PIPELINE.use_fewer_machines,
    batch: part.Batch = PIPELINE.batch,
    microbatches: Annotated[
        int | None,
        typer.Option(
            help="deepspeed: micro-batches per step (gradient_accumulation_steps; default 4 × stages)"
        ),
    ] = PIPELINE.microbatches,
    profile_batch: Annotated[
        int | None,
        typer.Option(help="deepspeed: samples per minibatch of a profile that does not state it (graph.txt)"),
    ] = PIPELINE.profile_batch,
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
    given = dict(locals())  # the parameters, before the imports below add names
    from planner.api.export import export_pipeline
    from planner.render.export import deliver, pipeline_summary

    options = part.partition_options(PipelineExportOptions, given, *NOT_SETTINGS)
    _check_output(output, force)
    result = export_pipeline(model, cluster, to, options)
    deliver(result.to_dict(), fmt, output, force, pipeline_summary(result.plan))


@app.command("dp")
def dp(
    model: Annotated[str, typer.Argument(help="catalog model (CNN architecture or profile) or a file")],
    cluster: ClusterOption,
    to: Annotated[str, typer.Option("--to", help="deepspeed")] = "deepspeed",
    servers: ServersOption = DP.servers,
    devices: DevicesOption = DP.devices,
    batch: training.Batch = DP.batch,
    global_batch: training.GlobalBatch = DP.global_batch,
    profile_batch: training.ProfileBatch = DP.profile_batch,
    dtype: training.Dtype = DP.dtype,
    optimizer: training.Optimizer = DP.optimizer,
    zero: Annotated[int, typer.Option(help="ZeRO stage 0-3 for the config")] = DP.zero,
    output: OutputOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """A data-parallel plan (planner dp) as a DeepSpeed config JSON.

    Micro-batch = the batch per GPU, no accumulation, ZeRO stage --zero, precision --dtype.

    train_batch_size = micro-batch × accumulation steps × data-parallel GPUs.
    """
    given = dict(locals())  # the parameters, before the imports below add names
    from planner.api.export import export_dp
    from planner.render.export import deliver, dp_summary

    options = options_from(DPExportOptions, given, *NOT_SETTINGS)
    _check_output(output, force)
    result = export_dp(model, cluster, to, options)
    deliver(result.to_dict(), fmt, output, force, dp_summary(result.to_dict(), result.plan))


@app.command("llm")
def llm(
    model: Annotated[str, typer.Argument(help="catalog LLM, LLM YAML file, or a Hugging Face config.json")],
    cluster: ClusterOption,
    global_batch: llm_options.GlobalBatch,
    to: Annotated[str, typer.Option("--to", help="megatron (arguments) or deepspeed (config JSON)")],
    rank: Annotated[int, typer.Option(help="export the plan ranked this (1 = the fastest)")] = LLM.rank,
    seq_len: llm_options.SeqLen = LLM.seq_len,
    servers: ServersOption = LLM.servers,
    devices: DevicesOption = LLM.devices,
    dtype: llm_options.Dtype = LLM.dtype,
    optimizer: llm_options.Optimizer = LLM.optimizer,
    tensor_parallel: llm_options.TensorParallel = LLM.tensor_parallel,
    pipeline_parallel: llm_options.PipelineParallel = LLM.pipeline_parallel,
    data_parallel: llm_options.DataParallel = LLM.data_parallel,
    microbatch: llm_options.Microbatch = LLM.microbatch,
    interleave: llm_options.Interleave = LLM.interleave,
    recompute: llm_options.Recompute = LLM.recompute,
    zero: llm_options.Zero = LLM.zero,
    sequence_parallel: llm_options.SequenceParallel = LLM.sequence_parallel,
    overlap: llm_options.Overlap = LLM.overlap,
    attention: llm_options.Attention = LLM.attention,
    gradient_dtype: llm_options.GradientDtype = LLM.gradient_dtype,
    gradient_accumulation_fusion: llm_options.GradientAccumulationFusion = LLM.gradient_accumulation_fusion,
    expert_parallel: llm_options.ExpertParallel = LLM.expert_parallel,
    capacity_factor: llm_options.CapacityFactor = LLM.capacity_factor,
    gemm_precision: llm_options.GemmPrecision = LLM.gemm_precision,
    output: OutputOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """An LLM plan (planner llm-parallel) as Megatron-LM arguments or a DeepSpeed config JSON.

    The search's --rank-th plan, or the configuration given by -t -p -d -b.

    Exit 1 when the engine cannot run the plan as planned (e.g. ZeRO-2/3 with pipeline stages).
    """
    given = dict(locals())  # the parameters, before the imports below add names
    from planner.api.export import export_llm
    from planner.render.export import deliver, llm_summary

    options = options_from(LLMExportOptions, given, *NOT_SETTINGS)
    _check_output(output, force)
    result = export_llm(model, cluster, to, options)
    deliver(result.to_dict(), fmt, output, force, llm_summary(result.to_dict()))
