"""LLM training parallelism: the tensor x pipeline x data search (or one configuration), with micro-batch,
interleaving, activation recomputation, ZeRO and, for mixture-of-experts models, expert parallelism
(planner.optimize.parallelism holds the model)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from planner.errors import InfeasibleError, SettingError, SpecError
from planner.limits import MAX_COUNT_OPTION
from planner.validate.bands import LLM_TRAINING, band_fields

if TYPE_CHECKING:
    from planner.optimize.llm_setup import PlanEvaluation, TrainingSetup
    from planner.optimize.parallelism import SearchResult
    from planner.spec.hardware import Cluster
    from planner.spec.llm import LLMConfig

RECOMPUTE_CHOICES = ("none", "selective", "full")
ZERO_CHOICES = (0, 1, 2, 3)
ATTENTION_CHOICES = ("flash", "standard")  # planner.cost.megatron.ATTENTION (kept light to import)
# the settings that pin one configuration when all are given (with data_parallel)
CONFIGURATION = ("tensor_parallel", "pipeline_parallel", "data_parallel", "microbatch")
_COUNTS = (
    "servers",
    "devices",
    "global_batch",
    "seq_len",
    "top",
    "tensor_parallel",
    "pipeline_parallel",
    "data_parallel",
    "microbatch",
    "interleave",
    "max_microbatch",
    "max_interleave",
    "expert_parallel",
)


@dataclass(frozen=True)
class LLMOptions:
    """Settings of the LLM search. With data_parallel, all of CONFIGURATION pin one configuration; the
    settings left open among interleave, recompute and zero are then chosen as the search would (fastest
    feasible; expert_parallel too, for a mixture-of-experts model). Otherwise any of tensor_parallel,
    pipeline_parallel, microbatch, interleave, recompute, zero and expert_parallel pins that part of the
    search."""

    global_batch: int  # sequences per iteration (B)
    seq_len: int | None = None  # tokens per sequence (default: the model's context)
    servers: int | None = None  # the outermost level's count instead of the cluster's
    devices: int | None = None  # devices to use (default: the whole cluster)
    dtype: str = "bf16"  # bf16 / fp16 (mixed precision) or fp32
    optimizer: str = "adam"  # adam or sgd (with momentum)
    top: int = 10  # how many plans to list
    tensor_parallel: int | None = None
    pipeline_parallel: int | None = None
    data_parallel: int | None = None
    microbatch: int | None = None
    interleave: int | None = None  # model chunks per device (v)
    recompute: str | None = None  # none, selective or full
    zero: int | None = None  # ZeRO stage 0-3
    max_microbatch: int = 16  # the largest micro-batch size searched
    max_interleave: int = 8  # the largest interleaving searched
    sequence_parallel: bool = True  # shard activations tensor-parallel
    overlap: bool = True  # overlap the gradient reduction with backward
    attention: str = "flash"  # flash (fused kernel) or standard (scores materialised)
    gradient_dtype: str | None = None  # gradients' precision (default: fp32 for bf16, else the dtype)
    gradient_accumulation_fusion: bool = True  # weight-gradient GEMMs accumulate into the buffer
    expert_parallel: int | None = None  # expert-parallel degree e (mixture of experts; e divides d)
    capacity_factor: float | None = None  # expert capacity as a multiple of its even share (model's)
    gemm_precision: str | None = None  # fp8: Transformer Engine's fp8 GEMMs (default: the dtype's)

    @property
    def pins_configuration(self) -> bool:
        return self.data_parallel is not None

    @property
    def configuration(self) -> tuple[int, int, int, int]:
        """(tensor, pipeline, data, microbatch) where pins_configuration: check() ensures all are given."""
        t, p, d, mb = self.tensor_parallel, self.pipeline_parallel, self.data_parallel, self.microbatch
        assert t is not None and p is not None and d is not None and mb is not None
        return t, p, d, mb

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range (files are checked when loaded)."""
        from planner.cost.compute import TRAINING_DTYPES
        from planner.cost.fp8_training import GEMM_PRECISIONS
        from planner.cost.memory import OPTIMIZERS

        for setting in _COUNTS:
            value = getattr(self, setting)
            if value is not None and value < 1:
                raise SettingError(setting, "a whole number >= 1", value)
            if value is not None and value > MAX_COUNT_OPTION:  # the search works in int64 arrays
                raise SettingError(setting, f"a whole number at most {MAX_COUNT_OPTION:,}", value)
        if self.dtype not in TRAINING_DTYPES:
            raise SettingError("dtype", f"one of {', '.join(TRAINING_DTYPES)}", self.dtype)
        if self.optimizer not in OPTIMIZERS:
            raise SettingError("optimizer", f"one of {', '.join(OPTIMIZERS)}", self.optimizer)
        if self.attention not in ATTENTION_CHOICES:
            raise SettingError("attention", f"one of {', '.join(ATTENTION_CHOICES)}", self.attention)
        if self.gradient_dtype is not None and self.gradient_dtype not in TRAINING_DTYPES:
            raise SettingError("gradient_dtype", f"one of {', '.join(TRAINING_DTYPES)}", self.gradient_dtype)
        if self.gemm_precision is not None and self.gemm_precision not in GEMM_PRECISIONS:
            raise SettingError("gemm_precision", f"one of {', '.join(GEMM_PRECISIONS)}", self.gemm_precision)
        if self.recompute is not None and self.recompute not in RECOMPUTE_CHOICES:
            raise SettingError("recompute", f"one of {', '.join(RECOMPUTE_CHOICES)}", self.recompute)
        if self.capacity_factor is not None and not 0 < self.capacity_factor <= MAX_COUNT_OPTION:
            raise SettingError("capacity_factor", "a number > 0", self.capacity_factor)
        if self.zero is not None and self.zero not in ZERO_CHOICES:
            raise SettingError("zero", "a ZeRO stage 0, 1, 2 or 3", self.zero)
        missing = [setting for setting in CONFIGURATION if getattr(self, setting) is None]
        if self.pins_configuration and missing:
            raise SettingError(
                missing[0],
                f"with `data_parallel`, all of {_quoted(CONFIGURATION)} (missing: {_quoted(missing)})",
                show_got=False,
            )


