"""Serve an LLM: time to first token, time per output token, tokens/s per GPU, the KV cache and the
largest running batch, and the throughput/latency curve of continuous batching; with --tpot / --ttft,
the best tensor x pipeline (x expert) split and batch under those targets, and why the others lose.

MODEL: a catalog LLM (planner models list), an LLM YAML file, or a Hugging Face config.json.
Exit 1 when nothing fits or no configuration meets the targets.
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.serve_inputs import ServeOptions
from planner.cli.common import WEIGHTS_HELP, ClusterOption, FormatOption, ServersOption, quantity_option
from planner.cli.llm_options import Attention
from planner.cli.plot_options import ForceOption, PlotFileOption, PlotOption
from planner.render import OutputFormat

DEFAULTS = ServeOptions  # every default is the API's, defined once
PANEL = "Latency targets (search)"


def command(
    model: Annotated[str, typer.Argument(help="catalog LLM, LLM YAML file, or a Hugging Face config.json")],
    cluster: ClusterOption,
    prompt_len: Annotated[int, typer.Option(help="prompt tokens per request")] = DEFAULTS.prompt_len,
    output_len: Annotated[int, typer.Option(help="output tokens per request")] = DEFAULTS.output_len,
    requests: Annotated[
        str | None,
        typer.Option(help="request-mix YAML (spec: requests; rows of prompt, output, weight)"),
    ] = DEFAULTS.requests,
    batch: Annotated[
        int | None,
        typer.Option(
            help="running sequences per replica (default: up to 256 per attention group that fit, vLLM's "
            "max_num_seqs)"
        ),
    ] = DEFAULTS.batch,
    tensor_parallel: Annotated[
        int | None, typer.Option("--tensor-parallel", "-t", help="tensor-parallel degree (default 1)")
    ] = DEFAULTS.tensor_parallel,
    pipeline_parallel: Annotated[
        int | None, typer.Option("--pipeline-parallel", "-p", help="pipeline stages (default 1)")
    ] = DEFAULTS.pipeline_parallel,
    expert_parallel: Annotated[
        int | None,
        typer.Option(
            help="mixture of experts: devices per stage holding the experts whole, a multiple of -t; "
            "attention data-parallel over e/t groups (default 1: experts tensor-parallel)",
        ),
    ] = DEFAULTS.expert_parallel,
    replicas: Annotated[
        int | None, typer.Option(help="model replicas (default: as many as the cluster holds)")
    ] = DEFAULTS.replicas,
    servers: ServersOption = DEFAULTS.servers,
    dtype: Annotated[str | None, typer.Option(help="bf16, fp16 or fp32 (default: the model's)")] = None,
    weight_dtype: Annotated[
        str | None,
        typer.Option(help=WEIGHTS_HELP),
    ] = None,
    kv_cache_dtype: Annotated[str | None, typer.Option(help="quantised KV cache: fp8 or int8")] = None,
    attention: Attention = DEFAULTS.attention,
    chunked_prefill: Annotated[
        bool, typer.Option("--chunked-prefill/--no-chunked-prefill", help="prompts ride in decode iterations")
    ] = DEFAULTS.chunked_prefill,
    chunk_tokens: Annotated[int, typer.Option(help="prefill tokens per iteration")] = DEFAULTS.chunk_tokens,
    memory_headroom: Annotated[
        float, typer.Option(help="fraction of the device's usable memory kept from the KV cache")
    ] = DEFAULTS.memory_headroom,
    block_tokens: Annotated[int, typer.Option(help="tokens per KV-cache block")] = DEFAULTS.block_tokens,
    tpot: Annotated[
        float | None,
        quantity_option("time", "target time per output token, e.g. 50ms: search", "--tpot"),
    ] = None,
    ttft: Annotated[
        float | None, quantity_option("time", "target time to first token, e.g. 2s: search", "--ttft")
    ] = None,
    arrival_rate: Annotated[
        float | None,
        typer.Option(help="requests/s arriving (Poisson, spread over the replicas): in flight, wait, TTFT"),
    ] = DEFAULTS.arrival_rate,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Serve an LLM: TTFT, TPOT, tokens/s per GPU, KV cache and max batch, the batch curve; with --tpot /
    --ttft the best configuration under those targets."""
    given = dict(locals())
    from planner.api.serve import serve
    from planner.api.serve_best import serve_best
    from planner.cli.common import options_from
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.figures_systems import serve_figure
    from planner.render.serve import best_tables, serve_tables

    request = plot_request(plot, plot_file, force)
    options = options_from(ServeOptions, given, "model", "cluster", "plot", "plot_file", "force")
    if options.searching:
        emit_with_plot(serve_best(model, cluster, options).to_dict(), fmt, best_tables, serve_figure, request)
    else:
        emit_with_plot(serve(model, cluster, options).to_dict(), fmt, serve_tables, serve_figure, request)
