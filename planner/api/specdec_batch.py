"""Speculative decoding on a served batch: the best draft length (and token tree) per batch size, and the
batch at which speculation stops paying (planner.optimize.speculation_batch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.specdec import DEFAULT_MAX_GAMMA, check_alpha, check_count
from planner.api.specdec_models import (
    DEFAULT_CONTEXT,
    check_allreduce,
    check_formats,
    quantisation_notes,
    resolve_pair,
)
from planner.errors import InfeasibleError, SettingError
from planner.limits import MAX_COUNT_OPTION, MAX_GAMMA, MAX_TREE_SIZE
from planner.validate.bands import SPECULATIVE_DECODING, band_fields

if TYPE_CHECKING:
    from planner.optimize.speculation_batch import BatchPoint
    from planner.spec.hardware import Cluster, Device
    from planner.spec.llm import LLMConfig

MAX_BATCHES = 64  # batch sizes in one sweep


@dataclass(frozen=True)
class SpecdecBatchOptions:
    """The pair's placement and the batches to sweep (empty: powers of two up to the largest that fits)."""

    alpha: float  # per-token acceptance rate, in [0, 1)
    tensor_parallel: int = 1  # devices the target is split over
    draft_tensor_parallel: int = 1  # devices the draft is split over
    batches: tuple[int, ...] = ()
    context: int = DEFAULT_CONTEXT  # tokens in each sequence's KV cache
    dtype: str | None = None  # fp32, fp16 or bf16 (None: the target's)
    allreduce: str = "ring"  # all-reduce algorithm of tensor parallelism
    max_gamma: int = DEFAULT_MAX_GAMMA
    tree_acceptance: tuple[float, ...] | None = None  # Sequoia positional acceptance: also a tree per batch
    tree_size: int = 64  # largest tree, root included
    weight_dtype: str | None = None  # the target's layer weights: fp8 / int8 (W8A8) or int4 (W4A16)
    draft_weight_dtype: str | None = None  # the draft's, the same formats
    kv_cache_dtype: str | None = None  # both models' KV caches: fp8 or int8

    def check(self) -> None:
        check_alpha(self.alpha)
        for setting in ("tensor_parallel", "draft_tensor_parallel"):
            check_count(getattr(self, setting), setting, 1, MAX_COUNT_OPTION)
        if len(self.batches) > MAX_BATCHES:
            raise SettingError("batches", f"at most {MAX_BATCHES} batch sizes", len(self.batches))
        for batch in self.batches:
            check_count(batch, "batches", 1, MAX_COUNT_OPTION)
        check_count(self.context, "context", 0, MAX_COUNT_OPTION)
        check_allreduce(self.allreduce)
        check_formats(self)
        check_count(self.max_gamma, "max_gamma", 1, MAX_GAMMA)
        check_count(self.tree_size, "tree_size", 1, MAX_TREE_SIZE)


@dataclass(frozen=True)
class SpecdecBatchResult:
    options: SpecdecBatchOptions
    target: LLMConfig
    draft: LLMConfig
    device: Device
    cluster: Cluster | None
    dtype: str
    largest_batch: int
    points: tuple[BatchPoint, ...]

    @property
    def breakeven_batch(self) -> int | None:
        """The smallest batch swept at which no draft length pays (None: it pays at every batch swept)."""
        return next((p.batch for p in self.points if p.table.optimal_gamma == 0), None)

    def to_dict(self) -> dict[str, Any]:
        o = self.options
        rows = []
        for p in self.points:
            table = p.table
            g = table.optimal_gamma
            rows.append(
                {
                    "batch": p.batch,
                    "target_step_s": p.target_step_s,
                    "c": p.c,
                    "optimal_gamma": g,
                    "expected_tokens": table.rows()[g - 1]["expected_tokens"] if g >= 1 else 1.0,
                    "verify_ratio": p.verify_ratio,
                    "speedup": table.optimal_speedup,
                    "plain_tokens_per_s": p.plain_tokens_per_s,
                    "speculative_tokens_per_s": p.speculative_tokens_per_s,
                    "tree": None
                    if p.tree is None
                    else {"size": p.tree.size, "depth": p.tree.depth, "speedup": p.tree.speedup},
                }
            )
        return {
            "alpha": o.alpha,
            "target": {
                "name": self.target.name,
                "tensor_parallel": o.tensor_parallel,
                "weight_dtype": o.weight_dtype,
            },
            "draft": {
                "name": self.draft.name,
                "tensor_parallel": o.draft_tensor_parallel,
                "weight_dtype": o.draft_weight_dtype,
            },
            "device": self.device.name,
            "cluster": self.cluster.name if self.cluster is not None else None,
            "dtype": self.dtype,
            "kv_cache_dtype": o.kv_cache_dtype,
            "context": o.context,
            "max_gamma": o.max_gamma,
            "tree_acceptance": None if o.tree_acceptance is None else list(o.tree_acceptance),
            "largest_batch": self.largest_batch,
            "breakeven_batch": self.breakeven_batch,
            "rows": rows,
            "notes": [
                "every step is a decode step of the whole batch (the serving model's roofline): c and the "
                "verification cost v are taken at each batch; v grows once batch x (gamma + 1) tokens pass "
                "the device's ridge point",
                *quantisation_notes(o),
            ],
            **band_fields(SPECULATIVE_DECODING),
        }


def specdec_batch(
    target: LLMConfig | str,
    draft: LLMConfig | str,
    options: SpecdecBatchOptions,
    *,
    device: Device | str | None = None,
    cluster: Cluster | str | None = None,
) -> SpecdecBatchResult:
    """The best draft length (and tree) at each batch size. InfeasibleError when the pair does not fit
    one sequence, or a batch asked for does not fit."""
    from planner.optimize.speculation_batch import batch_point, default_batches, largest_batch

    options.check()
    o = options
    pair, dev, server = resolve_pair(target, draft, o, device=device, cluster=cluster)
    target_cfg, draft_cfg, dtype = pair.target, pair.draft, pair.dtype
    largest = largest_batch(pair, MAX_COUNT_OPTION)
    too_big = [b for b in o.batches if b > largest]
    if too_big:
        raise InfeasibleError(
            f"batch {too_big[0]} does not fit: at most {largest} sequences of {o.context} cached tokens fit "
            f"{target_cfg.name} and {draft_cfg.name} on {dev.name}"
        )
    batches = sorted(set(o.batches)) if o.batches else default_batches(largest)
    acceptance = None if o.tree_acceptance is None else list(o.tree_acceptance)
    try:
        points = tuple(
            batch_point(
                pair,
                b,
                alpha=o.alpha,
                max_gamma=o.max_gamma,
                tree_acceptance=acceptance,
                tree_size=o.tree_size,
            )
            for b in batches
        )
    except ValueError as exc:  # a positional acceptance vector out of [0, 1] or summing past 1
        raise SettingError("tree_acceptance", str(exc), show_got=False) from None
    return SpecdecBatchResult(o, target_cfg, draft_cfg, dev, server, dtype, largest, points)