@dataclass(frozen=True)
class LLMPlanResult:
    """One configuration evaluated (`plan`), or the search's best plans (`search`), with the inputs."""

    inputs: dict[str, Any]
    plan: PlanEvaluation | None = None
    search: SearchResult | None = None
    chosen: tuple[str, ...] = field(default=())  # settings of `plan` the search chose (not given)

    @property
    def best(self) -> PlanEvaluation | None:
        """The evaluated configuration, or the search's best plan (None when nothing fits)."""
        if self.plan is not None:
            return self.plan
        assert self.search is not None
        return self.search.plans[0] if self.search.plans else None

    def _priced(self, plan: PlanEvaluation) -> dict[str, Any]:
        """The plan's figures and its $ per million tokens: devices x price x time / tokens, None where the
        cluster has no price."""
        price = self.inputs["usd_per_device_hour"]
        tokens = self.inputs["global_batch"] * self.inputs["seq_len"]
        usd = (
            None if price is None else price * plan.devices * plan.time_per_iteration_s / 3600 / tokens * 1e6
        )
        return plan.to_dict() | {"usd_per_million_tokens": usd}

    def to_dict(self) -> dict[str, Any]:
        if self.plan is not None:
            return {
                "mode": "evaluate",
                "inputs": self.inputs,
                "plan": self._priced(self.plan),
                "chosen_by_search": list(self.chosen),
                **band_fields(LLM_TRAINING),
            }
        assert self.search is not None
        return {
            "mode": "search",
            "inputs": self.inputs,
            "search": self.search.to_dict() | {"plans": [self._priced(p) for p in self.search.plans]},
            **band_fields(LLM_TRAINING),
        }


