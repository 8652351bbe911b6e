"""The large-minibatch learning-rate schedule (Goyal et al. 2017): options, result, and the question."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from planner.cost.lr_schedule import DEFAULT_DECAY, DEFAULT_MILESTONES, IMAGENET_TRAIN_SAMPLES, LRSchedule
from planner.errors import SettingError
from planner.limits import EPOCHS, MAX_BATCH, MAX_EPOCH_SAMPLES, count_problem

SOURCE = (
    "Goyal et al. 2017, arXiv:1706.02677, Sec. 2.1 (linear scaling), 2.2 (gradual warm-up), "
    "5.1 (step schedule)"
)


@dataclass(frozen=True)
class LROptions:
    """The schedule's settings; the defaults are the paper's ResNet-50 recipe on ImageNet-1k."""

    batch: int  # the global minibatch to train with
    base_lr: float = 0.1  # the rate tuned for base_batch (Sec. 2.1: 0.1 for 256)
    base_batch: int = 256
    warmup_epochs: float = 5.0  # gradual warm-up (Sec. 2.2); 0: none
    epochs: int = 90
    dataset_size: int = IMAGENET_TRAIN_SAMPLES  # samples per epoch
    milestones: tuple[int, ...] = DEFAULT_MILESTONES  # epochs at which the rate is multiplied by decay
    decay: float = DEFAULT_DECAY

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        for setting, high in (
            ("batch", MAX_BATCH),
            ("base_batch", MAX_BATCH),
            ("dataset_size", MAX_EPOCH_SAMPLES),
        ):
            problem = count_problem(getattr(self, setting), high, "samples")
            if problem:
                raise SettingError(setting, problem, getattr(self, setting))
        problem = count_problem(self.epochs, EPOCHS.high, "epochs")  # the schedule lists every epoch
        if problem:
            raise SettingError("epochs", problem, self.epochs)
        if not (math.isfinite(self.base_lr) and self.base_lr > 0):
            raise SettingError("base_lr", "a number > 0", self.base_lr)
        if not (math.isfinite(self.warmup_epochs) and 0 <= self.warmup_epochs <= self.epochs):
            raise SettingError(
                "warmup_epochs",
                f"a number in [0, `epochs` = {self.epochs}]",
                self.warmup_epochs,
            )
        if not (math.isfinite(self.decay) and 0 < self.decay <= 1):
            raise SettingError("decay", "a factor in (0, 1]", self.decay)
        steps = list(self.milestones)
        if steps != sorted(set(steps)) or any(not self.warmup_epochs <= m < self.epochs for m in steps):
            raise SettingError(
                "milestones",
                f"increasing epochs in [`warmup_epochs`, `epochs` = {self.epochs})",
                self.milestones,
            )


@dataclass(frozen=True)
class LRScheduleResult:
    """The schedule for the options: its figures, phases and the rate at each epoch."""

    options: LROptions
    schedule: LRSchedule

    def to_dict(self) -> dict[str, Any]:
        s, o = self.schedule, self.options
        return {
            "schedule": {
                "base_lr": o.base_lr,
                "base_batch": o.base_batch,
                "batch": o.batch,
                "scale_k": s.scale,
                "peak_lr": s.peak_lr,
                "warmup_epochs": o.warmup_epochs,
                "warmup_iterations": s.warmup_iterations,
                "warmup_increment_per_iteration": s.warmup_increment,
                "iterations_per_epoch": s.iterations_per_epoch,
                "total_iterations": s.total_iterations,
                "epochs": o.epochs,
                "dataset_size": o.dataset_size,
                "milestones": list(o.milestones),
                "decay": o.decay,
                "source": SOURCE,
            },
            "phases": [phase.to_dict() for phase in s.phases()],
            "per_epoch_lr": s.per_epoch(),
        }


def lr_schedule(options: LROptions) -> LRScheduleResult:
    """Goyal et al.'s schedule: the linear scaling rule, gradual warm-up, then step decay."""
    options.check()
    schedule = LRSchedule(
        base_lr=options.base_lr,
        base_batch=options.base_batch,
        batch=options.batch,
        warmup_epochs=options.warmup_epochs,
        epochs=options.epochs,
        dataset_size=options.dataset_size,
        milestones=tuple(options.milestones),
        decay=options.decay,
    )
    return LRScheduleResult(options, schedule)
