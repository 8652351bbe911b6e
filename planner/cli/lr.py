"""Print the large-minibatch learning-rate schedule of Goyal et al. 2017: the linear scaling rule, gradual
warm-up, then the step schedule (divide by 10 at epochs 30, 60, 80 by default)."""

from __future__ import annotations

from typing import Annotated

import typer

from planner.api.lr import LROptions
from planner.cli.common import FormatOption, parse_numbers
from planner.render import OutputFormat

DEFAULTS = LROptions  # every default is the API's, defined once (planner.api.lr)


def command(
    batch: Annotated[int, typer.Option(help="the (global) minibatch to train with")],
    base_lr: Annotated[float, typer.Option(help="learning rate tuned for --base-batch")] = DEFAULTS.base_lr,
    base_batch: Annotated[
        int, typer.Option(help="the minibatch base-lr was tuned for")
    ] = DEFAULTS.base_batch,
    warmup_epochs: Annotated[
        float, typer.Option(help="epochs of gradual warm-up (0: none)")
    ] = DEFAULTS.warmup_epochs,
    epochs: Annotated[int, typer.Option(help="epochs of training")] = DEFAULTS.epochs,
    dataset_size: Annotated[
        int, typer.Option(help="samples per epoch (default: ImageNet-1k train)")
    ] = DEFAULTS.dataset_size,
    milestones: Annotated[
        str, typer.Option(help="epochs at which the rate is multiplied by --decay")
    ] = ",".join(map(str, DEFAULTS.milestones)),
    decay: Annotated[float, typer.Option(help="factor applied at each milestone")] = DEFAULTS.decay,
    per_epoch: Annotated[bool, typer.Option("--per-epoch", help="also list the rate at every epoch")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Print the large-minibatch learning-rate schedule (Goyal et al. 2017): linear scaling rule,
    gradual warm-up, step decay."""
    from planner.api.lr import lr_schedule
    from planner.render import emit
    from planner.render.lr import lr_tables

    options = LROptions(
        batch=batch,
        base_lr=base_lr,
        base_batch=base_batch,
        warmup_epochs=warmup_epochs,
        epochs=epochs,
        dataset_size=dataset_size,
        milestones=parse_numbers(milestones, "--milestones", whole=True, empty=True),
        decay=decay,
    )
    emit(lr_schedule(options).to_dict(), fmt, lambda p: lr_tables(p, per_epoch))