def llm_parallel(model: str | LLMConfig, cluster: str | Cluster, options: LLMOptions) -> LLMPlanResult:
    """The fastest plans that fit (best first) and why the others fail, or one configuration evaluated.

    `model`: an LLMConfig, a catalog LLM, an LLM YAML file or a Hugging Face config.json; `cluster`: a
    Cluster, a catalog cluster or a cluster YAML file. InfeasibleError when a search finds no plan that fits.
    """
    options.check()
    llm, machine = _load(model, cluster, options)
    setup = _setup(llm, machine, options)
    inputs = {
        "model": llm.name,
        "cluster": machine.name,
        "device": machine.resolved_device.name,
        "devices": setup.device_count,
        "devices_per_server": machine.devices_per_server,
        "global_batch": options.global_batch,
        "seq_len": setup.seq_len,
        "dtype": options.dtype,
        "optimizer": options.optimizer,
        "sequence_parallel": options.sequence_parallel,
        "overlap_grad_reduce": options.overlap,
        "device_memory_bytes": machine.resolved_device.memory,
        "usd_per_device_hour": _device_price(machine),
    }
    if llm.is_moe:
        inputs |= {"num_experts": llm.num_experts, "capacity_factor": llm.capacity_factor}
    if options.gemm_precision is not None:
        inputs["gemm_precision"] = options.gemm_precision
    if options.pins_configuration:
        plan, chosen = _evaluate(setup, options)
        return LLMPlanResult(inputs, plan=plan, chosen=chosen)
    found = _search(setup, options, options.top)
    if not found.plans:
        raise InfeasibleError(_nothing_fits(llm, setup, found, options))
    return LLMPlanResult(inputs, search=found)


def _device_price(machine: Cluster) -> float | None:
    """US dollars per device-hour: the server's list price over its devices, else the device's own."""
    if machine.price is not None:
        return machine.price.usd_per_hour / machine.devices_per_server
    device = machine.resolved_device.price
    return None if device is None else device.usd_per_hour


def _load(model: str | LLMConfig, cluster: str | Cluster, options: LLMOptions) -> tuple[LLMConfig, Cluster]:
    from planner.api.inputs import load_cluster, load_llm

    llm = load_llm(model)
    if llm.architecture != "decoder":
        raise SpecError(
            llm.name, "architecture", "a decoder-only LLM, not an encoder-decoder model", show_got=False
        )
    return with_expert_settings(llm, options), load_cluster(cluster, options.servers)


def with_expert_settings(llm: LLMConfig, options: LLMOptions) -> LLMConfig:
    """The model with the options' capacity factor; SettingError for expert settings it cannot take."""
    import dataclasses

    if not llm.is_moe and options.capacity_factor is not None:
        raise SettingError(
            "capacity_factor", f"a mixture-of-experts model; {llm.name} is dense", show_got=False
        )
    if options.expert_parallel is not None and llm.num_experts % options.expert_parallel:
        experts = f"{llm.name}'s {llm.num_experts} experts" if llm.is_moe else f"1 ({llm.name} is dense)"
        raise SettingError("expert_parallel", f"a divisor of {experts}", options.expert_parallel)
    if options.capacity_factor is None:
        return llm
    return dataclasses.replace(llm, capacity_factor=options.capacity_factor)


def _setup(llm: LLMConfig, machine: Cluster, options: LLMOptions) -> TrainingSetup:
    from planner.optimize import llm_setup

    length = llm.max_sequence_length if options.seq_len is None else options.seq_len
    if length > llm.max_sequence_length:
        raise SettingError(
            "seq_len", f"at most {llm.name}'s context of {llm.max_sequence_length} tokens", length
        )
    used = options.devices
    if options.pins_configuration:
        tensor, pipeline, data, _ = options.configuration
        product = tensor * pipeline * data
        if used is not None and used != product:
            raise SettingError("devices", f"t·p·d = {product} when the configuration is given", used)
        used = product
    if used is not None and used > machine.total_devices:
        setting = "data_parallel" if options.pins_configuration else "devices"
        raise SettingError(
            setting, f"at most the cluster's {machine.total_devices} devices in all (t·p·d = {used})", used
        )
    try:
        return llm_setup.TrainingSetup(
            model=llm,
            cluster=machine,
            global_batch=options.global_batch,
            seq_len=length,
            dtype=options.dtype,
            optimizer=options.optimizer,
            devices=used,
            sequence_parallel=options.sequence_parallel,
            overlap_grad_reduce=options.overlap,
            attention=options.attention,
            gradient_dtype=options.gradient_dtype,
            gradient_accumulation_fusion=options.gradient_accumulation_fusion,
            gemm_precision=options.gemm_precision,
        )
    except ValueError as exc:  # e.g. the device has no such dtype (or no fp8 peak)
        setting = "gemm_precision" if options.gemm_precision and "fp8" in str(exc) else "dtype"
        raise SettingError(setting, str(exc), show_got=False) from None


