"""The best serving configuration under latency targets: every tensor x pipeline (x expert, for a mixture of
experts) split of a replica on one server's devices or the cluster's, each at the largest batch meeting the
targets (planner.optimize.serving_search), ranked, the losers with their reasons."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.serve import NOTES, point_dict, serving_setup, split_error, usd_per_million_tokens
from planner.api.serve_inputs import ServeOptions
from planner.errors import InfeasibleError, SettingError
from planner.validate.bands import SERVING, band_fields

if TYPE_CHECKING:
    from planner.optimize.serving_costs import ServingSetup
    from planner.optimize.serving_search import Candidate
    from planner.spec.hardware import Cluster
    from planner.spec.llm import LLMConfig


@dataclass(frozen=True)
class ServeBestResult:
    """The configurations ranked under the targets; the first meets them best."""

    options: ServeOptions
    candidates: tuple[Candidate, ...]

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for c in self.candidates:
            s = c.setup
            row: dict[str, Any] = {
                "tensor_parallel": s.tensor,
                "pipeline_parallel": s.pipeline,
                "expert_parallel": s.expert,
                "devices_per_replica": s.devices,
                "max_concurrent_sequences": c.max_concurrent,
                "meets_targets": c.point is not None,
                "reason": c.reason,
            }
            if c.point is not None:
                row |= point_dict(c.point, s.devices)
                rate = c.point.tokens_per_s
                row["usd_per_million_tokens"] = usd_per_million_tokens(s.cluster, s.devices, rate)
            rows.append(row)
        first = self.candidates[0].setup
        return {
            "model": first.model.name,
            "cluster": first.cluster.name,
            "device": first.device.name,
            "dtype": first.dtype,
            "weight_dtype": first.weights,
            "kv_cache_dtype": first.kv_cache,
            "precision": first.precision.label(),
            "tpot_target_s": self.options.tpot,
            "ttft_target_s": self.options.ttft,
            "prompt_len": first.workload.prompt_mean,
            "output_len": first.workload.output_mean,
            "chunked_prefill": first.chunked,
            "best": rows[0] if rows[0]["meets_targets"] else None,
            "candidates": rows,
            "ranking": "most output tokens/s per GPU; at one cluster's price $/M tokens ties with it, then "
            "fewer devices per replica",
            "notes": list(NOTES),
        } | band_fields(SERVING)


def serve_best(model: LLMConfig | str, cluster: Cluster | str, options: ServeOptions) -> ServeBestResult:
    """The best (tensor, pipeline, expert, batch) under the targets `tpot` / `ttft` on one server's devices or
    the cluster's; pinned settings stay pinned. InfeasibleError when no configuration meets them."""
    from planner.optimize.serving_search import Targets, search

    if not options.searching:
        raise SettingError("tpot", "give `tpot` or `ttft` (a latency target) to search", show_got=False)
    base = serving_setup(model, cluster, options)
    cfg, machine = base.model, base.cluster
    tensors = [options.tensor_parallel] if options.tensor_parallel else _powers(machine.devices_per_server)
    pipelines = [options.pipeline_parallel] if options.pipeline_parallel else _powers(machine.total_devices)
    experts = [options.expert_parallel] if options.expert_parallel else _powers(cfg.num_experts)
    splits = [(t, p, e) for t in tensors for p in pipelines for e in experts]
    setups = [dataclasses.replace(base, tensor=t, pipeline=p, expert=e) for t, p, e in splits]
    runnable = [s for s in setups if split_error(s) is None]
    if not runnable:
        raise split_error(setups[0]) or AssertionError("a split without an error was dropped")
    candidates = search(runnable, Targets(options.tpot, options.ttft), options.batch)
    if candidates[0].point is None:
        reasons = "; ".join(f"{split_label(c.setup)}: {c.reason}" for c in candidates[:3])
        raise InfeasibleError(f"no configuration meets the targets ({reasons}); relax `tpot` or `ttft`")
    return ServeBestResult(options, tuple(candidates))


def _powers(limit: int) -> list[int]:
    return [2**k for k in range(limit.bit_length()) if 2**k <= limit]


def split_label(setup: ServingSetup) -> str:
    """'t2 p1', or 't2 p1 e8' under expert parallelism."""
    return f"t{setup.tensor} p{setup.pipeline}" + (f" e{setup.expert}" if setup.expert > 1 else "")
