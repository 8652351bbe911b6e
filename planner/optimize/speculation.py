"""The draft length for speculative decoding: a table over gamma and its optimum, from alpha and costs.

What it optimises: the expected speedup over plain decoding, E[tokens](alpha, gamma) / (gamma c + v(gamma))
(Leviathan et al. 2023, Thm 3.8, with the verification cost v of gamma + 1 tokens in target steps; v = 1
in the paper). Search space: the integers 0..max_gamma (0 = do not speculate); exhaustive, O(max_gamma).
Ties: the smallest gamma among equal speedups (numpy's argmax returns the first maximum).
For a target and a draft model on hardware, c and v come from the decode roofline (planner.cost.decode)
unless a measured c is given. PEARL's parallel variant (planner.cost.pearl) is tabulated beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.cost import pearl, speculative
from planner.cost.decode import Placement, StepTime, check_fits, step_time, verify_ratios
from planner.cost.quantisation import Precision
from planner.cost.transformer import parameter_count
from planner.spec.llm import LLMConfig


@dataclass(frozen=True)
class GammaTable:
    """Speedup rows for gammas, the optimum over 0..max_gamma, and PEARL's figures for the same inputs."""

    alpha: float
    c: float
    c_hat: float
    gammas: tuple[int, ...]
    verify: tuple[float, ...]
    max_gamma: int
    optimal_gamma: int
    optimal_speedup: float
    pearl_optimal_gamma: int
    pearl_optimal_speedup: float
    pearl_default_gamma: int | None
    notes: tuple[str, ...] = field(default=())

    def rows(self) -> list[dict[str, Any]]:
        g = np.asarray(self.gammas, dtype=float)
        tokens = speculative.expected_tokens(self.alpha, g)
        speed = speculative.speedup(self.alpha, g, self.c, np.asarray(self.verify))
        ops = speculative.operations_factor(self.alpha, g, self.c_hat)
        rate = speculative.draft_acceptance_rate(self.alpha, g)
        pearl_speed = pearl.pearl_speedup(self.alpha, g, self.c, np.asarray(self.verify))
        return [
            {
                "gamma": int(g[i]),
                "expected_tokens": float(tokens[i]),
                "verify_ratio": self.verify[i],
                "speedup": float(speed[i]),
                "operations": float(ops[i]),
                "draft_acceptance_rate": float(rate[i]),
                "pearl_speedup": float(pearl_speed[i]),
                "optimal": int(g[i]) == self.optimal_gamma,
            }
            for i in range(len(self.gammas))
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "c": self.c,
            "c_hat": self.c_hat,
            "gain_possible": bool(speculative.gain_possible(self.alpha, self.c)),
            "max_gamma": self.max_gamma,
            "rows": self.rows(),
            "optimal_gamma": self.optimal_gamma,
            "optimal_speedup": self.optimal_speedup,
            "pearl": {
                "optimal_gamma": self.pearl_optimal_gamma,
                "optimal_speedup": self.pearl_optimal_speedup,
                "default_gamma": self.pearl_default_gamma,
                "vs_speculative": self.pearl_optimal_speedup / self.optimal_speedup,
            },
            "notes": list(self.notes),
        }


