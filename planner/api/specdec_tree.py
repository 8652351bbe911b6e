"""Token trees of speculative decoding: Sequoia's optimal tree (Chen et al. 2024), its hardware-aware
size and depth, or Medusa's greedy tree (Cai et al. 2024), and the expected tokens per target step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.api.specdec import check_cost_ratio, check_count
from planner.api.specdec_models import check_formats
from planner.errors import SettingError
from planner.limits import MAX_COUNT_OPTION, MAX_TREE_SIZE
from planner.validate.bands import SPECULATIVE_DECODING, band_fields

if TYPE_CHECKING:
    from planner.optimize.token_tree import TokenTree
    from planner.spec.hardware import Device
    from planner.spec.llm import LLMConfig

METHOD_SEQUOIA = "Sequoia dynamic program (Chen et al. 2024, Sec. 3.2.1), O(n^2 B D)"
METHOD_AWARE = "Sequoia hardware-aware: max G(n, d) / (t(n) + d c) over n <= size, d <= depth"
METHOD_MEDUSA = "Medusa greedy growth (Cai et al. 2024, Sec. 2.3.1): largest accuracy product first"
# Medusa's speedup = acceleration rate / overhead (its Sec. 3)
METHOD_MEDUSA_C = "; `c` is the heads' overhead per step (speedup = tokens / (1 + c))"
VERIFY_CONTEXT = 512  # tokens in the KV cache when the tree's target is checked to fit


@dataclass(frozen=True)
class SpecdecTreeOptions:
    """One of `acceptance` (Sequoia) and `medusa`; with c, Sequoia picks the size and depth too."""

    acceptance: tuple[float, ...] | None = None  # Sequoia positional acceptance P[1], P[2], ... (sum <= 1)
    medusa: tuple[tuple[float, ...], ...] | None = None  # Medusa top-i accuracies, one row per head
    size: int = 64  # nodes in the tree, root included (with c: at most)
    depth: int | None = None  # largest depth (draft steps)
    c: float | None = None  # draft/target step ratio: pick size and depth by G(n, d) / (t(n) + d c)
    tensor_parallel: int = 1  # of the target whose roofline gives t(n)
    batch: int = 1  # sequences verified together
    weight_dtype: str | None = None  # the target's layer weights: fp8 / int8 (W8A8) or int4 (W4A16)
    kv_cache_dtype: str | None = None  # the target's KV cache: fp8 or int8

    def check(self) -> None:
        if (self.acceptance is None) == (self.medusa is None):
            raise SettingError("acceptance", "give exactly one of acceptance and medusa", show_got=False)
        if self.medusa is not None and len({len(row) for row in self.medusa}) != 1:
            raise SettingError(
                "medusa", "every head needs the same number of ranked accuracies", show_got=False
            )
        check_count(self.size, "size", 1, MAX_TREE_SIZE)
        if self.depth is not None:
            check_count(self.depth, "depth", 0, MAX_COUNT_OPTION)
        check_cost_ratio(self.c, "c")
        check_count(self.tensor_parallel, "tensor_parallel", 1, MAX_COUNT_OPTION)
        check_count(self.batch, "batch", 1, MAX_COUNT_OPTION)
        check_formats(self, ("weight_dtype",))


@dataclass(frozen=True)
class VerifyCost:
    """t(n) for n = 1..size: verifying n tokens per sequence / one plain step, from the decode roofline."""

    target: str
    device: str
    tensor_parallel: int
    batch: int
    t: tuple[float, ...]
    precision: str  # the target's formats, e.g. 'int4 weights / bf16'

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "device": self.device,
            "tensor_parallel": self.tensor_parallel,
            "batch": self.batch,
            "precision": self.precision,
            "t": list(self.t),
        }


@dataclass(frozen=True)
class SpecdecTreeResult:
    """The tree, its expected tokens per target step F(T), a chain as deep, and the speedup (with c)."""

    options: SpecdecTreeOptions
    method: str
    acceptance: Any  # the positional vector or Medusa's matrix
    tree: TokenTree
    expected_tokens: float
    chain_expected_tokens: float
    speedup: float | None
    verify: VerifyCost | None

    def to_dict(self) -> dict[str, Any]:
        from planner.optimize import token_tree as tt

        tree = self.tree
        probabilities = tt.node_values(tree, self.acceptance)
        depths, paths = tree.depths, tree.paths()
        nodes = [
            {
                "node": v,
                "parent": tree.parents[v],
                "rank": tree.ranks[v],
                "depth": depths[v],
                "path": list(paths[v]),
                "probability": float(probabilities[v]),
            }
            for v in range(tree.size)
        ]
        return {
            "method": self.method,
            "acceptance": self.acceptance,
            "size": tree.size,
            "size_limit": self.options.size,
            "depth_limit": self.options.depth,
            "depth": tree.depth,
            "expected_tokens": self.expected_tokens,
            "chain_expected_tokens": self.chain_expected_tokens,
            "speedup": self.speedup,
            "c": self.options.c,
            "weight_dtype": self.options.weight_dtype,
            "kv_cache_dtype": self.options.kv_cache_dtype,
            "verify_cost": self.verify.to_dict() if self.verify is not None else None,
            "widths": [depths.count(d) for d in range(tree.depth + 1)],
            "nodes": nodes,
            **band_fields(SPECULATIVE_DECODING),
        }


def specdec_tree(
    options: SpecdecTreeOptions, *, target: LLMConfig | str | None = None, device: Device | str | None = None
) -> SpecdecTreeResult:
    """The optimal token tree (Sequoia's DP) or Medusa's greedy tree, and its expected tokens per step.

    With c, Sequoia's hardware-aware choice of size and depth; the verification cost t(n) of n tokens
    comes from the target's decode roofline on the device when given, else t(n) = 1 (memory-bound)."""
    options.check()
    if (target is None) != (device is None):
        raise SettingError("target", "give target and device together", show_got=False)
    if target is not None and (options.c is None or options.medusa is not None):
        raise SettingError("target", "the roofline t(n) needs c and acceptance", show_got=False)
    quantised = options.weight_dtype or options.kv_cache_dtype
    if quantised and target is None:
        raise SettingError("weight_dtype", "a quantised format needs target and device", show_got=False)
    verify = None
    if target is not None and device is not None:
        verify = verify_cost(target, device, options)
    try:
        return _grow(options, verify)
    except ValueError as exc:  # acceptance values out of [0, 1], a positional vector summing past 1
        raise SettingError(
            "acceptance" if options.acceptance is not None else "medusa", str(exc), show_got=False
        ) from None


def verify_cost(target: LLMConfig | str, device: Device | str, options: SpecdecTreeOptions) -> VerifyCost:
    """t(n) of the target on its tensor-parallel devices, in its weights' and KV cache's formats (serving's
    decode step; InfeasibleError when it does not fit them)."""
    from planner.api.inputs import load_llm
    from planner.api.specdec_models import check_device_formats, check_dtype, check_split, resolve_hardware
    from planner.cost.decode import Placement, check_fits, verify_ratios
    from planner.cost.quantisation import Precision

    o, cfg = options, load_llm(target)
    tp, batch = o.tensor_parallel, o.batch
    dev, server = resolve_hardware(device, None, tp)
    check_split(cfg, tp, "tensor_parallel")
    placement = Placement(dev, tp, server if tp > 1 else None)
    dtype = check_dtype(cfg.dtype, dev)
    check_device_formats(o, dtype, dev, ("weight_dtype",))
    precision = Precision(dtype, o.weight_dtype, o.kv_cache_dtype)
    check_fits(cfg, placement, dtype, batch, VERIFY_CONTEXT, precision)
    ratios = verify_ratios(cfg, placement, list(range(o.size)), dtype=dtype, batch=batch, precision=precision)
    t = tuple(float(v) for v in ratios)
    return VerifyCost(cfg.name, dev.name, tp, batch, t, precision.label())


def _grow(options: SpecdecTreeOptions, verify: VerifyCost | None) -> SpecdecTreeResult:
    import numpy as np

    from planner.optimize import token_tree as tt

    o, c = options, options.c
    matrix: Any
    if o.acceptance is not None:
        matrix = list(o.acceptance)
        tt.acceptance_matrix(matrix, 1)  # validates
        if c is not None:
            t = np.ones(o.size) if verify is None else np.asarray(verify.t)
            tree, tokens, speed = tt.hardware_aware_tree(matrix, o.size, c, t, o.depth)
            method = METHOD_AWARE
        else:
            tree, tokens = tt.optimal_tree(matrix, o.size, o.depth)
            speed, method = None, METHOD_SEQUOIA
    else:
        assert o.medusa is not None
        matrix = [list(row) for row in o.medusa]
        tree, tokens = tt.medusa_greedy_tree(matrix, o.size)
        speed = tokens / (1.0 + c) if c is not None else None
        method = METHOD_MEDUSA + (METHOD_MEDUSA_C if c is not None else "")
    chain = tt.expected_tokens(tt.TokenTree.chain(tree.depth), matrix)  # as many draft steps
    return SpecdecTreeResult(o, method, matrix, tree, tokens, chain, speed, verify)
