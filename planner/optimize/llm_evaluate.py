"""One LLM training configuration evaluated: a one-row grid through the model of planner.optimize.llm_costs,
with every rule it breaks, its time per iteration, throughput and memory per device."""

from __future__ import annotations

import numpy as np

from planner.optimize.llm_costs import evaluate_grid, plan_evaluation
from planner.optimize.llm_grid import Grid
from planner.optimize.llm_setup import RECOMPUTE, Configuration, PlanEvaluation, TrainingSetup


def evaluate_configuration(
    setup: TrainingSetup,
    *,
    tensor: int,
    pipeline: int,
    data: int,
    microbatch: int,
    interleave: int = 1,
    recompute: str = "full",
    zero: int = 0,
    expert: int = 1,
) -> PlanEvaluation:
    """Time per iteration, throughput and memory per device of one configuration (SI units).

    Raises ValueError for values that are not a configuration at all (degrees < 1, t·p·d more than the setup's
    devices, unknown recompute or ZeRO stage, e > 1 for a dense model). A configuration that breaks a
    divisibility or batch rule, or does not fit, is evaluated anyway (fractional m where needed) and returned
    with feasible = False and the reasons.
    """
    c = Configuration(tensor, pipeline, data, microbatch, interleave, recompute, zero, expert)
    if expert > 1 and not setup.model.is_moe:
        raise ValueError(f"expert parallelism e={expert} needs a mixture-of-experts model")
    if c.devices > setup.device_count:
        raise ValueError(
            f"t·p·d = {tensor}·{pipeline}·{data} = {c.devices} devices, more than the "
            f"{setup.device_count} given"
        )
    values = (tensor, pipeline, data, microbatch, interleave, RECOMPUTE.index(recompute), zero, expert)
    row = Grid(*(np.array([value], dtype=np.int64) for value in values))
    return plan_evaluation(setup, row, evaluate_grid(setup, row), 0)
