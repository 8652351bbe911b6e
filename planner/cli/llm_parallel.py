"""Plan LLM training with tensor × pipeline × data parallelism, micro-batching, interleaving, activation
recomputation, ZeRO and (mixture-of-experts models) expert parallelism: the fastest plans that fit in
memory, and why the others do not.

MODEL: a catalog LLM (planner models list), an LLM YAML file, or a Hugging Face config.json.

Give --tensor-parallel, --pipeline-parallel, --data-parallel and --microbatch together to evaluate that one
configuration (--interleave, --recompute and --zero, where not given, are chosen as the search would: the
fastest that fits). Otherwise every configuration on the cluster's devices is searched; --tensor-parallel,
--pipeline-parallel, --microbatch, --interleave, --recompute, --zero and --expert-parallel then pin that
part of the search (a mixture-of-experts model's --expert-parallel, where not given with -t -p -d -b, is
chosen as the search would).
Exit 1 when no plan fits.
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner.cli import llm_options as llm
from planner.cli.common import ClusterOption, DevicesOption, FormatOption, ServersOption
from planner.cli.plot_options import ForceOption, PlotFileOption, PlotOption
from planner.render import OutputFormat

DEFAULTS = llm.DEFAULTS  # every default is the API's, defined once (planner.api.llm)


def command(
    model: Annotated[str, typer.Argument(help="catalog LLM, LLM YAML file, or a Hugging Face config.json")],
    cluster: ClusterOption,
    global_batch: llm.GlobalBatch,
    seq_len: llm.SeqLen = DEFAULTS.seq_len,
    servers: ServersOption = DEFAULTS.servers,
    devices: DevicesOption = DEFAULTS.devices,
    dtype: llm.Dtype = DEFAULTS.dtype,
    gemm_precision: llm.GemmPrecision = DEFAULTS.gemm_precision,
    optimizer: llm.Optimizer = DEFAULTS.optimizer,
    top: llm.Top = DEFAULTS.top,
    tensor_parallel: llm.TensorParallel = DEFAULTS.tensor_parallel,
    pipeline_parallel: llm.PipelineParallel = DEFAULTS.pipeline_parallel,
    data_parallel: llm.DataParallel = DEFAULTS.data_parallel,
    microbatch: llm.Microbatch = DEFAULTS.microbatch,
    interleave: llm.Interleave = DEFAULTS.interleave,
    recompute: llm.Recompute = DEFAULTS.recompute,
    zero: llm.Zero = DEFAULTS.zero,
    max_microbatch: llm.MaxMicrobatch = DEFAULTS.max_microbatch,
    max_interleave: llm.MaxInterleave = DEFAULTS.max_interleave,
    sequence_parallel: llm.SequenceParallel = DEFAULTS.sequence_parallel,
    overlap: llm.Overlap = DEFAULTS.overlap,
    attention: llm.Attention = DEFAULTS.attention,
    gradient_dtype: llm.GradientDtype = DEFAULTS.gradient_dtype,
    gradient_accumulation_fusion: llm.GradientAccumulationFusion = DEFAULTS.gradient_accumulation_fusion,
    expert_parallel: llm.ExpertParallel = DEFAULTS.expert_parallel,
    capacity_factor: llm.CapacityFactor = DEFAULTS.capacity_factor,
    plot: PlotOption = False,
    plot_file: PlotFileOption = None,
    force: ForceOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Plan LLM training: tensor × pipeline × data parallelism, micro-batch, interleaving, recomputation,
    ZeRO; the fastest plans that fit and why the others fail (or one configuration with -t -p -d -b)."""
    given = dict(locals())  # the parameters, before the imports below add names
    from planner.api.llm import LLMOptions, llm_parallel
    from planner.cli.common import options_from
    from planner.cli.plot_options import emit_with_plot, plot_request
    from planner.render.figures_training import llm_figure
    from planner.render.llm import llm_tables

    request = plot_request(plot, plot_file, force)
    options = options_from(LLMOptions, given, "model", "cluster", "plot", "plot_file", "force")
    emit_with_plot(llm_parallel(model, cluster, options).to_dict(), fmt, llm_tables, llm_figure, request)
