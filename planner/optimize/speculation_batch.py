"""Speculative decoding on a served batch: how the speed-up falls as the batch grows.

At batch B every step, the draft's and the target's, is a decode step of B sequences
(planner.cost.decode.step_time, the roofline the serving model's decode uses, tensor-parallel all-reduces
included): c(B) = draft step / target step, and verifying gamma + 1 tokens per sequence costs
v(gamma, B) = step(B, gamma + 1 tokens) / step(B, 1 token) target steps. While B (gamma + 1) tokens stay
under the device's ridge point the verification is memory-bound and v is about 1, Leviathan et al.'s
(ICML 2023) assumption; past it v grows toward gamma + 1 and speculation stops paying (their Sec. 3.4 on
spare compute; Chen et al. 2024 (Sequoia) Sec. 4 for trees, with t(n) the same ratio for n tree tokens).

What it optimises, per batch: the expected speed-up E[tokens](alpha, gamma) / (gamma c(B) + v(gamma, B))
over gamma in 0..max_gamma (planner.optimize.speculation.gamma_table; 0 = do not speculate), and with a
positional acceptance vector Sequoia's hardware-aware tree (planner.optimize.token_tree). Tokens per second
of one replica: plain B / step(B, 1); speculative, that times the speed-up. Units: seconds, tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.cost.decode import Placement
from planner.cost.quantisation import Precision
from planner.errors import InfeasibleError
from planner.optimize.speculation import (
    GammaTable,
    PairCosts,
    gamma_table,
    pair_costs,
    pair_memory,
    verify_function,
)
from planner.spec.llm import LLMConfig


@dataclass(frozen=True)
class TreeChoice:
    """Sequoia's hardware-aware tree at one batch: its nodes, depth and speed-up."""

    size: int
    depth: int
    speedup: float


@dataclass(frozen=True)
class BatchPoint:
    """Speculative decoding at one batch size."""

    batch: int
    target_step_s: float  # one plain decode step of the batch
    c: float  # draft step / target step at this batch
    table: GammaTable
    tree: TreeChoice | None

    @property
    def verify_ratio(self) -> float:
        """v at the optimal gamma (1 when not speculating)."""
        g = self.table.optimal_gamma
        return self.table.verify[g - 1] if g >= 1 else 1.0

    @property
    def plain_tokens_per_s(self) -> float:
        return self.batch / self.target_step_s

    @property
    def speculative_tokens_per_s(self) -> float:
        return self.plain_tokens_per_s * self.table.optimal_speedup


@dataclass(frozen=True)
class PairPlacement:
    """A target and a draft on their devices, decoding in `dtype` with `context` tokens cached; each
    model's layer weights in its own format and both KV caches in one (planner.cost.quantisation; None:
    `dtype`)."""

    target: LLMConfig
    draft: LLMConfig
    target_at: Placement
    draft_at: Placement
    dtype: str
    context: int
    target_weights: str | None = None
    draft_weights: str | None = None
    kv_cache: str | None = None

    @property
    def target_precision(self) -> Precision:
        return Precision(self.dtype, self.target_weights, self.kv_cache)

    @property
    def draft_precision(self) -> Precision:
        return Precision(self.dtype, self.draft_weights, self.kv_cache)

    def fits(self, batch: int) -> bool:
        try:
            self.check_fits(batch)
        except InfeasibleError:
            return False
        return True

    def verify_of(self, batch: int) -> Any:
        """gammas -> the target's cost of verifying gamma + 1 tokens per sequence, in target steps."""
        return verify_function(
            self.target, self.target_at, self.target_precision, batch=batch, context=self.context
        )

    def check_fits(self, batch: int) -> None:
        """InfeasibleError, naming the model, when either does not fit its devices at `batch`."""
        pair_memory(
            (self.target, self.target_at, self.target_precision),
            (self.draft, self.draft_at, self.draft_precision),
            self.dtype,
            batch,
            self.context,
        )


def largest_batch(pair: PairPlacement, limit: int) -> int:
    """The largest batch <= limit at which both models and their KV caches fit their devices (memory
    grows with the batch, so a bisection); InfeasibleError when not even one sequence fits."""
    pair.check_fits(1)  # raises, naming the model
    low, high = 1, limit
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if pair.fits(middle) else (low, middle - 1)
    return low


def default_batches(largest: int) -> list[int]:
    """Powers of two up to the largest batch that fits, and that one."""
    powers = [2**k for k in range(largest.bit_length()) if 2**k <= largest]
    return sorted({*powers, largest})


def pair_table(
    pair: PairPlacement, batch: int, *, alpha: float, max_gamma: int, c: float | None = None
) -> tuple[PairCosts, GammaTable]:
    """Both models' decode steps at `batch` (InfeasibleError when it does not fit) and the gamma table over
    1..max_gamma with the roofline's verification costs; c the roofline's unless a measured one is given."""
    costs = pair_costs(
        pair.target,
        pair.draft,
        pair.target_at,
        pair.draft_at,
        dtype=pair.dtype,
        batch=batch,
        context=pair.context,
        target_precision=pair.target_precision,
        draft_precision=pair.draft_precision,
    )
    gammas = list(range(1, max_gamma + 1))
    verify_of = pair.verify_of(batch)
    table = gamma_table(
        alpha,
        costs.c if c is None else c,
        gammas=gammas,
        max_gamma=max_gamma,
        c_hat=costs.c_hat,
        verify=[float(v) for v in verify_of(gammas)],
        verify_of=verify_of,
    )
    return costs, table


def batch_point(
    pair: PairPlacement,
    batch: int,
    *,
    alpha: float,
    max_gamma: int,
    tree_acceptance: list[float] | None = None,
    tree_size: int = 64,
) -> BatchPoint:
    """The gamma table (and the tree) at `batch` (InfeasibleError when the batch does not fit)."""
    from planner.optimize import token_tree as tt

    costs, table = pair_table(pair, batch, alpha=alpha, max_gamma=max_gamma)
    tree = None
    if tree_acceptance is not None:
        t = pair.verify_of(batch)(list(range(tree_size)))  # t(n), n = 1..tree_size
        found, _, speed = tt.hardware_aware_tree(
            list(tree_acceptance), tree_size, costs.c, np.asarray(t), None
        )
        tree = TreeChoice(found.size, found.depth, float(speed))
    return BatchPoint(batch, costs.target_step.time_s, costs.c, table, tree)
