"""The LLM search's options (planner.api.llm.LLMOptions), shared by `plan`, `llm-parallel` and `export llm`:
one typer alias per setting (planner.cli.common.options_from builds the options). Light to import (a
command module reads them when it loads)."""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.llm import LLMOptions

PANEL = "LLM parallelism"  # the help groups these options under this heading
DEFAULTS = LLMOptions  # every default is the API's, defined once (planner.api.llm)

GlobalBatch = Annotated[int, typer.Option("--global-batch", help="sequences per iteration (B)")]
SeqLen = Annotated[
    int | None,
    typer.Option(
        "--seq-len", help="tokens per sequence (default: the model's context)", rich_help_panel=PANEL
    ),
]
TensorParallel = Annotated[
    int | None,
    typer.Option("--tensor-parallel", "-t", help="tensor-parallel degree t", rich_help_panel=PANEL),
]
PipelineParallel = Annotated[
    int | None, typer.Option("--pipeline-parallel", "-p", help="pipeline stages p", rich_help_panel=PANEL)
]
DataParallel = Annotated[
    int | None, typer.Option("--data-parallel", "-d", help="data-parallel replicas d", rich_help_panel=PANEL)
]
Microbatch = Annotated[
    int | None, typer.Option("--microbatch", "-b", help="micro-batch size b", rich_help_panel=PANEL)
]
Interleave = Annotated[
    int | None, typer.Option(help="model chunks per device v (interleaving)", rich_help_panel=PANEL)
]
Recompute = Annotated[
    str | None,
    typer.Option(help="activation recomputation: none, selective or full", rich_help_panel=PANEL),
]
Zero = Annotated[int | None, typer.Option(help="ZeRO stage 0-3", rich_help_panel=PANEL)]
MaxMicrobatch = Annotated[int, typer.Option(help="largest micro-batch size searched", rich_help_panel=PANEL)]
MaxInterleave = Annotated[int, typer.Option(help="largest interleaving searched", rich_help_panel=PANEL)]
SequenceParallel = Annotated[
    bool,
    typer.Option(
        "--sequence-parallel/--no-sequence-parallel",
        help="shard activations tensor-parallel (t > 1)",
        rich_help_panel=PANEL,
    ),
]
Overlap = Annotated[
    bool,
    typer.Option(
        "--overlap/--no-overlap", help="overlap the gradient reduction with backward", rich_help_panel=PANEL
    ),
]
Attention = Annotated[
    str,
    typer.Option(
        help="attention kernel: flash (fused, no s×s scores kept) or standard (scores kept, as SC'21)",
        rich_help_panel=PANEL,
    ),
]
GradientDtype = Annotated[
    str | None,
    typer.Option(help="gradient precision (default: fp32 for bf16, else the dtype)", rich_help_panel=PANEL),
]
GradientAccumulationFusion = Annotated[
    bool,
    typer.Option(
        "--gradient-accumulation-fusion/--no-gradient-accumulation-fusion",
        help="weight-gradient GEMMs accumulate into the gradient buffer (no extra pass)",
        rich_help_panel=PANEL,
    ),
]
ExpertParallel = Annotated[
    int | None,
    typer.Option(
        help="expert-parallel degree e (mixture of experts): experts split over e of the d replicas",
        rich_help_panel=PANEL,
    ),
]
CapacityFactor = Annotated[
    float | None,
    typer.Option(
        help="tokens an expert takes per batch as a multiple of its even share (default: the model's)",
        rich_help_panel=PANEL,
    ),
]
Dtype = Annotated[str, typer.Option(help="bf16 / fp16 (mixed precision) or fp32")]
GemmPrecision = Annotated[
    str | None,
    typer.Option(
        help="fp8: the layers' GEMMs in fp8 as Transformer Engine runs them (the rest in --dtype); default: "
        "--dtype",
    ),
]
Optimizer = Annotated[str, typer.Option(help="adam or sgd (with momentum)")]
Top = Annotated[int, typer.Option(help="how many plans to list", rich_help_panel=PANEL)]