def gamma_table(
    alpha: float,
    c: float,
    *,
    gammas: list[int],
    max_gamma: int,
    c_hat: float | None = None,
    verify: list[float] | None = None,
    verify_of: Any = None,
) -> GammaTable:
    """Rows for `gammas` and the optimum over 0..max(max_gamma, gammas). `verify[i]` is the verification
    cost of gammas[i] + 1 tokens in target steps; `verify_of(gammas)` the same for the optimum's search
    (both default to 1, Leviathan's assumption). `c_hat` (the arithmetic ratio) defaults to c."""
    top = max([max_gamma, *gammas])
    best, best_speed = speculative.optimal_gamma(alpha, c, top, verify_of)
    p_best, p_speed = pearl.pearl_optimal_gamma(alpha, c, max(top, 1))
    notes = []
    if not speculative.gain_possible(alpha, c):
        notes.append(f"speculation cannot pay: alpha {alpha:g} <= c {c:g} (Leviathan et al. 2023, Cor. 3.9)")
    elif int(best) == top:
        notes.append(f"the optimum sits at the largest gamma searched ({top}); raise `max_gamma`")
    if int(best) == 0 and speculative.gain_possible(alpha, c):
        notes.append("verification of even 2 tokens costs more than the speculation gains: do not speculate")
    return GammaTable(
        alpha=alpha,
        c=c,
        c_hat=c if c_hat is None else c_hat,
        gammas=tuple(gammas),
        verify=tuple(verify) if verify is not None else (1.0,) * len(gammas),
        max_gamma=top,
        optimal_gamma=int(best),
        optimal_speedup=float(best_speed),
        pearl_optimal_gamma=int(p_best),
        pearl_optimal_speedup=float(p_speed),
        pearl_default_gamma=pearl.pearl_default_gamma(c) if c > 0 else None,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class PairCosts:
    """A target and a draft on their placements: step times, the derived c and c_hat, memory used."""

    target_step: StepTime
    draft_step: StepTime
    target_memory_bytes: float
    draft_memory_bytes: float
    c: float
    c_hat: float
    parameter_ratio: float


Side = tuple[LLMConfig, Placement, Precision | None]  # a model, where it runs, its formats


def pair_memory(target: Side, draft: Side, dtype: str, batch: int, context: int) -> tuple[float, float]:
    """Bytes per device of the target and of the draft with their KV caches (planner.cost.decode.check_fits);
    InfeasibleError naming the model, and its tensor-parallel setting, that does not fit."""
    return (
        check_fits(target[0], target[1], dtype, batch, context, target[2]),
        check_fits(draft[0], draft[1], dtype, batch, context, draft[2], setting="draft_tensor_parallel"),
    )


def pair_costs(
    target: LLMConfig,
    draft: LLMConfig,
    target_at: Placement,
    draft_at: Placement,
    *,
    dtype: str,
    batch: int,
    context: int,
    target_precision: Precision | None = None,
    draft_precision: Precision | None = None,
) -> PairCosts:
    """Roofline step times of both models, each in its precision (default: all `dtype`; serving's
    decode model, planner.cost.decode.step_time), InfeasibleError when one does not fit its devices; and
    c = draft step / target step (Leviathan et al. 2023, Sec. 3.3), c_hat = draft FLOP / target FLOP."""
    target_memory, draft_memory = pair_memory(
        (target, target_at, target_precision), (draft, draft_at, draft_precision), dtype, batch, context
    )
    t_step = step_time(
        target, target_at, dtype=dtype, batch=batch, tokens=1, context=context, precision=target_precision
    )
    d_step = step_time(
        draft, draft_at, dtype=dtype, batch=batch, tokens=1, context=context, precision=draft_precision
    )
    return PairCosts(
        target_step=t_step,
        draft_step=d_step,
        target_memory_bytes=target_memory,
        draft_memory_bytes=draft_memory,
        c=d_step.time_s / t_step.time_s,
        c_hat=d_step.flops / t_step.flops,
        parameter_ratio=parameter_count(draft) / parameter_count(target),
    )


def verify_function(
    target: LLMConfig, placement: Placement, precision: Precision, *, batch: int, context: int
) -> Any:
    """gammas -> verification cost of gamma + 1 tokens in target steps, from the roofline in the target's
    precision (activations in precision.activation; its GEMMs at the quantised peak)."""

    def of(gammas: np.ndarray) -> np.ndarray:
        return verify_ratios(
            target,
            placement,
            gammas,
            dtype=precision.activation,
            batch=batch,
            context=context,
            precision=precision,
        )

    return of
