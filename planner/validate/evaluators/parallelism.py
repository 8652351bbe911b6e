"""Evaluators of the LLM parallelism planner (planner.optimize.parallelism) and Megatron's formulas.

A setup names an LLM (catalog name, or an inline mapping in the catalog's `spec: llm` format for a model
the catalog lacks), a cluster (catalog name or inline mapping) with an optional `servers` count, the
global batch and sequence length, and the configuration: tensor, pipeline, data, and optionally
microbatch and interleave; the system as the source ran it: `attention` (flash / standard),
`sequence_parallel`, `overlap_grad_reduce`, `gradient_dtype`, `gradient_accumulation_fusion` (the planner's
defaults where unstated).
A configuration the source does not state (micro-batch size, interleaving) is
left out and the planner picks its best value for the stated degrees (`search` with those pinned), the
same rule for every case. `quantity` selects the reported figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator

QUANTITIES = (
    "tflops_per_device",
    "model_tflops_per_device",
    "time_per_iteration_s",
    "bubble_overhead",
    "flops_per_iteration",
    "model_flops_per_iteration",
    "memory_per_device_bytes",
)


def _spec(value: Any, area: str, kind: str) -> Any:
    from planner.spec.catalog import build_spec, find

    if isinstance(value, str):
        return find(area, value, (kind,))
    if isinstance(value, Mapping):
        import yaml

        from planner.spec.yamlio import parse_yaml

        doc = parse_yaml(yaml.safe_dump(dict(value)), f"inline {kind}")
        return build_spec(doc, (kind,))
    raise ValueError(f"{kind} must be a catalog name or a {kind} mapping")


def _whole(setup: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = setup.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be a whole number >= 1, got {value!r}")
    return value


def _setup(setup: Mapping[str, Any]) -> Any:
    from planner.optimize.llm_setup import TrainingSetup

    model = _spec(setup["model"], "models", "llm")
    cluster = _spec(setup["cluster"], "hardware", "cluster")
    if "servers" in setup:
        cluster = cluster.with_top_count(_whole(setup, "servers"))
    devices = _whole(setup, "tensor") * _whole(setup, "pipeline") * _whole(setup, "data")
    return TrainingSetup(
        model=model,
        cluster=cluster,
        global_batch=_whole(setup, "global_batch"),
        seq_len=_whole(setup, "seq_len"),
        dtype=str(setup.get("dtype", "bf16")),
        devices=devices,
        sequence_parallel=_flag(setup, "sequence_parallel", True),
        overlap_grad_reduce=_flag(setup, "overlap_grad_reduce", True),
        attention=str(setup.get("attention", "flash")),
        gradient_dtype=setup.get("gradient_dtype"),
        gradient_accumulation_fusion=_flag(setup, "gradient_accumulation_fusion", True),
    )


def _flag(setup: Mapping[str, Any], key: str, default: bool) -> bool:
    value = setup.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value


@evaluator(
    "llm_plan",
    setup=("model", "cluster", "global_batch", "seq_len", "tensor", "pipeline", "data", "quantity"),
    optional=(
        "servers",
        "dtype",
        "microbatch",
        "interleave",
        "recompute",
        "zero",
        "sequence_parallel",
        "overlap_grad_reduce",
        "attention",
        "gradient_dtype",
        "gradient_accumulation_fusion",
    ),
)
def llm_plan(setup: Mapping[str, Any], ctx: Context) -> float:
    """A figure of one configuration (planner.optimize.llm_evaluate.evaluate_configuration); an unstated
    micro-batch size or interleaving is the planner's best for the stated degrees."""
    from planner.api.llm import LLMOptions
    from planner.optimize.llm_evaluate import evaluate_configuration
    from planner.optimize.parallelism import search

    quantity = setup["quantity"]
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}, got {quantity!r}")
    training = _setup(setup)
    recompute = str(setup.get("recompute", "full"))
    zero = setup.get("zero", 0)
    t, p, d = _whole(setup, "tensor"), _whole(setup, "pipeline"), _whole(setup, "data")
    if "microbatch" in setup and "interleave" in setup:
        plan = evaluate_configuration(
            training,
            tensor=t,
            pipeline=p,
            data=d,
            microbatch=_whole(setup, "microbatch"),
            interleave=_whole(setup, "interleave"),
            recompute=recompute,
            zero=zero,
        )
    else:
        found = search(
            training,
            top=1,
            max_microbatch=LLMOptions.max_microbatch,
            max_interleave=LLMOptions.max_interleave,
            tensor=t,
            pipeline=p,
            microbatch=setup.get("microbatch"),
            interleave=setup.get("interleave"),
            recompute=(recompute,),
            zero=(zero,),
        )
        if not found.plans:
            raise ValueError(
                f"no feasible micro-batch / interleaving for t={t}, p={p}, d={d}: {found.rejected}"
            )
        plan = found.plans[0]
    value = float(getattr(plan, quantity))
    if not math.isfinite(value):
        raise ValueError(f"{quantity} is undefined for this configuration ({'; '.join(plan.reasons)})")
    return value


@evaluator("llm_parameters", setup=("model",))
def llm_parameters(setup: Mapping[str, Any], ctx: Context) -> float:
    """Parameters of an LLM given by catalog name or inline mapping (planner.cost.transformer)."""
    from planner.cost.transformer import parameter_count

    return float(parameter_count(_spec(setup["model"], "models", "llm")))
