"""Evaluators of speculative decoding: Leviathan et al.'s closed forms, PEARL's chain and Sequoia's tree
program.

`decimals` rounds the prediction the way the paper rounds its table (an exact case then compares the
rounded figures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator


def _rounded(value: float, setup: Mapping[str, Any]) -> float:
    decimals = setup.get("decimals")
    if decimals is None:
        return value
    if not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be an integer >= 0, got {decimals!r}")
    return round(value, decimals)


def _number(setup: Mapping[str, Any], key: str) -> float:
    value = setup[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number, got {value!r}")
    return float(value)


@evaluator("specdec_walltime", setup=("alpha", "gamma", "c"), optional=("decimals",))
def specdec_walltime(setup: Mapping[str, Any], ctx: Context) -> float:
    """Expected walltime improvement (Leviathan et al. 2023, Thm 3.8) from alpha, gamma and c."""
    from planner.cost.speculative import walltime_improvement

    value = walltime_improvement(_number(setup, "alpha"), _number(setup, "gamma"), _number(setup, "c"))
    return _rounded(float(value), setup)


@evaluator("pearl_speedup", setup=("alpha", "gamma", "c"))
def pearl_speedup(setup: Mapping[str, Any], ctx: Context) -> float:
    """PEARL's speed-up over plain decoding (planner.cost.pearl's chain) from alpha, its window and c."""
    from planner.cost.pearl import pearl_speedup as speedup

    return float(speedup(_number(setup, "alpha"), _number(setup, "gamma"), _number(setup, "c")))


@evaluator(
    "pearl_paper_setting",
    setup=("sd_mean_accepted", "sd_gamma", "gamma", "draft_tokens_per_s", "target_tokens_per_s"),
    optional=("report",),
)
def pearl_paper_setting(setup: Mapping[str, Any], ctx: Context) -> float:
    """PEARL's chain at a setting of its paper, from the paper's own measurements (none of them a speed-up).

    alpha: Leviathan et al. 2023 Eq. 1 inverted at vanilla SD's mean accepted tokens and window; PEARL's
    code counts the accepted drafts of a round, so Eq. 1's tokens per round are that count + 1. c: a
    draft step over a target step, i.e. the target's auto-regressive tok/s over the draft's. `report:
    tokens_per_s` gives the speed-up times the target's auto-regressive tok/s (the paper's speed column).
    """
    from planner.cost.pearl import pearl_speedup as speedup
    from planner.cost.speculative import alpha_from_expected_tokens

    alpha = alpha_from_expected_tokens(_number(setup, "sd_mean_accepted") + 1.0, _number(setup, "sd_gamma"))
    target = _number(setup, "target_tokens_per_s")
    value = float(speedup(alpha, _number(setup, "gamma"), target / _number(setup, "draft_tokens_per_s")))
    report = setup.get("report", "speedup")
    if report not in ("speedup", "tokens_per_s"):
        raise ValueError(f"report must be speedup or tokens_per_s, got {report!r}")
    return value * target if report == "tokens_per_s" else value


@evaluator("specdec_operations", setup=("alpha", "gamma", "c_hat"), optional=("decimals",))
def specdec_operations(setup: Mapping[str, Any], ctx: Context) -> float:
    """Expected factor of arithmetic operations (Leviathan et al. 2023, Thm 3.11)."""
    from planner.cost.speculative import operations_factor

    value = operations_factor(_number(setup, "alpha"), _number(setup, "gamma"), _number(setup, "c_hat"))
    return _rounded(float(value), setup)


@evaluator("token_tree_expected_tokens", setup=("acceptance", "size"), optional=("depth", "decimals"))
def token_tree_expected_tokens(setup: Mapping[str, Any], ctx: Context) -> float:
    """Expected tokens per step of Sequoia's optimal tree (its dynamic program) for an acceptance vector."""
    from planner.optimize.token_tree import optimal_tree

    acceptance = setup["acceptance"]
    if not isinstance(acceptance, list) or not all(isinstance(a, (int, float)) for a in acceptance):
        raise ValueError(f"acceptance must be a list of probabilities, got {acceptance!r}")
    size = setup["size"]
    depth = setup.get("depth")
    if not isinstance(size, int) or (depth is not None and not isinstance(depth, int)):
        raise ValueError("size and depth must be integers")
    _, tokens = optimal_tree(acceptance, size, depth)
    return _rounded(tokens, setup)
