"""Exports (`planner export pipeline|dp|llm`): a plan, found as its planning question finds it, as the
configuration an engine runs (planner.export: torch.distributed.pipelining, PipeDream, DeepSpeed,
Megatron-LM). Each export reads the typed plan (a partition, a data-parallel plan, an LLM plan), never a
printed payload; one the engine cannot express raises NotExpressible (exit 1) with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from planner.api.dp import DPOptions
from planner.api.llm import CONFIGURATION, LLMOptions
from planner.api.partition import PartitionOptions
from planner.errors import InfeasibleError, SettingError, SpecError

if TYPE_CHECKING:
    from planner.export import PipelinePlan
    from planner.spec.hardware import Cluster
    from planner.spec.llm import LLMConfig
    from planner.spec.profile import ModelProfile

PIPELINE_TARGETS = ("torch", "pipedream", "deepspeed")
DP_TARGETS = ("deepspeed",)
LLM_TARGETS = ("megatron", "deepspeed")
ZERO_STAGES = (0, 1, 2, 3)
# the parallelism of an LLM plan that an export names
LLM_PLAN_KEYS = (*CONFIGURATION, "interleave", "recompute", "zero_stage")


@dataclass(frozen=True)
class ExportResult:
    """What an engine reads (`artifact`, of `artifact_kind`), its structured forms, notes, and the figures
    of the plan it came from; `plan` is that plan's payload, for a summary."""

    fields: dict[str, Any]
    plan: dict[str, Any]

    @property
    def artifact(self) -> str:
        return str(self.fields["artifact"])

    @property
    def engine(self) -> str:
        return str(self.fields["engine"])

    @property
    def notes(self) -> list[str]:
        return list(self.fields["notes"])

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fields)


def check_target(to: str, allowed: tuple[str, ...], setting: str = "to") -> str:
    """`to` if it is one of the engines `allowed`, else a SettingError naming `setting`."""
    if to not in allowed:
        raise SettingError(setting, f"one of {', '.join(allowed)}", to)
    return to


# ------------------------------------------------------------------------------------------ pipeline


@dataclass(frozen=True)
class PipelineExportOptions(PartitionOptions):
    """The partition's settings (PartitionOptions) and DeepSpeed's step."""

    microbatches: int | None = None  # deepspeed: micro-batches per step (None: GPipe's 4 × stages)
    profile_batch: int | None = None  # deepspeed: samples per minibatch of a profile that does not say

    def check(self) -> None:
        super().check()
        for setting in ("microbatches", "profile_batch"):
            value = getattr(self, setting)
            if value is not None and value < 1:
                raise SettingError(setting, "a whole number >= 1", value)


def export_pipeline(
    model: Any, cluster: str | Cluster | None, to: str, options: PipelineExportOptions
) -> ExportResult:
    """The pipeline plan of planner.api.partition.pipeline_partition for torch (split_spec), pipedream
    (the stage_to_num_ranks map) or deepspeed (PipelineModule and a config JSON)."""
    from planner.api.partition import pipeline_partition
    from planner.export import PipelinePlan

    check_target(to, PIPELINE_TARGETS)
    for setting in ("microbatches", "profile_batch"):
        if getattr(options, setting) is not None and to != "deepspeed":
            raise SettingError(setting, "only with `to` deepspeed", getattr(options, setting))
    found = pipeline_partition(model, cluster, options)
    plan = PipelinePlan.from_result(found.result, found.layer_names, found.profile.name)
    if to == "deepspeed":
        micro = _micro_batch(found.profile, found.batch, options.profile_batch)
        fields = deepspeed_pipeline(plan, found.profile, micro, options.microbatches)
    else:
        fields = pipeline_fields(to, plan)
    payload = found.to_dict()
    fields.update(
        target=to,
        model=payload["model"],
        cluster=payload["cluster"],
        cost_model=payload["cost_model"],
        pipeline_config=payload["config"],
        pipeline_time_s=payload["pipeline_time_s"],
        num_devices=payload["num_devices"],
        devices_used=payload["devices_used"],
    )
    return ExportResult(fields, payload)


def pipeline_fields(to: str, plan: PipelinePlan) -> dict[str, Any]:
    """The torch split_spec or PipeDream's ranks map of a pipeline plan."""
    if to == "torch":
        from planner.export import torch_pipelining

        return torch_pipelining.export(plan)
    from planner.export import pipedream_ranks

    return pipedream_ranks.export(plan)


def _micro_batch(profile: ModelProfile, batch: int | None, profile_batch: int | None) -> int:
    """DeepSpeed's micro-batch: the plan's minibatch (given as profile_batch where the profile does not
    state it)."""
    if batch is not None and profile_batch is not None and batch != profile_batch:
        raise SettingError("profile_batch", f"the profile's own minibatch, {batch}", profile_batch)
    micro = batch if batch is not None else profile_batch
    if micro is None:
        raise SettingError(
            "profile_batch",
            f"the samples per minibatch of '{profile.name}' (DeepSpeed's micro-batch size), which the "
            "profile does not state",
            show_got=False,
        )
    return micro


