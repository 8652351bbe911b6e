"""Compare every strategy for a model on a cluster, rank them and recommend one (`planner plan`).

A CNN architecture or layer profile: data parallelism with every all-reduce, the optimal PipeDream
pipeline, GPipe and 1F1B (planner.optimize.plan), on the inputs resolved by
planner.api.training.resolve_training, the resolver `dp`, `pipeline partition` and `export` share. An
LLM: the tensor x pipeline x data search of planner.api.llm, with its best plan as the recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.training import TrainingOptions
from planner.errors import InfeasibleError, SettingError
from planner.validate.bands import DATA_PARALLEL, PIPELINE, band_fields

if TYPE_CHECKING:
    from planner.api.llm import LLMOptions, LLMPlanResult
    from planner.api.training import ResolvedTraining
    from planner.optimize.llm_setup import PlanEvaluation
    from planner.optimize.plan import Comparison
    from planner.optimize.plan_rows import Objective, Strategy
    from planner.spec.hardware import Cluster
    from planner.spec.llm import LLMConfig

DEFAULT_MODEL = "vgg16"
DEFAULT_CLUSTER = "pipedream-cluster-a"  # PipeDream's Cluster-A: 4 servers x 4 V100, 10 Gbps between
DEFAULT_LLM_GLOBAL_BATCH = 1024  # sequences per iteration of an LLM plan
OBJECTIVES = ("throughput", "latency")
# a strategy's family (planner.optimize.plan.Strategy) -> the model class whose error band its times carry
FAMILY_CLASSES = {"data-parallel": DATA_PARALLEL, "pipeline": PIPELINE, "gpipe": PIPELINE, "1f1b": PIPELINE}


@dataclass(frozen=True)
class PlanOptions:
    """The training settings `plan` compares the strategies on, and how to rank them."""

    servers: int | None = None  # the outermost level's count (None: the cluster's own)
    batch: int | None = None  # samples per device (None: 32 for a CNN, a profile's own minibatch)
    profile_batch: int | None = None  # samples a measured profile's minibatch covers, if it does not say
    dtype: str = TrainingOptions.dtype
    optimizer: str = TrainingOptions.optimizer
    objective: str = "throughput"  # throughput (samples/s) or latency (time per iteration)
    sensitivity: bool = False  # ±20 % on each hardware figure: the winner's time and the flips
    rematerialise: bool = True  # GPipe recomputes activations in the backward (Huang et al. 2019 Sec. 2.3)

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (the training settings: resolve)."""
        if self.objective not in OBJECTIVES:
            raise SettingError("objective", f"one of {', '.join(OBJECTIVES)}", self.objective)

    def training(self) -> TrainingOptions:
        return TrainingOptions(
            servers=self.servers,
            batch=self.batch,
            profile_batch=self.profile_batch,
            dtype=self.dtype,
            optimizer=self.optimizer,
        )


@dataclass(frozen=True)
class StrategyPlanResult:
    """Every strategy ranked, the recommendation, and (with `sensitivity`) how the winner moves."""

    model: str  # as given (catalog name or path), or the spec's name
    options: PlanOptions
    resolved: ResolvedTraining
    comparison: Comparison
    sensitivity: tuple[dict[str, Any], ...] | None = None

    @property
    def winner(self) -> Strategy:
        winner = self.comparison.winner
        assert winner is not None  # plan_strategies raised InfeasibleError otherwise
        return winner

    def to_dict(self) -> dict[str, Any]:
        comparison, o = self.comparison, self.options
        machine = self.resolved.setup.cluster
        price = machine.price
        payload: dict[str, Any] = {
            "inputs": {
                "model": self.model,
                "cluster": machine.name,
                "device": machine.device.name,
                "devices": machine.total_devices,
                "servers": machine.levels[-1].count,
                "batch_per_device": self.resolved.batch,
                "dtype": o.dtype,
                "optimizer": o.optimizer,
                "objective": o.objective,
                "gpipe_rematerialise": o.rematerialise,
                "work": "measured times" if self.resolved.setup.arrays.measured else "FLOP (roofline)",
                "price": None
                if price is None
                else {"usd_per_server_hour": price.usd_per_hour, "date": price.date, "source": price.source},
            },
            "strategies": [
                s.to_dict() | band_fields(FAMILY_CLASSES[s.family]) for s in comparison.strategies
            ],
            "not_evaluated": list(comparison.infeasible),
            "recommendation": comparison.recommendation,
            "winner": self.winner.name,
        }
        if self.sensitivity is not None:
            from planner.optimize.plan_sensitivity import most_sensitive, ranking_flips

            rows = list(self.sensitivity)
            payload["sensitivity"] = rows
            payload["most_sensitive"] = most_sensitive(rows)
            payload["ranking_flips"] = ranking_flips(rows)
        return payload


