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
from planner.cli import partition_options as part
from planner.cli.common import FormatOption, force_help
from planner.render import OutputFormat

app = typer.Typer(
    no_args_is_help=True,
    epilog="The engine's text goes to stdout (or --output FILE, never over a file without --force), a "
    "summary and notes to stderr; --format json|yaml prints everything. Exit 1: the engine cannot express "
    "the plan (the reason is printed); exit 2: bad input.",
)
PIPELINE, DP, LLM = PipelineExportOptions, DPExportOptions, LLMExportOptions  # the defaults are the API's

OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="write to this file instead of stdout")
]
ForceOption = Annotated[bool, typer.Option("--force", help=force_help("--output"))]
ClusterOption = Annotated[str, typer.Option("--cluster", help="catalog cluster name or a cluster YAML file")]
Devices = Annotated[int | None, typer.Option(help="devices to use (default: the whole cluster)")]


def _check_output(output: Path | None, force: bool) -> None:
    if output is not None:
        from planner.fileout import check_target

        check_target(output, setting="--output", force=force)


@app.command("pipeline")
def pipeline(
    model: part.PartitionModel,
    to: Annotated[str, typer.Option("--to", help="torch (split_spec), pipedream (ranks map), deepspeed")],
    cluster: part.PartitionCluster = None,
    servers: part.Servers = PIPELINE.servers,
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
    from dataclasses import asdict

    from planner.api.export import export_pipeline
    from planner.cli.partition_options import partition_options
    from planner.render.export import deliver, pipeline_summary

    partition = partition_options(
        servers=servers,
        levels=levels,
        cost_model=cost_model,
        straight=straight,
        memory=memory,
        activation_compression=activation_compression,
        use_fewer_machines=use_fewer_machines,
        batch=batch,
    )
    options = PipelineExportOptions(
        **asdict(partition), microbatches=microbatches, profile_batch=profile_batch
    )
    _check_output(output, force)
    result = export_pipeline(model, cluster, to, options)
    deliver(result.to_dict(), fmt, output, force, pipeline_summary(result.plan))


@app.command("dp")
def dp(
    model: Annotated[str, typer.Argument(help="catalog model (CNN architecture or profile) or a file")],
    cluster: ClusterOption,
    to: Annotated[str, typer.Option("--to", help="deepspeed")] = "deepspeed",
    servers: part.Servers = DP.servers,
    devices: Devices = DP.devices,
    batch: Annotated[
        int | None, typer.Option(help="samples per device (with --global-batch: the global batch)")
    ] = DP.batch,
    global_batch: Annotated[
        bool, typer.Option("--global-batch", help="--batch is the global batch (strong scaling)")
    ] = DP.global_batch,
    profile_batch: Annotated[
        int | None, typer.Option(help="samples per minibatch of a profile that does not state it")
    ] = DP.profile_batch,
    dtype: Annotated[str, typer.Option(help="fp32, or fp16 / bf16 mixed precision")] = DP.dtype,
    optimizer: Annotated[str, typer.Option(help="sgd (with momentum) or adam")] = DP.optimizer,
    zero: Annotated[int, typer.Option(help="ZeRO stage 0-3 for the config")] = DP.zero,
    output: OutputOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """A data-parallel plan (planner dp) as a DeepSpeed config JSON.

    Micro-batch = the batch per GPU, no accumulation, ZeRO stage --zero, precision --dtype.

    train_batch_size = micro-batch × accumulation steps × data-parallel GPUs.
    """
    from planner.api.export import export_dp
    from planner.render.export import deliver, dp_summary

    options = DPExportOptions(
        servers=servers,
        devices=devices,
        batch=batch,
        global_batch=global_batch,
        profile_batch=profile_batch,
        dtype=dtype,
        optimizer=optimizer,
        zero=zero,
    )
    _check_output(output, force)
    result = export_dp(model, cluster, to, options)
    deliver(result.to_dict(), fmt, output, force, dp_summary(result.to_dict(), result.plan))


@app.command("llm")
def llm(
    model: Annotated[str, typer.Argument(help="catalog LLM, LLM YAML file, or a Hugging Face config.json")],
    cluster: ClusterOption,
    global_batch: Annotated[int, typer.Option("--global-batch", help="sequences per iteration (B)")],
    to: Annotated[str, typer.Option("--to", help="megatron (arguments) or deepspeed (config JSON)")],
    rank: Annotated[int, typer.Option(help="export the plan ranked this (1 = the fastest)")] = LLM.rank,
    seq_len: Annotated[
        int | None, typer.Option("--seq-len", help="tokens per sequence (default: the model's context)")
    ] = LLM.seq_len,
    servers: part.Servers = LLM.servers,
    devices: Devices = LLM.devices,
    dtype: Annotated[str, typer.Option(help="bf16 / fp16 (mixed precision) or fp32")] = LLM.dtype,
    optimizer: Annotated[str, typer.Option(help="adam or sgd (with momentum)")] = LLM.optimizer,
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
    ] = LLM.sequence_parallel,
    overlap: Annotated[
        bool, typer.Option("--overlap/--no-overlap", help="overlap the gradient reduction with backward")
    ] = LLM.overlap,
    output: OutputOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """An LLM plan (planner llm-parallel) as Megatron-LM arguments or a DeepSpeed config JSON.

    The search's --rank-th plan, or the configuration given by -t -p -d -b.

    Exit 1 when the engine cannot run the plan as planned (e.g. ZeRO-2/3 with pipeline stages).
    """
    from planner.api.export import export_llm
    from planner.render.export import deliver, llm_summary

    options = LLMExportOptions(
        global_batch=global_batch,
        seq_len=seq_len,
        servers=servers,
        devices=devices,
        dtype=dtype,
        optimizer=optimizer,
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        data_parallel=data_parallel,
        microbatch=microbatch,
        interleave=interleave,
        recompute=recompute,
        zero=zero,
        sequence_parallel=sequence_parallel,
        overlap=overlap,
        rank=rank,
    )
    _check_output(output, force)
    result = export_llm(model, cluster, to, options)
    deliver(result.to_dict(), fmt, output, force, llm_summary(result.to_dict()))