def _search(setup: TrainingSetup, options: LLMOptions, top: int) -> SearchResult:
    from planner.optimize import parallelism as par

    return par.search(
        setup,
        top=top,
        max_microbatch=options.max_microbatch,
        max_interleave=options.max_interleave,
        recompute=RECOMPUTE_CHOICES if options.recompute is None else (options.recompute,),
        zero=ZERO_CHOICES if options.zero is None else (options.zero,),
        tensor=options.tensor_parallel,
        pipeline=options.pipeline_parallel,
        microbatch=options.microbatch,
        interleave=options.interleave,
        expert=options.expert_parallel,
    )


def _evaluate(setup: TrainingSetup, options: LLMOptions) -> tuple[PlanEvaluation, tuple[str, ...]]:
    """The given configuration; interleave, recompute and zero, where not given, as the search would choose
    them for it (the fastest feasible), so the same question gets the search's answer. When none is
    feasible, the configuration with interleave 1, full recomputation and ZeRO-0 where not given, with
    its reasons; a mixture-of-experts model's expert_parallel likewise (1 where none is feasible)."""
    from planner.optimize import llm_evaluate

    open_settings = ("interleave", "recompute", "zero") + (("expert_parallel",) if setup.model.is_moe else ())
    chosen = tuple(s for s in open_settings if getattr(options, s) is None)
    if chosen:
        found = _search(setup, options, top=1)
        if found.plans:
            return found.plans[0], chosen
    tensor, pipeline, data, microbatch = options.configuration
    plan = llm_evaluate.evaluate_configuration(
        setup,
        tensor=tensor,
        pipeline=pipeline,
        data=data,
        microbatch=microbatch,
        interleave=1 if options.interleave is None else options.interleave,
        recompute="full" if options.recompute is None else options.recompute,
        zero=0 if options.zero is None else options.zero,
        expert=1 if options.expert_parallel is None else options.expert_parallel,
    )
    return plan, ()


def _nothing_fits(llm: LLMConfig, setup: TrainingSetup, found: SearchResult, options: LLMOptions) -> str:
    device = setup.device
    usable = device.usable_memory / 2**30
    where = f"{llm.name} on {setup.device_count} x {device.name} ({usable:.1f} GiB usable each)"
    pinned = [
        f"{s}={getattr(options, s)}"
        for s in (*CONFIGURATION[:2], "microbatch", "interleave", "recompute", "zero", "expert_parallel")
        if getattr(options, s) is not None
    ]
    if found.candidates == 0:
        return (
            f"no candidate configuration for {where} with {', '.join(pinned) or 'these settings'}: "
            f"each degree must divide the {setup.device_count} devices (micro-batches, interleaving within "
            f"max_microbatch={options.max_microbatch}, max_interleave={options.max_interleave})"
        )
    counts = ", ".join(f"{n:,} on {reason}" for reason, n in found.rejected.items() if n)
    smallest = found.smallest_memory_bytes
    need = "" if smallest is None else f"; the smallest plan needs {smallest / 2**30:.1f} GiB per device"
    return f"no feasible plan for {where}: {found.candidates:,} candidates fail ({counts}){need}"


def _quoted(settings: Sequence[str]) -> str:
    return ", ".join(f"`{s}`" for s in settings)


def describe(plan: PlanEvaluation) -> str:
    """t=.. p=.. d=.. b=.. v=.. recompute=.. ZeRO-.. (e=.. with expert parallelism): the configuration in
    one line."""
    c = plan.config
    experts = f" e={c.expert}" if c.expert > 1 else ""
    return (
        f"t={c.tensor} p={c.pipeline} d={c.data} b={c.microbatch} v={c.interleave} recompute={c.recompute} "
        f"ZeRO-{c.zero}{experts}"
    )


__all__ = ["LLMOptions", "LLMPlanResult", "describe", "llm_parallel", "with_expert_settings"]
