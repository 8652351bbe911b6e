"""Tables of the learning-rate schedule (planner.api.lr)."""

from __future__ import annotations

from typing import Any

from planner.render import make_table


def lr_tables(payload: dict[str, Any], per_epoch: bool) -> list[Any]:
    """The headline, the summary, the phases and (per_epoch) the rate at each epoch."""
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
