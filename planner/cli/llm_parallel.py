"""Plan LLM training with tensor × pipeline × data parallelism, micro-batching, interleaving, activation
recomputation and ZeRO: the fastest plans that fit in memory, and why the others do not.

MODEL: a catalog LLM (planner models list), an LLM YAML file, or a Hugging Face config.json.

Give --tensor-parallel, --pipeline-parallel, --data-parallel and --microbatch together to evaluate that one
configuration (--interleave, --recompute and --zero, where not given, are chosen as the search would: the
fastest that fits). Otherwise every configuration on the cluster's devices is searched; --tensor-parallel,
--pipeline-parallel, --microbatch, --interleave, --recompute and --zero then pin that part of the search.
Exit 1 when no plan fits.
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.llm import LLMOptions
from planner.cli.common import FormatOption
from planner.render import OutputFormat

DEFAULTS = LLMOptions  # every default is the API's, defined once (planner.api.llm)


def command(
    model: Annotated[str, typer.Argument(help="catalog LLM, LLM YAML file, or a Hugging Face config.json")],
    cluster: Annotated[str, typer.Option("--cluster", help="catalog cluster name or a cluster YAML file")],
    global_batch: Annotated[int, typer.Option("--global-batch", help="sequences per iteration (B)")],
    seq_len: Annotated[
        int | None, typer.Option("--seq-len", help="tokens per sequence (default: the model's context)")
    ] = DEFAULTS.seq_len,
    servers: Annotated[
        int | None, typer.Option(help="override the outermost level's count")
    ] = DEFAULTS.servers,
    devices: Annotated[
        int | None, typer.Option(help="devices to use (default: the whole cluster)")
    ] = DEFAULTS.devices,
    dtype: Annotated[str, typer.Option(help="bf16 / fp16 (mixed precision) or fp32")] = DEFAULTS.dtype,
    optimizer: Annotated[str, typer.Option(help="adam or sgd (with momentum)")] = DEFAULTS.optimizer,
    top: Annotated[int, typer.Option(help="how many plans to list")] = DEFAULTS.top,
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
    max_microbatch: Annotated[
        int, typer.Option(help="largest micro-batch size searched")
    ] = DEFAULTS.max_microbatch,
    max_interleave: Annotated[
        int, typer.Option(help="largest interleaving searched")
    ] = DEFAULTS.max_interleave,
    sequence_parallel: Annotated[
        bool,
        typer.Option("--sequence-parallel/--no-sequence-parallel", help="shard activations tensor-parallel"),
    ] = DEFAULTS.sequence_parallel,
    overlap: Annotated[
        bool, typer.Option("--overlap/--no-overlap", help="overlap the gradient reduction with backward")
    ] = DEFAULTS.overlap,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Plan LLM training: tensor × pipeline × data parallelism, micro-batch, interleaving, recomputation,
    ZeRO; the fastest plans that fit and why the others fail (or one configuration with -t -p -d -b)."""
    from planner.api.llm import llm_parallel
    from planner.render import emit
    from planner.render.llm import llm_tables

    options = LLMOptions(
        global_batch=global_batch,
        seq_len=seq_len,
        servers=servers,
        devices=devices,
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
    emit(llm_parallel(model, cluster, options).to_dict(), fmt, llm_tables)
