"""Large-minibatch SGD: the linear scaling rule, gradual warm-up, the step schedule, and time to train.

Source: Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", arXiv:1706.02677,
2017.

* Linear scaling rule (Sec. 2.1): "When the minibatch size is multiplied by k, multiply the learning
  rate by k": eta = base_lr · B / base_batch (ResNet-50: eta = 0.1 · B / 256).
* Gradual warm-up (Sec. 2.2): start from base_lr and add a constant increment every iteration so that
  the rate reaches k · base_lr after `warmup_epochs` (5 in the paper); then the usual schedule.
* The usual schedule for ResNet-50 on ImageNet (Sec. 5.1): 90 epochs, the rate divided by 10 at epochs
  30, 60 and 80.

Counting conventions (stated, not from the paper): an epoch is ceil(dataset_size / B) iterations (the
last, partial minibatch is kept, as PyTorch's DataLoader does by default); warm-up lasts
round(warmup_epochs · iterations_per_epoch) iterations; the rate of iteration t (0-based) during warm-up
is base_lr + t · increment, so iteration W (the first after warm-up) runs at k · base_lr; a decay applies
from the first iteration of its milestone epoch. Units: learning rates are dimensionless, times seconds.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: the API's options import this module
    import numpy as np
    import numpy.typing as npt

IMAGENET_TRAIN_SAMPLES = 1_281_167  # ILSVRC-2012 training images (Russakovsky et al., IJCV 2015)
DEFAULT_MILESTONES = (30, 60, 80)  # Goyal et al. 2017, Sec. 5.1
DEFAULT_DECAY = 0.1


def linear_scaled_lr(base_lr: float, base_batch: float, batch: float) -> float:
    """Goyal et al. 2017 Sec. 2.1: eta = base_lr · batch / base_batch."""
    if base_lr <= 0 or base_batch <= 0 or batch <= 0:
        raise ValueError("base_lr, base_batch and batch must be > 0")
    return base_lr * batch / base_batch


def iterations_per_epoch(dataset_size: int, global_batch: int) -> int:
    """ceil(dataset_size / global_batch): the last, partial minibatch is an iteration too."""
    if dataset_size < 1 or global_batch < 1:
        raise ValueError("dataset_size and global_batch must be >= 1")
    return -(-dataset_size // global_batch)


def time_to_train(iteration_s: float, epochs: float, dataset_size: int, global_batch: int) -> float:
    """Seconds for `epochs` passes over `dataset_size` samples at `iteration_s` per iteration."""
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    return iteration_s * epochs * iterations_per_epoch(dataset_size, global_batch)


@dataclass(frozen=True)
class Phase:
    """A stretch of iterations [start, end) over which the rate goes linearly from lr_start to lr_end
    (equal for a constant phase); lr_end is the rate of the phase's last iteration."""

    name: str
    start_iteration: int
    end_iteration: int
    start_epoch: float
    end_epoch: float
    lr_start: float
    lr_end: float

    def to_dict(self) -> dict[str, float | int | str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LRSchedule:
    """Goyal et al. 2017's schedule: linear scaling, gradual warm-up, step decay (see the module doc)."""

    base_lr: float
    base_batch: int
    batch: int
    warmup_epochs: float = 5.0
    epochs: int = 90
    dataset_size: int = IMAGENET_TRAIN_SAMPLES
    milestones: tuple[int, ...] = DEFAULT_MILESTONES
    decay: float = DEFAULT_DECAY

    def __post_init__(self) -> None:
        if not self.base_lr > 0:
            raise ValueError(f"base_lr must be > 0, got {self.base_lr}")
        if self.base_batch < 1 or self.batch < 1:
            raise ValueError("base_batch and batch must be >= 1")
        if self.warmup_epochs < 0 or self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs={self.epochs}], got {self.warmup_epochs}")
        if self.epochs < 1 or self.dataset_size < 1:
            raise ValueError("epochs and dataset_size must be >= 1")
        if not 0 < self.decay <= 1:
            raise ValueError(f"decay must be in (0, 1], got {self.decay}")
        if list(self.milestones) != sorted(set(self.milestones)) or any(
            not self.warmup_epochs <= m < self.epochs for m in self.milestones
        ):
            raise ValueError(
                "milestones must be increasing epochs in [warmup_epochs, epochs), "
                f"got {list(self.milestones)}"
            )

    @property
    def scale(self) -> float:
        """k = batch / base_batch."""
        return self.batch / self.base_batch

    @property
    def peak_lr(self) -> float:
        """k · base_lr, the rate after warm-up (linear scaling rule)."""
        return linear_scaled_lr(self.base_lr, self.base_batch, self.batch)

    @property
    def iterations_per_epoch(self) -> int:
        return iterations_per_epoch(self.dataset_size, self.batch)

    @property
    def total_iterations(self) -> int:
        return self.epochs * self.iterations_per_epoch

    @property
    def warmup_iterations(self) -> int:
        return round(self.warmup_epochs * self.iterations_per_epoch)

    @property
    def warmup_increment(self) -> float:
        """The constant rate increment per warm-up iteration: (k·base_lr − base_lr) / warm-up iterations."""
        if self.warmup_iterations == 0:
            return 0.0
        return (self.peak_lr - self.base_lr) / self.warmup_iterations

    def lr_at(self, iteration: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The rate of each 0-based iteration (vectorised)."""
        import numpy as np

        t = np.asarray(iteration, dtype=float)
        if np.any(t < 0):
            raise ValueError("iterations must be >= 0")
        warm = self.base_lr + t * self.warmup_increment
        epochs_done = t / self.iterations_per_epoch
        decays = np.zeros_like(t)
        for milestone in self.milestones:
            decays += epochs_done >= milestone
        after = self.peak_lr * self.decay**decays
        return np.where(t < self.warmup_iterations, warm, after)

    def lr_at_epoch(self, epoch: float) -> float:
        """The rate of the first iteration of `epoch` (0-based, may be fractional)."""
        return float(self.lr_at(math.ceil(epoch * self.iterations_per_epoch)))

    def phases(self) -> list[Phase]:
        """Warm-up (if any), then one constant phase per step of the decay schedule."""
        ipe = self.iterations_per_epoch
        out: list[Phase] = []
        w = self.warmup_iterations
        if w > 0:
            out.append(Phase("warm-up", 0, w, 0.0, w / ipe, self.base_lr, float(self.lr_at(w - 1))))
        bounds = [w, *(m * ipe for m in self.milestones if m * ipe > w), self.total_iterations]
        for i, (start, end) in enumerate(itertools.pairwise(bounds)):
            if end <= start:
                continue
            rate = float(self.lr_at(start))
            name = "constant" if i == 0 else f"step {i}"
            out.append(Phase(name, start, end, start / ipe, end / ipe, rate, rate))
        return out

    def per_epoch(self) -> list[float]:
        """The rate at the first iteration of each epoch 0 .. epochs-1."""
        import numpy as np

        return [float(v) for v in self.lr_at(np.arange(self.epochs) * self.iterations_per_epoch)]