def plan_strategies(model: Any, cluster: str | Cluster, options: PlanOptions) -> StrategyPlanResult:
    """Compare the strategies for a CNN architecture or layer profile (a spec, catalog name or file) on
    `cluster`, rank them by the objective and recommend one. InfeasibleError when none fits a device."""
    from planner.api.training import resolve_training
    from planner.optimize import plan
    from planner.optimize.plan_sensitivity import sensitivity

    options.check()
    resolved = resolve_training(model, cluster, options.training())
    objective: Objective = "latency" if options.objective == "latency" else "throughput"
    comparison = plan.compare(
        resolved.setup, resolved.profile, resolved.batch, objective, options.rematerialise
    )
    if comparison.winner is None:
        raise InfeasibleError(_nothing_fits(comparison, resolved))
    rows = None
    if options.sensitivity:
        rows = tuple(sensitivity(resolved.setup, resolved.profile, resolved.batch, comparison))
    name = model if isinstance(model, str) else model.name
    return StrategyPlanResult(name, options, resolved, comparison, rows)


def _nothing_fits(comparison: Comparison, resolved: ResolvedTraining) -> str:
    device = resolved.setup.device
    smallest = min(comparison.strategies, key=lambda s: s.memory_per_device_bytes, default=None)
    need = (
        ""
        if smallest is None
        else f"; the smallest, {smallest.name} ({smallest.config}), needs "
        f"{smallest.memory_per_device_bytes / 2**30:.1f} GiB per device"
    )
    return (
        f"no strategy fits in the {device.usable_memory / 2**30:.1f} GiB usable of a {device.name} at "
        f"{resolved.batch} samples per device{need} (a smaller batch may fit)"
    )


@dataclass(frozen=True)
class LLMRecommendation:
    """The LLM search (or the configuration given) with its best plan as the recommendation."""

    result: LLMPlanResult
    config: LLMConfig  # the model searched

    @property
    def best(self) -> PlanEvaluation:
        best = self.result.best
        assert best is not None  # a search without a feasible plan raised InfeasibleError
        return best

    @property
    def recommendation(self) -> str:
        from planner.api.llm import describe

        best = self.best
        return (
            f"{describe(best)}: {best.time_per_iteration_s:.4g} s per iteration, "
            f"{best.tflops_per_device:.0f} TFLOP/s per device, "
            f"{best.memory_per_device_bytes / 2**30:.1f} GiB per device"
        )

    def to_dict(self) -> dict[str, Any]:
        payload = self.result.to_dict()
        if self.result.plan is not None:
            for key in ("time_per_iteration_s", "tflops_per_device", "memory_per_device_bytes", "feasible"):
                payload[key] = getattr(self.best, key)
        payload["recommendation"] = self.recommendation
        return payload


def plan_llm(model: Any, cluster: str | Cluster, options: LLMOptions) -> LLMRecommendation:
    """The LLM search (planner.api.llm) with a recommendation; InfeasibleError when the configuration
    given does not fit, or the search finds nothing that does."""
    from planner.api.inputs import load_llm
    from planner.api.llm import describe, llm_parallel

    config = load_llm(model)
    result = llm_parallel(config, cluster, options)
    best = result.best
    if result.plan is not None and best is not None and not best.feasible:
        raise InfeasibleError(f"{describe(best)} does not fit: {'; '.join(best.reasons)}")
    return LLMRecommendation(result, config)
