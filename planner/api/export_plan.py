"""`planner plan --export TARGET FILE`: exactly the plan `plan` recommends, as an engine runs it.

The winner of a CNN or profile plan (planner.api.plan.plan_strategies):
* data parallelism: a DeepSpeed config (micro-batch = the batch per device, no accumulation, ZeRO-0, as
  the plan is timed); it has no pipeline split for torch or PipeDream;
* the PipeDream pipeline: its own partition (the stages, replicas and devices the plan timed) for torch,
  PipeDream or DeepSpeed, as `planner export pipeline` writes a partition;
* GPipe or 1F1B: the straight partition for torch (with the schedule and its micro-batches in a note) or
  DeepSpeed (its M micro-batches per step); PipeDream's runtime runs no flushed schedule.
An LLM plan (planner.api.plan.plan_llm): its best plan for Megatron-LM or DeepSpeed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.api.export import ExportResult, check_target

if TYPE_CHECKING:
    from planner.api.plan import LLMRecommendation, StrategyPlanResult
    from planner.optimize.plan_rows import Strategy

CNN_ENGINES = ("deepspeed", "torch", "pipedream")  # a CNN or profile plan
LLM_ENGINES = ("megatron", "deepspeed")  # an LLM plan
SCHEDULES = {"gpipe": "ScheduleGPipe", "1f1b": "Schedule1F1B"}  # torch.distributed.pipelining


def export_plan(result: StrategyPlanResult | LLMRecommendation, export: str) -> ExportResult:
    """The plan `result` recommends, for the engine `export` (deepspeed, torch or pipedream for a CNN or
    profile; megatron or deepspeed for an LLM). NotExpressible (exit 1) when the engine has no form of
    that plan, with the reason."""
    from planner.api.export import llm_fields
    from planner.api.plan import LLMRecommendation

    if isinstance(result, LLMRecommendation):
        check_target(export, LLM_ENGINES, "export")
        best = result.best.to_dict()
        inputs = result.result.to_dict()["inputs"]
        return ExportResult(llm_fields(export, best, inputs, result.config), result.to_dict())
    check_target(export, CNN_ENGINES, "export")
    winner = result.winner
    if winner.family == "data-parallel":
        fields = _data_parallel(result, winner, export)
    else:
        fields = _pipeline(result, winner, export)
    payload = result.to_dict()
    fields.update(
        target=export,
        model=payload["inputs"]["model"],
        cluster=payload["inputs"]["cluster"],
        strategy=winner.name,
        strategy_config=winner.config,
        iteration_s=winner.iteration_s,
        devices=winner.devices,
        memory_per_device_bytes=winner.memory_per_device_bytes,
    )
    return ExportResult(fields, payload)


def _not_expressible(what: str, to: str, instead: str) -> Exception:
    from planner.export import NotExpressible

    return NotExpressible(f"the recommended plan is {what}, which {to} cannot run as planned; {instead}")


def _data_parallel(result: StrategyPlanResult, winner: Strategy, to: str) -> dict[str, object]:
    from planner.export import DataParallelPlan, deepspeed

    if to != "deepspeed":
        raise _not_expressible(
            f"data parallelism ({winner.name} on {winner.devices} devices)",
            to,
            "it has no pipeline split: export it to deepspeed, or run it with DistributedDataParallel",
        )
    setup = result.resolved.setup
    view = DataParallelPlan(
        devices=winner.devices,
        batch_per_device=result.resolved.batch,
        global_batch=winner.samples_per_iteration,
        dtype=setup.dtype,
        optimizer=setup.optimizer,
        overlap=bool(setup.overlap),
        fits=winner.fits,
        memory_per_device_bytes=winner.memory_per_device_bytes,
        device_memory_bytes=setup.device.usable_memory,
    )
    fields = deepspeed.dp_export(view, 0)
    fields["notes"].append(
        f"the plan's all-reduce is {winner.name.removeprefix('DP ')}; DeepSpeed picks its own"
    )
    return fields


def _pipeline(result: StrategyPlanResult, winner: Strategy, to: str) -> dict[str, object]:
    from planner.api.export import deepspeed_pipeline, pipeline_fields
    from planner.export import PipelinePlan

    profile = result.resolved.profile
    assert winner.partition is not None  # every pipeline strategy keeps the partition it timed
    plan = PipelinePlan.from_result(winner.partition, [layer.name for layer in profile.layers], profile.name)
    if winner.family == "pipeline":  # PipeDream's asynchronous 1F1B, one minibatch at a time
        if to == "deepspeed":
            return deepspeed_pipeline(plan, profile, result.resolved.batch, None)
        return pipeline_fields(to, plan)
    micro = winner.breakdown["micro_batch"]
    count = round(winner.samples_per_iteration / micro)
    what = f"{winner.name} over {winner.config}"
    if to == "pipedream":
        instead = "PipeDream's runtime runs the asynchronous schedule, not a flushed one: export it to torch"
        raise _not_expressible(what, to, f"{instead} or deepspeed")
    if to == "torch":
        fields = pipeline_fields(to, plan)
        fields["notes"].append(
            f"schedule: torch.distributed.pipelining.{SCHEDULES[winner.family]}(stage, "
            f"n_microbatches={count}) with micro-batches of {micro:g} samples "
            f"({winner.samples_per_iteration} per iteration)"
        )
        return fields
    if micro != int(micro):
        raise _not_expressible(
            f"{what} with micro-batches of {micro:g} samples", to, "DeepSpeed's micro-batch is whole samples"
        )
    fields = deepspeed_pipeline(plan, profile, int(micro), count)
    if winner.family == "gpipe":
        fields["notes"].append("DeepSpeed runs 1F1B, not GPipe: the same bubble, fewer activations in flight")
    return fields
