"""Exports: a plan as the configuration a real engine runs (one module per engine).

* torch_pipelining: a pipeline plan as `torch.distributed.pipelining` split points (`split_spec`).
* pipedream_ranks: a pipeline plan as PipeDream's `stage_to_num_ranks_map`, the stage of every graph
  node and the runtime's `stage_to_rank_map`.
* deepspeed: a data-parallel, ZeRO or LLM plan as a DeepSpeed config JSON; whether a pipeline split is
  what `PipelineModule(partition_method=...)` would produce.
* megatron: an LLM plan as Megatron-LM command-line arguments.

Every export is a pure function from plan objects to dicts and strings; none reads files or prints. A
plan that an engine cannot express raises `NotExpressible` (an InfeasibleError: exit 1) with the reason,
rather than returning a configuration that would run something else.

A data-parallel plan is read through `DataParallelPlan`, the figures of planner.cost.data_parallel's
DPPlan (or of a data-parallel strategy of `planner plan`) that the DeepSpeed config carries.

A pipeline plan is read through `PipelinePlan`, the fields every partitioner's result shares
(planner.optimize.pipedream_types.PartitionResult, planner.optimize.native_types.NativeResult, or the
payload of `planner pipeline partition`): per stage, in order, the profile layers it holds, its
replicas and its devices; plus the profile's layer order, which the result itself does not keep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from planner.errors import InfeasibleError

if TYPE_CHECKING:
    from planner.cost.dp_scaling import DPPlan


class NotExpressible(InfeasibleError):
    """The plan is sound, but the target engine has no configuration that runs it (exit 1)."""


@dataclass(frozen=True)
class ExportStage:
    """One pipeline stage: the profile layers it holds, its replicas and their device indices."""

    layer_names: tuple[str, ...]
    replicas: int
    devices: tuple[int, ...]


@dataclass(frozen=True)
class PipelinePlan:
    """A pipeline plan as the exports read it.

    `layer_names` lists every layer of the profile in profile order (the order the model executes them);
    `stages` are in pipeline order. Construction checks that every layer belongs to exactly one stage,
    that no stage is empty, that each stage has `replicas` distinct devices and that no device serves two
    stages (ValueError otherwise).
    """

    model: str
    layer_names: tuple[str, ...]
    stages: tuple[ExportStage, ...]

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a pipeline plan needs at least one stage")
        known = set(self.layer_names)
        if len(known) != len(self.layer_names):
            raise ValueError("profile layer names must be unique")
        seen: dict[str, int] = {}
        used: set[int] = set()
        for index, stage in enumerate(self.stages):
            if not stage.layer_names:
                raise ValueError(f"stage {index} holds no layer")
            if stage.replicas < 1 or len(set(stage.devices)) != stage.replicas:
                raise ValueError(
                    f"stage {index}: {stage.replicas} replicas but devices {list(stage.devices)}"
                )
            if used & set(stage.devices):
                raise ValueError(f"stage {index} shares a device with an earlier stage")
            used |= set(stage.devices)
            for name in stage.layer_names:
                if name not in known:
                    raise ValueError(f"stage {index} holds '{name}', which is not a layer of the profile")
                if name in seen:
                    raise ValueError(f"layer '{name}' is in stages {seen[name]} and {index}")
                seen[name] = index
        missing = [name for name in self.layer_names if name not in seen]
        if missing:
            raise ValueError(f"layers in no stage: {', '.join(missing[:5])}")

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    @property
    def replicas(self) -> tuple[int, ...]:
        return tuple(stage.replicas for stage in self.stages)

    @property
    def devices_used(self) -> int:
        return sum(self.replicas)

    def stage_of(self) -> dict[str, int]:
        """Layer name -> stage index, for every layer."""
        return {name: k for k, stage in enumerate(self.stages) for name in stage.layer_names}

    def boundaries(self) -> list[int] | None:
        """[0, b1, ..., n]: stage k holds the profile layers [b_k, b_k+1) — or None when some stage is not
        a contiguous run of the profile's layer order (a branchy graph cut across its branches)."""
        stage = self.stage_of()
        order = [stage[name] for name in self.layer_names]
        if any(later < earlier for earlier, later in pairwise(order)):
            return None
        return [0, *(i for i in range(1, len(order)) if order[i] != order[i - 1]), len(order)]

    @classmethod
    def from_result(cls, result: Any, layer_names: Sequence[str], model: str = "") -> PipelinePlan:
        """From a partitioner's result object (its `stages` with layer_names, replicas, devices)."""
        stages = tuple(
            ExportStage(tuple(stage.layer_names), int(stage.replicas), tuple(int(d) for d in stage.devices))
            for stage in result.stages
        )
        return cls(model, tuple(layer_names), stages)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], layer_names: Sequence[str]) -> PipelinePlan:
        """From the payload of `planner pipeline partition` (its `stages` dicts and `model`)."""
        stages = tuple(
            ExportStage(tuple(stage["layer_names"]), int(stage["replicas"]), tuple(stage["devices"]))
            for stage in payload["stages"]
        )
        return cls(str(payload.get("model", "")), tuple(layer_names), stages)


@dataclass(frozen=True)
class DataParallelPlan:
    """A data-parallel plan as the exports read it: the devices, the batch on each and in all, the
    precision, optimizer and overlap it assumed, and its memory per device against the device's."""

    devices: int
    batch_per_device: int
    global_batch: int
    dtype: str
    optimizer: str
    overlap: bool
    fits: bool
    memory_per_device_bytes: float
    device_memory_bytes: float  # what its tensors may use (Device.usable_memory)

    @classmethod
    def from_plan(cls, plan: DPPlan) -> DataParallelPlan:
        """From planner.cost.data_parallel's plan: its chosen configuration and its setup."""
        chosen, setup = plan.result, plan.setup
        return cls(
            devices=int(chosen.devices),
            batch_per_device=int(chosen.batch_per_device),
            global_batch=int(chosen.global_batch),
            dtype=setup.dtype,
            optimizer=setup.optimizer,
            overlap=bool(setup.overlap),
            fits=bool(chosen.fits),
            memory_per_device_bytes=float(chosen.memory.total_bytes),
            device_memory_bytes=float(setup.device.usable_memory),
        )