def deepspeed_pipeline(
    plan: PipelinePlan, profile: ModelProfile, micro_batch: int, microbatches: int | None
) -> dict[str, Any]:
    """PipelineModule and a config JSON: micro-batches of `micro_batch` samples, `microbatches` per step
    (None: GPipe's advice, 4 × stages)."""
    from planner.export import deepspeed
    from planner.optimize.balance import microbatch_advice

    if profile.dtype not in deepspeed.PRECISIONS:
        raise SpecError(
            profile.name, "dtype", f"a profile in {', '.join(deepspeed.PRECISIONS)}", profile.dtype
        )
    count = (
        microbatches if microbatches is not None else microbatch_advice(plan.num_stages).minimum_microbatches
    )
    return deepspeed.pipeline_export(
        plan,
        [layer.parameters for layer in profile.layers],
        micro_batch=micro_batch,
        microbatches=count,
        dtype=profile.dtype,
    )


# ------------------------------------------------------------------------------------------------ dp


@dataclass(frozen=True)
class DPExportOptions(DPOptions):
    """The data-parallel settings (DPOptions) and the ZeRO stage the config asks for."""

    zero: int = 0  # ZeRO stage 0-3 of the config (the plan is timed at ZeRO-0)

    def check(self) -> None:
        super().check()
        if self.zero not in ZERO_STAGES:
            raise SettingError("zero", "a ZeRO stage 0, 1, 2 or 3", self.zero)


def export_dp(model: Any, cluster: str | Cluster, to: str, options: DPExportOptions) -> ExportResult:
    """The data-parallel plan of planner.api.dp.data_parallel as a DeepSpeed config JSON: micro-batch = the
    batch per device, no accumulation, ZeRO stage `zero`, the plan's precision."""
    from planner.api.dp import data_parallel
    from planner.export import DataParallelPlan, deepspeed

    check_target(to, DP_TARGETS)
    options.check()
    found = data_parallel(model, cluster, options)
    view = DataParallelPlan.from_plan(found.plan)
    fields = deepspeed.dp_export(view, options.zero)
    payload = found.to_dict()
    chosen = payload["plan"]
    fields.update(
        target=to,
        model=found.model,
        cluster=payload["inputs"]["cluster"],
        devices=chosen["devices"],
        iteration_s=chosen["iteration_s"],
        memory_per_device_bytes=chosen["memory_per_device_bytes"],
    )
    return ExportResult(fields, payload)


# ----------------------------------------------------------------------------------------------- llm


@dataclass(frozen=True)
class LLMExportOptions(LLMOptions):
    """The LLM search's settings (LLMOptions; `top` is `rank`) and which of its plans to export."""

    rank: int = 1  # the plan ranked this (1 = the fastest); a configuration given is exported as it is

    def check(self) -> None:
        if self.rank < 1:
            raise SettingError("rank", "a whole number >= 1", self.rank)
        super().check()


def export_llm(
    model: str | LLMConfig, cluster: str | Cluster, to: str, options: LLMExportOptions
) -> ExportResult:
    """An LLM plan (planner.api.llm: the search's `rank`-th plan, or the configuration given) as Megatron-LM
    arguments or a DeepSpeed config JSON. NotExpressible when the engine cannot run it as planned."""
    from planner.api.inputs import load_llm
    from planner.api.llm import llm_parallel, with_expert_settings

    check_target(to, LLM_TARGETS)
    options.check()
    config = with_expert_settings(load_llm(model), options)
    payload = llm_parallel(config, cluster, replace(options, top=options.rank)).to_dict()
    if payload["mode"] == "evaluate":
        plan = payload["plan"]
        if not plan["feasible"]:
            raise InfeasibleError(f"the configuration is not feasible: {'; '.join(plan['reasons'])}")
    else:
        plans = payload["search"]["plans"]
        if options.rank > len(plans):
            raise SettingError("rank", f"at most the {len(plans)} feasible plan(s)", options.rank)
        plan = plans[options.rank - 1]
    return ExportResult(llm_fields(to, plan, payload["inputs"], config), payload)


def llm_fields(to: str, plan: dict[str, Any], inputs: dict[str, Any], config: LLMConfig) -> dict[str, Any]:
    """An LLM plan (PlanEvaluation.to_dict()) for Megatron-LM or DeepSpeed, with its figures."""
    from planner.export import deepspeed, megatron

    if to == "megatron":
        fields = megatron.export(plan, inputs, config)
    else:
        fields = deepspeed.llm_export(plan, inputs, config.num_layers)
    fields.update(
        target=to,
        model=inputs["model"],
        cluster=inputs["cluster"],
        devices=inputs["devices"],
        plan={key: plan[key] for key in LLM_PLAN_KEYS + (("expert_parallel",) if config.is_moe else ())},
        time_per_iteration_s=plan["time_per_iteration_s"],
        memory_per_device_bytes=plan["memory_per_device_bytes"],
    )
    return fields
