"""Plans as DeepSpeed configurations: a config JSON for data-parallel, ZeRO and LLM plans, and whether a
pipeline split is one that `PipelineModule(partition_method=...)` produces.

Sources (DeepSpeed, deepspeedai/DeepSpeed):
* docs/_pages/config-json.md ("DeepSpeed Configuration JSON"): `train_batch_size` [integer] "must be equal
  to train_micro_batch_size_per_gpu * gradient_accumulation_steps * number of GPUs";
  `train_micro_batch_size_per_gpu` [integer]; `gradient_accumulation_steps` [integer];
  `zero_optimization.stage` [0|1|2|3] (disabled, optimizer state, + gradients, + parameters partitioned);
  `zero_optimization.overlap_comm` [boolean] (overlap gradient reduction with backward); `fp16.enabled` and
  `bf16.enabled` [boolean] ("bf16 cannot be combined with the fp16 mode"). With model parallelism the
  "number of GPUs" is the data-parallel world size (the engine divides by it); the exports say so.
* deepspeed/runtime/pipe/module.py (`PipelineModule`): `partition_method` is "uniform" (balance the number
  of layers), "parameters" (balance trainable parameters per layer, the default) or "type:REGEX" (balance
  the layers whose class name matches); the topology gives every stage world_size / num_stages
  data-parallel replicas; "Pipeline parallelism is not compatible with ZeRO-2 and ZeRO-3".
* deepspeed/runtime/utils.py: `partition_uniform(num_items, num_parts)` (equal counts, the first
  `num_items % num_parts` parts one larger; parts[p] = min(p, n) when n <= parts) and
  `partition_balanced(weights, num_parts)`, a dynamic program over prefix sums that minimises the
  difference between the heaviest and the lightest part (ties: the last split point k considered). This
  is the current form; releases before 2024 searched for the smallest bottleneck instead, and can split
  differently (DeepSpeed issue 5078). `partition_uniform` and `partition_balanced` below are our own
  vectorised code for the current form, so that a plan's split is compared with what DeepSpeed computes.

Nothing here is tuned: the config carries the plan's numbers, and what DeepSpeed cannot express raises
NotExpressible with the reason instead of a config that would run a different plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from planner.export import DataParallelPlan, NotExpressible, PipelinePlan

ENGINE = "DeepSpeed"
PRECISIONS = ("fp32", "fp16", "bf16")
# the documented keys the exports write (config-json.md), for checks and tests
CONFIG_KEYS = frozenset(
    {
        "train_batch_size",
        "train_micro_batch_size_per_gpu",
        "gradient_accumulation_steps",
        "zero_optimization",
        "fp16",
        "bf16",
    }
)
ZERO_KEYS = frozenset({"stage", "overlap_comm"})
PIPELINE_ZERO_STAGES = (0, 1)  # PipelineModule: "not compatible with ZeRO-2 and ZeRO-3"


# ------------------------------------------------------------------------------------------- config


def batch_config(
    *,
    micro_batch: int,
    accumulation: int,
    data_parallel: int,
    zero_stage: int,
    dtype: str,
    overlap_comm: bool | None = None,
) -> dict[str, Any]:
    """A DeepSpeed config with the batch keys (train_batch_size = micro × accumulation × data-parallel
    GPUs, config-json.md), the ZeRO stage and the precision (fp16 / bf16 mixed precision, or fp32)."""
    for name, value in (
        ("micro_batch", micro_batch),
        ("accumulation", accumulation),
        ("data_parallel", data_parallel),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    if zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {zero_stage!r}")
    if dtype not in PRECISIONS:
        raise ValueError(f"dtype must be one of {', '.join(PRECISIONS)}, got {dtype!r}")
    zero: dict[str, Any] = {"stage": int(zero_stage)}
    if overlap_comm is not None:
        zero["overlap_comm"] = bool(overlap_comm)
    return {
        "train_batch_size": int(micro_batch * accumulation * data_parallel),
        "train_micro_batch_size_per_gpu": int(micro_batch),
        "gradient_accumulation_steps": int(accumulation),
        "zero_optimization": zero,
        "fp16": {"enabled": dtype == "fp16"},
        "bf16": {"enabled": dtype == "bf16"},
    }


def _artifact(config: Mapping[str, Any]) -> str:
    import json

    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def _result(config: dict[str, Any], data_parallel: int, notes: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "engine": ENGINE,
        "config": config,
        "data_parallel_size": data_parallel,
        **extra,
        "artifact": _artifact(config),
        "artifact_kind": "json",
        "notes": notes,
    }


def dp_export(plan: DataParallelPlan, zero_stage: int = 0) -> dict[str, Any]:
    """A data-parallel plan as a DeepSpeed config: micro-batch = the plan's batch per device, no gradient
    accumulation (the plan's iteration is one step), data parallel = its devices; precision from its
    dtype; overlap_comm as the plan assumed. NotExpressible when the global batch is not the same on
    every device (DeepSpeed's batch arithmetic has no uneven split)."""
    devices, per_device, total = plan.devices, plan.batch_per_device, plan.global_batch
    if per_device * devices != total:
        raise NotExpressible(
            f"a global batch of {total} over {devices} devices is uneven; DeepSpeed needs train_batch_size "
            "= micro-batch × accumulation × GPUs with one micro-batch size (give a multiple of the devices)"
        )
    config = batch_config(
        micro_batch=per_device,
        accumulation=1,
        data_parallel=devices,
        zero_stage=zero_stage,
        dtype=plan.dtype,
        overlap_comm=plan.overlap,
    )
    notes = [
        f"the optimizer block is left to the training script (the plan assumed {plan.optimizer})",
    ]
    if zero_stage == 0 and not plan.fits:
        notes.append(
            f"at ZeRO-0 the plan needs {plan.memory_per_device_bytes / 2**30:.1f} GiB per device, more "
            f"than the device's {plan.device_memory_bytes / 2**30:.1f} GiB usable: a ZeRO "
            "stage >= 1 shards the optimizer state (planner llm-parallel models ZeRO's memory)"
        )
    if zero_stage > 0:
        notes.append(
            f"ZeRO-{zero_stage} changes memory and traffic; the planner's data-parallel model times ZeRO-0"
        )
    return _result(config, devices, notes, zero_stage=zero_stage)


def llm_export(plan: Mapping[str, Any], inputs: Mapping[str, Any], num_layers: int) -> dict[str, Any]:
    """An LLM plan (PlanEvaluation.to_dict() of planner.optimize.parallelism, with the search's inputs) as a
    DeepSpeed config: micro-batch b, accumulation m = B / (b·d), data parallel d, its ZeRO stage and dtype.

    NotExpressible for what DeepSpeed's pipeline engine cannot run: ZeRO-2/3 with p > 1, and interleaved
    stages (its schedule runs one model chunk per stage). Tensor parallelism and recomputation are not
    config keys; the notes say where they go."""
    t, p, d = int(plan["tensor_parallel"]), int(plan["pipeline_parallel"]), int(plan["data_parallel"])
    b, v, zero = int(plan["microbatch"]), int(plan["interleave"]), int(plan["zero_stage"])
    global_batch = int(inputs["global_batch"])
    m = plan["microbatches"]
    if m != int(m) or global_batch != b * int(m) * d:
        raise NotExpressible(
            f"the global batch {global_batch} is not micro-batch {b} × a whole number of micro-batches × "
            f"data parallel {d}"
        )
    if p > 1 and zero not in PIPELINE_ZERO_STAGES:
        raise NotExpressible(
            f"this plan pipelines over {p} stages with ZeRO-{zero}; DeepSpeed's PipelineModule is not "
            "compatible with ZeRO-2 and ZeRO-3 (deepspeed/runtime/pipe/module.py)"
        )
    if p > 1 and v > 1:
        raise NotExpressible(
            f"this plan interleaves {v} model chunks per device; DeepSpeed's pipeline schedule runs one "
            "chunk per stage (no interleaved 1F1B)"
        )
    config = batch_config(
        micro_batch=b,
        accumulation=int(m),
        data_parallel=d,
        zero_stage=zero,
        dtype=inputs["dtype"],
        overlap_comm=bool(inputs.get("overlap_grad_reduce", True)),
    )
    notes = [f"train_batch_size counts the {d} data-parallel replicas (world size {t * p * d} = t·p·d)"]
    if t > 1:
        notes.append(
            f"tensor parallelism (t = {t}) is not a DeepSpeed config key: set it in the model code "
            "(Megatron-DeepSpeed --tensor-model-parallel-size)"
        )
    if p > 1:
        notes.append(
            f"pipeline: PipelineModule(num_stages={p}, partition_method='type:<transformer layer class>') "
            f"puts {num_layers // p} transformer layers on each stage, as planned"
        )
    if plan["recompute"] == "full":
        notes.append(
            "full recomputation: checkpoint every transformer layer in the model "
            "(PipelineModule activation_checkpoint_interval=1, or deepspeed.checkpointing.checkpoint)"
        )
    elif plan["recompute"] == "selective":
        notes.append("selective recomputation (attention only) is the model code's, not a DeepSpeed key")
    if inputs.get("gemm_precision") == "fp8":
        notes.append(
            "fp8 GEMMs are not a DeepSpeed config key: run the layers under Transformer Engine's "
            "fp8_autocast in the model code (the plan assumed TE's hybrid E4M3/E5M2 recipe)"
        )
    return _result(config, d, notes, zero_stage=zero)


# ------------------------------------------------------------------------------------------ pipeline


def partition_uniform(num_items: int, num_parts: int) -> list[int]:
    """DeepSpeed's uniform split: part boundaries [0, ..., num_items]; the first num_items % num_parts parts
    hold one item more; with fewer items than parts, parts[p] = min(p, num_items)."""
    if num_items < 0 or num_parts < 1:
        raise ValueError("num_items must be >= 0 and num_parts >= 1")
    if num_items <= num_parts:
        return [min(p, num_items) for p in range(num_parts + 1)]
    chunk, extra = divmod(num_items, num_parts)
    return [p * chunk + min(p, extra) for p in range(num_parts + 1)]


def partition_balanced(weights: Sequence[float], num_parts: int) -> list[int]:
    """DeepSpeed's balanced split (the linear partition dynamic program): the boundaries of num_parts
    contiguous parts that minimise max(part sum) - min(part sum); among equal costs the last split point
    k. O(num_parts · n^2), vectorised over k."""
    w = np.asarray(weights, dtype=float)
    n, m = len(w), num_parts
    if m < 1:
        raise ValueError("num_parts must be >= 1")
    if n <= m:
        return partition_uniform(n, m)
    prefix = np.concatenate(([0.0], np.cumsum(w)))
    dp_max = np.full((n + 1, m + 1), np.inf)
    dp_min = np.full((n + 1, m + 1), np.inf)
    position = np.zeros((n + 1, m + 1), dtype=int)
    dp_max[0, 0] = 0.0
    for j in range(1, m + 1):
        for i in range(j, n + 1):
            part = prefix[i] - prefix[:i]
            high = np.maximum(dp_max[:i, j - 1], part)
            low = np.minimum(dp_min[:i, j - 1], part)
            cost = high - low
            k = int(np.flatnonzero(cost == cost.min())[-1])
            dp_max[i, j], dp_min[i, j], position[i, j] = high[k], low[k], k
    parts = [n]
    for j in range(m, 0, -1):
        parts.append(int(position[parts[-1], j]))
    return parts[::-1]


def partition_methods(plan: PipelinePlan, parameter_counts: Sequence[int]) -> dict[str, Any]:
    """The plan's split as layer boundaries, beside what partition_method 'uniform' and 'parameters' give
    on the same layer list (one PipelineModule layer per profile layer, in profile order), and which of
    them (if any) reproduces it."""
    if len(parameter_counts) != len(plan.layer_names):
        raise ValueError("need one parameter count per profile layer")
    stages = plan.num_stages
    optimal = plan.boundaries()
    candidates = {
        "parameters": partition_balanced(parameter_counts, stages),  # PipelineModule's default
        "uniform": partition_uniform(len(plan.layer_names), stages),
    }
    matching = [name for name, parts in candidates.items() if parts == optimal]
    return {
        "optimal": optimal,
        "uniform": candidates["uniform"],
        "parameters": candidates["parameters"],
        "partition_method": matching[0] if matching else None,
    }


def _sizes(parts: Sequence[int] | None) -> str:
    if parts is None:
        return "not contiguous"
    return ", ".join(str(b - a) for a, b in pairwise(parts))


def pipeline_export(
    plan: PipelinePlan,
    parameter_counts: Sequence[int],
    *,
    micro_batch: int,
    microbatches: int,
    dtype: str,
) -> dict[str, Any]:
    """A pipeline plan as `PipelineModule(num_stages, partition_method)` and a config JSON (micro-batch =
    the plan's minibatch, `microbatches` of them per step, data parallel = the stages' replicas, ZeRO-0).

    Raises NotExpressible, with every reason, when PipelineModule cannot run the plan: stages that are not
    contiguous runs of the layer list, unequal replicas, or a split that neither 'uniform' nor
    'parameters' produces ('type:REGEX' balances the layers whose class name matches, which a profile
    does not name)."""
    methods = partition_methods(plan, parameter_counts)
    replicas = plan.replicas
    reasons = []
    if methods["optimal"] is None:
        reasons.append("its stages are not contiguous runs of the layer list, which PipelineModule cuts")
    if len(set(replicas)) > 1:
        reasons.append(
            f"its stages have unequal replicas ({'-'.join(map(str, replicas))}), and PipelineModule gives "
            "every stage world_size / num_stages data-parallel replicas"
        )
    if methods["optimal"] is not None and methods["partition_method"] is None:
        reasons.append(
            f"its split (layers per stage {_sizes(methods['optimal'])}) cannot be expressed as "
            f"partition_method 'uniform' ({_sizes(methods['uniform'])}) or 'parameters' "
            f"({_sizes(methods['parameters'])}), and 'type:REGEX' balances layers by class name, which the "
            "profile does not give"
        )
    if reasons:
        raise NotExpressible(
            f"the optimal split of {plan.model or 'this model'} into {plan.num_stages} stages cannot be "
            f"expressed as a DeepSpeed PipelineModule: {'; '.join(reasons)}. Build the stage modules "
            "yourself rather than use a partition_method that would run a different split"
        )
    data_parallel = replicas[0]
    config = batch_config(
        micro_batch=micro_batch,
        accumulation=microbatches,
        data_parallel=data_parallel,
        zero_stage=0,
        dtype=dtype,
    )
    notes = [
        f"PipelineModule(layers, num_stages={plan.num_stages}, partition_method="
        f"'{methods['partition_method']}') with one layer per profile layer, in profile order",
        f"world size {plan.num_stages * data_parallel}: {plan.num_stages} stage(s) × {data_parallel} "
        "data-parallel replica(s)",
        f"a micro-batch is the plan's minibatch ({micro_batch} samples), {microbatches} per step: DeepSpeed "
        "flushes the pipeline every step (1F1B), unlike PipeDream's asynchronous schedule the plan timed",
    ]
    return _result(
        config,
        data_parallel,
        notes,
        pipeline_module={"num_stages": plan.num_stages, "partition_method": methods["partition_method"]},
        partitions=methods,
    )
