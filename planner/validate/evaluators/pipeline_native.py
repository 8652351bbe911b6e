"""Evaluators of the native stage partitioner (planner.optimize.pipeline_native) against PipeDream's Table 1.

A setup names a measured profile (`data:` file), a catalog cluster and its server count. The optimum is
computed once per (model, cluster, servers) and shared by the speedup and the configuration cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from planner.validate.evaluators import Context, evaluator
from planner.validate.evaluators.models import _model

SETUP = ("model", "cluster", "servers")


@cache
def _costs(model: str, data_dir: Any) -> Any:
    from planner.optimize.chain_costs import chain_costs

    spec = _model(model, Context(data_dir))
    if spec.spec != "profile":
        raise ValueError(f"'{model}' is a {spec.spec}; the Table 1 cases partition measured profiles")
    return chain_costs(spec)


@cache
def _optimum(model: str, cluster: str, servers: int, data_dir: Any) -> Any:
    from planner.optimize.pipeline_native import partition_native
    from planner.spec.catalog import find

    machine = find("hardware", cluster, ("cluster",)).with_top_count(servers)
    return partition_native(_costs(model, data_dir), machine)


def _result(setup: Mapping[str, Any], ctx: Context) -> Any:
    servers = setup["servers"]
    if isinstance(servers, bool) or not isinstance(servers, int) or servers < 1:
        raise ValueError(f"servers must be a whole number >= 1, got {servers!r}")
    return _optimum(str(setup["model"]), str(setup["cluster"]), servers, ctx.data_dir)


@evaluator("pipeline_native_speedup_over_dp", setup=SETUP)
def pipeline_native_speedup_over_dp(setup: Mapping[str, Any], ctx: Context) -> float:
    """Data-parallel time / optimal pipeline time per minibatch, native model, all the cluster's devices."""
    return float(_result(setup, ctx).speedup_over_dp)


@evaluator("pipeline_native_config_match", setup=(*SETUP, "paper_config"))
def pipeline_native_config_match(setup: Mapping[str, Any], ctx: Context) -> float:
    """1.0 when the native optimum's configuration string ("15-1", "straight", "16") equals
    `paper_config`, else 0.0."""
    return 1.0 if _result(setup, ctx).config == str(setup["paper_config"]) else 0.0
