"""Print the large-minibatch learning-rate schedule of Goyal et al. 2017: the linear scaling rule, gradual
warm-up, then the step schedule (divide by 10 at epochs 30, 60, 80 by default)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from planner.cli.common import FormatOption
from planner.render import OutputFormat


def command(
    batch: Annotated[int, typer.Option(help="the (global) minibatch to train with")],
    base_lr: Annotated[float, typer.Option(help="learning rate tuned for --base-batch")] = 0.1,
    base_batch: Annotated[int, typer.Option(help="the minibatch base-lr was tuned for")] = 256,
    warmup_epochs: Annotated[float, typer.Option(help="epochs of gradual warm-up (0: none)")] = 5.0,
    epochs: Annotated[int, typer.Option(help="epochs of training")] = 90,
    dataset_size: Annotated[
        int, typer.Option(help="samples per epoch (default: ImageNet-1k train)")
    ] = 1_281_167,
    milestones: Annotated[
        str, typer.Option(help="epochs at which the rate is multiplied by --decay")
    ] = "30,60,80",
    decay: Annotated[float, typer.Option(help="factor applied at each milestone")] = 0.1,
    per_epoch: Annotated[bool, typer.Option("--per-epoch", help="also list the rate at every epoch")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Print the large-minibatch learning-rate schedule (Goyal et al. 2017): linear scaling rule,
    gradual warm-up, step decay."""
    from planner.render import emit

    emit(
        build_payload(
            batch=batch,
            base_lr=base_lr,
            base_batch=base_batch,
            warmup_epochs=warmup_epochs,
            epochs=epochs,
            dataset_size=dataset_size,
            milestones=milestones,
            decay=decay,
        ),
        fmt,
        lambda p: _tables(p, per_epoch),
    )


def build_payload(
    *,
    batch: int,
    base_lr: float,
    base_batch: int,
    warmup_epochs: float,
    epochs: int,
    dataset_size: int,
    milestones: str,
    decay: float,
) -> dict[str, Any]:
    """Check the options, build the schedule, and return its payload."""
    import math

    from planner.cost.lr_schedule import LRSchedule
    from planner.errors import SpecError

    def bad(option: str, expected: str, got: object) -> SpecError:
        return SpecError(option, option.lstrip("-"), expected, got)

    for option, value in (
        ("--batch", batch),
        ("--base-batch", base_batch),
        ("--epochs", epochs),
        ("--dataset-size", dataset_size),
    ):
        if value < 1:
            raise bad(option, "a whole number >= 1", value)
    if not (math.isfinite(base_lr) and base_lr > 0):
        raise bad("--base-lr", "a number > 0", base_lr)
    if not (math.isfinite(warmup_epochs) and 0 <= warmup_epochs <= epochs):
        raise bad("--warmup-epochs", f"a number in [0, --epochs = {epochs}]", warmup_epochs)
    if not (math.isfinite(decay) and 0 < decay <= 1):
        raise bad("--decay", "a factor in (0, 1]", decay)
    parts = [part.strip() for part in milestones.split(",") if part.strip()]
    if not all(part.isascii() and part.isdigit() for part in parts):  # ASCII digits: see planner.units
        raise bad("--milestones", "comma-separated whole epochs, e.g. 30,60,80", milestones)
    steps = tuple(int(part) for part in parts)
    if list(steps) != sorted(set(steps)) or any(not warmup_epochs <= m < epochs for m in steps):
        raise bad("--milestones", f"increasing epochs in [--warmup-epochs, --epochs = {epochs})", milestones)
    schedule = LRSchedule(
        base_lr=base_lr,
        base_batch=base_batch,
        batch=batch,
        warmup_epochs=warmup_epochs,
        epochs=epochs,
        dataset_size=dataset_size,
        milestones=steps,
        decay=decay,
    )
    return {
        "schedule": {
            "base_lr": base_lr,
            "base_batch": base_batch,
            "batch": batch,
            "scale_k": schedule.scale,
            "peak_lr": schedule.peak_lr,
            "warmup_epochs": warmup_epochs,
            "warmup_iterations": schedule.warmup_iterations,
            "warmup_increment_per_iteration": schedule.warmup_increment,
            "iterations_per_epoch": schedule.iterations_per_epoch,
            "total_iterations": schedule.total_iterations,
            "epochs": epochs,
            "dataset_size": dataset_size,
            "milestones": list(steps),
            "decay": decay,
            "source": "Goyal et al. 2017, arXiv:1706.02677, Sec. 2.1 (linear scaling), "
            "2.2 (gradual warm-up), 5.1 (step schedule)",
        },
        "phases": [phase.to_dict() for phase in schedule.phases()],
        "per_epoch_lr": schedule.per_epoch(),
    }


def _tables(payload: dict[str, Any], per_epoch: bool) -> list[Any]:
    from planner.render import make_table

    s = payload["schedule"]
    headline = (
        f"linear scaling rule: k = {s['batch']} / {s['base_batch']} = {s['scale_k']:g}, "
        f"lr = {s['base_lr']:g} x k = {s['peak_lr']:.6g}"
    )
    summary = make_table(
        None,
        ["quantity", "value"],
        [
            ("peak lr", f"{s['peak_lr']:.6g}"),
            (
                "iterations per epoch",
                f"{s['iterations_per_epoch']:,} = ceil({s['dataset_size']:,} / {s['batch']})",
            ),
            ("warm-up", f"{s['warmup_epochs']:g} epochs = {s['warmup_iterations']:,} iterations"),
            ("warm-up increment", f"{s['warmup_increment_per_iteration']:.6g} per iteration"),
            ("training", f"{s['epochs']} epochs = {s['total_iterations']:,} iterations"),
            ("step decay", f"x{s['decay']:g} at epochs {', '.join(map(str, s['milestones'])) or '-'}"),
        ],
    )
    cols = ["phase", "first iter", "last iter", "epochs", "lr first", "lr last"]
    phases = make_table(
        "Schedule",
        cols,
        [
            (
                p["name"],
                p["start_iteration"],
                p["end_iteration"] - 1,
                f"{p['start_epoch']:g}-{p['end_epoch']:g}",
                f"{p['lr_start']:.6g}",
                f"{p['lr_end']:.6g}",
            )
            for p in payload["phases"]
        ],
        right=cols[1:],
    )
    out: list[Any] = [headline, summary, phases]
    if per_epoch:
        out.append(
            make_table(
                "Rate at the first iteration of each epoch",
                ["epoch", "lr"],
                [(i, f"{lr:.6g}") for i, lr in enumerate(payload["per_epoch_lr"])],
                right=["epoch", "lr"],
            )
        )
    out.append(f"source: {s['source']}")
    return out
