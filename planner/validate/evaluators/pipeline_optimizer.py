"""Evaluators of the stage-partitioning optimizer (PipeDream-compatible cost model)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from planner.validate.evaluators import Context, evaluator, flag
from planner.validate.evaluators.models import _model

QUANTITIES = (
    "pipeline_time_s",
    "single_stage_time_s",
    "data_parallel_time_s",
    "dp_speedup_vs_single",
    "speedup_over_dp",
    "speedup_over_single",
)
FLAGS = ("straight", "use_fewer_machines")


@evaluator(
    "pipedream_optimizer",
    setup=("profile", "levels", "quantity"),
    optional=("activation_compression_ratio", "memory_limit", *FLAGS),
)
def pipedream_optimizer(setup: Mapping[str, Any], ctx: Context) -> float:
    """A figure of PipeDream's optimizer on a profile: `levels` is "count:bandwidth,..." innermost first
    (PipeDream's -n and -b), `quantity` one of QUANTITIES (seconds per minibatch, or a ratio)."""
    if setup["quantity"] not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}, got '{setup['quantity']}'")
    ratio = setup.get("activation_compression_ratio")
    if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float))):
        raise ValueError(f"activation_compression_ratio must be a number, got {ratio!r}")
    for name in FLAGS:
        flag(setup, name, False)
    memory = setup.get("memory_limit")
    if memory is not None and not isinstance(memory, str):
        raise ValueError(f"memory_limit must be a quantity such as '16GB', got {memory!r}")
    result = _solve(
        str(setup["profile"]),
        str(setup["levels"]),
        None if ratio is None else float(ratio),
        memory,
        bool(setup.get("straight", False)),
        bool(setup.get("use_fewer_machines", False)),
        ctx,
    )
    return float(getattr(result, setup["quantity"]))


@lru_cache(maxsize=32)
def _solve(
    profile: str,
    levels: str,
    ratio: float | None,
    memory: str | None,
    straight: bool,
    fewer: bool,
    ctx: Context,
) -> Any:
    from planner.optimize.pipedream import partition_pipedream
    from planner.optimize.pipedream_levels import parse_levels
    from planner.units import parse_quantity

    model = _model(profile, ctx)
    if model.spec != "profile":
        raise ValueError(
            f"pipedream_optimizer needs a measured profile, and '{model.name}' is a {model.spec}"
        )
    return partition_pipedream(
        model,
        parse_levels(levels, "setup.levels"),
        memory_limit_bytes=None if memory is None else parse_quantity(memory, "memory"),
        straight=straight,
        use_fewer_machines=fewer,
        activation_compression_ratio=ratio,
    )
