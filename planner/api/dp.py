"""Data-parallel training (`planner dp`): options, result, and the question.

The model is a CNN architecture (FLOP per layer, timed by the roofline) or a profile with measured times;
planner.api.training resolves it, the cluster, the batch and the dtype, with the defaults of every
training question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.training import TrainingOptions
from planner.errors import SettingError
from planner.limits import EPOCHS
from planner.validate.bands import DATA_PARALLEL, band_fields

if TYPE_CHECKING:
    from planner.cost.dp_scaling import DPPlan
    from planner.spec.hardware import Cluster


@dataclass(frozen=True)
class DPOptions(TrainingOptions):
    """The training settings (TrainingOptions), the all-reduce to use, and the run to cost."""

    algorithm: str = "best"  # an all-reduce algorithm of planner.cost.cluster_allreduce, or best
    epochs: float | None = None  # report the time and cost of this many epochs

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        from planner.cost.data_parallel import all_algorithms

        super().check()
        algorithms = all_algorithms()
        if self.algorithm != "best" and self.algorithm not in algorithms:
            raise SettingError("algorithm", f"one of {', '.join(algorithms)} or best", self.algorithm)
        if self.epochs is not None and self.epochs not in EPOCHS:
            raise SettingError("epochs", f"a number {EPOCHS.text()}", self.epochs)


@dataclass(frozen=True)
class ScalingBound:
    """What the all-reduce alone allows at N devices (weak scaling): the whole gradient's all-reduce
    lower bound on the cluster's links (planner.cost.collective_layout: 2(M-1)/M G / B per level plus
    the latencies, Patarasuk & Yuan, JPDC 2009) and the speed-up N t1 / t_N if every device still
    spent its one-device iteration t1 (forward f, backward b, update u) and the all-reduce took that
    bound: overlapped, it hides behind the backward at best, t_N = f + max(b, bound) + u (not behind
    the forward: the next forward needs the updated weights); not overlapped, t_N = t1 + bound."""

    devices: int
    allreduce_lower_bound_s: float
    speedup_bound: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "devices": self.devices,
            "allreduce_lower_bound_s": self.allreduce_lower_bound_s,
            "speedup_bound": self.speedup_bound,
            "efficiency_bound": self.speedup_bound / self.devices,
        }


@dataclass(frozen=True)
class DPPlanResult:
    """The data-parallel plan: the chosen configuration, every algorithm, scaling over N, notes."""

    model: str  # as given (catalog name or path), or the spec's name
    options: DPOptions
    plan: DPPlan
    profile_batch: int | None  # the samples a measured profile's minibatch covers, as resolved
    bounds: tuple[ScalingBound, ...]  # per device count of the weak-scaling rows

    def to_dict(self) -> dict[str, Any]:
        plan, options = self.plan, self.options
        setup, chosen = plan.setup, plan.result
        machine = setup.cluster
        epochs = options.epochs
        main = chosen.to_dict()
        main["reason"] = plan.reason
        main["time_to_train_s"] = None if epochs is None else epochs * chosen.epoch_s
        cost = chosen.cost_per_epoch_usd
        main["cost_to_train_usd"] = None if epochs is None or cost is None else epochs * cost
        return {
            "inputs": {
                "model": self.model,
                "cluster": machine.name,
                "device": setup.device.name,
                "cluster_devices": machine.total_devices,
                "devices_per_server": machine.devices_per_server,
                "dtype": setup.dtype,
                "optimizer": setup.optimizer,
                "algorithm": options.algorithm,
                "overlap": setup.overlap,
                "overlap_slowdown": setup.slowdown,
                "bucket_bytes": setup.bucket_bytes,
                "strong_scaling": plan.strong_scaling,
                "profile_batch": self.profile_batch,
                "work": "measured times" if setup.arrays.measured else "FLOP (roofline)",
                "epochs": epochs,
                "epoch_samples": setup.epoch_samples,
                "price_usd_per_server_hour": chosen.price_usd_per_server_hour,
            },
            "plan": main,
            "memory": chosen.memory.to_dict()
            | {"device_memory_bytes": setup.device.memory, "usable_memory_bytes": setup.device.usable_memory},
            "algorithms": [{"algorithm": name, **opt.to_dict()} for name, opt in plan.options.items()],
            "scaling": {
                "weak": [r.to_dict() for r in plan.weak],
                "strong": [r.to_dict() for r in plan.strong],
                "allreduce_bound": [bound.to_dict() for bound in self.bounds],
            },
            "notes": list(plan.notes),
            **band_fields(DATA_PARALLEL),
        }


def data_parallel(model: Any, cluster: str | Cluster, options: DPOptions) -> DPPlanResult:
    """Plan data-parallel training of `model` on `cluster`: the iteration's breakdown, the best
    all-reduce, memory per device, weak and strong scaling over N, time and cost. InfeasibleError when
    the model does not fit a device."""
    from planner.api.training import resolve_training
    from planner.cost import data_parallel as dp
    from planner.cost import dp_scaling

    options.check()
    resolved = resolve_training(model, cluster, options)
    n, per = resolved.devices, resolved.batch
    if options.global_batch and per < n:
        raise SettingError(
            "batch", f"with `global_batch`, a global batch of at least one sample per device ({n})", per
        )
    candidates = dp.all_algorithms() if options.algorithm == "best" else (options.algorithm,)
    try:
        plan = dp_scaling.plan(
            resolved.setup, n, per, candidates, dp.default_collective, strong_scaling=options.global_batch
        )
    except ValueError as exc:  # no candidate algorithm applies to this cluster
        raise SettingError("algorithm", str(exc), show_got=False) from None
    name = model if isinstance(model, str) else model.name
    return DPPlanResult(name, options, plan, resolved.profile_batch, _bounds(plan, dp.default_collective))


def _bounds(plan: DPPlan, collective: Any) -> tuple[ScalingBound, ...]:
    """The all-reduce bound on weak scaling at each of its device counts (ScalingBound)."""
    gradient = float(plan.setup.gradient_bytes().sum())
    bounds = []
    for row in plan.weak:
        n, t1 = row.devices, row.baseline_iteration_s
        lower = collective(plan.setup.cluster, gradient, row.algorithm, n).lower_bound_s if n > 1 else 0.0
        backward = row.iteration.backward_s
        spent = t1 - backward + max(backward, lower) if plan.setup.overlap else t1 + lower
        bounds.append(ScalingBound(n, lower, n * t1 / spent))
    return tuple(bounds)
