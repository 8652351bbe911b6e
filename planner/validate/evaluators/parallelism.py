"""Evaluators of the LLM parallelism planner (planner.optimize.parallelism) and Megatron's formulas.

A setup names an LLM (catalog name, or an inline mapping in the catalog's `spec: llm` format for a model
the catalog lacks), a cluster (catalog name or inline mapping) with an optional `servers` count, the
global batch and sequence length, and the configuration: tensor, pipeline, data, and optionally
microbatch and interleave; the system as the source ran it: `attention` (flash / standard),
`sequence_parallel`, `overlap_grad_reduce`, `gradient_dtype`, `gradient_accumulation_fusion` (the planner's
defaults where unstated).
A configuration the source does not state (micro-batch size, interleaving; the degrees; the ZeRO stage or
recomputation) is left out and the planner picks its best value with the stated ones pinned (`search`),
the same rule for every case. Without all three degrees the plan spans the cluster's devices (set by
`servers`) and `data` follows from the picked tensor and pipeline degrees. `quantity` selects the reported
figure; `tokens_per_s_per_device` is tokens per second / devices (the LLaMA papers' tokens/sec/GPU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator, flag, whole

QUANTITIES = (
    "tflops_per_device",
    "model_tflops_per_device",
    "time_per_iteration_s",
    "bubble_overhead",
    "flops_per_iteration",
    "model_flops_per_iteration",
    "memory_per_device_bytes",
    "mfu",
    "tokens_per_s",
    "tokens_per_s_per_device",
)
DEGREES = ("tensor", "pipeline", "data")


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


def _setup(setup: Mapping[str, Any]) -> Any:
    from planner.optimize.llm_setup import TrainingSetup

    model = _spec(setup["model"], "models", "llm")
    cluster = _spec(setup["cluster"], "hardware", "cluster")
    if "servers" in setup:
        cluster = cluster.with_top_count(whole(setup, "servers"))
    if all(key in setup for key in DEGREES):
        devices = math.prod(whole(setup, key) for key in DEGREES)
    elif "data" in setup:
        raise ValueError("data is derived from the devices when tensor or pipeline is left to the planner")
    else:
        devices = cluster.total_devices
    return TrainingSetup(
        model=model,
        cluster=cluster,
        global_batch=whole(setup, "global_batch"),
        seq_len=whole(setup, "seq_len"),
        dtype=str(setup.get("dtype", "bf16")),
        devices=devices,
        sequence_parallel=flag(setup, "sequence_parallel", True),
        overlap_grad_reduce=flag(setup, "overlap_grad_reduce", True),
        attention=str(setup.get("attention", "flash")),
        gradient_dtype=setup.get("gradient_dtype"),
        gradient_accumulation_fusion=flag(setup, "gradient_accumulation_fusion", True),
        gemm_precision=setup.get("gemm_precision"),
    )


@evaluator(
    "llm_plan",
    setup=("model", "cluster", "global_batch", "seq_len", "quantity"),
    optional=(
        *DEGREES,
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
        "gemm_precision",
    ),
)
def llm_plan(setup: Mapping[str, Any], ctx: Context) -> float:
    """A figure of the case's plan (`plan_of`)."""
    quantity = setup["quantity"]
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}, got {quantity!r}")
    plan = plan_of(setup)
    value = _quantity(plan, quantity)
    if not math.isfinite(value):
        raise ValueError(f"{quantity} is undefined for this configuration ({'; '.join(plan.reasons)})")
    return value


def plan_of(setup: Mapping[str, Any]) -> Any:
    """The configuration a case states, evaluated (planner.optimize.llm_evaluate.evaluate_configuration);
    what it leaves out (micro-batch, interleaving, degrees, ZeRO stage, recomputation) is the planner's best
    with the stated settings pinned."""
    from planner.api.llm import LLMOptions
    from planner.cost.llm_memory import ZERO_STAGES
    from planner.optimize.llm_evaluate import evaluate_configuration
    from planner.optimize.llm_setup import RECOMPUTE
    from planner.optimize.parallelism import search

    training = _setup(setup)
    pinned = {key: whole(setup, key) for key in (*DEGREES, "microbatch", "interleave") if key in setup}
    if len(pinned) == 5:
        return evaluate_configuration(
            training,
            **pinned,
            recompute=str(setup.get("recompute", "full")),
            zero=setup.get("zero", 0),
        )
    found = search(
        training,
        top=1,
        max_microbatch=LLMOptions.max_microbatch,
        max_interleave=LLMOptions.max_interleave,
        tensor=pinned.get("tensor"),
        pipeline=pinned.get("pipeline"),
        microbatch=pinned.get("microbatch"),
        interleave=pinned.get("interleave"),
        recompute=(str(setup["recompute"]),) if "recompute" in setup else RECOMPUTE,
        zero=(setup["zero"],) if "zero" in setup else ZERO_STAGES,
    )
    if not found.plans:
        raise ValueError(f"no feasible plan for the stated configuration {pinned}: {found.rejected}")
    return found.plans[0]


def _quantity(plan: Any, quantity: str) -> float:
    if quantity == "tokens_per_s_per_device":
        return float(plan.tokens_per_s) / plan.devices
    return float(getattr(plan, quantity))


@evaluator("llm_parameters", setup=("model",))
def llm_parameters(setup: Mapping[str, Any], ctx: Context) -> float:
    """Parameters of an LLM given by catalog name or inline mapping (planner.cost.transformer)."""
    from planner.cost.transformer import parameter_count

    return float(parameter_count(_spec(setup["model"], "models", "llm")))
