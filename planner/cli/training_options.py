"""The data-parallel training options (planner.api.training.TrainingOptions), shared by `dp` and `export
dp`: one typer alias per setting. Light to import (a command module reads them when it loads)."""

from __future__ import annotations

from typing import Annotated

import typer

Batch = Annotated[
    int | None,
    typer.Option(
        help="samples per device (default: the profile's minibatch, 32 for a CNN architecture); "
        "with --global-batch, the global batch"
    ),
]
GlobalBatch = Annotated[
    bool, typer.Option("--global-batch", help="--batch is the global batch (strong scaling)")
]
ProfileBatch = Annotated[
    int | None, typer.Option(help="samples per minibatch of a profile that does not state it")
]
Dtype = Annotated[str, typer.Option(help="fp32, or fp16 / bf16 mixed precision")]
Optimizer = Annotated[str, typer.Option(help="sgd (with momentum) or adam")]
