"""Speculative decoding from alpha and c: the speedup table over the draft length, engine counters to
alpha, and the Monte Carlo check of the real samplers. Model pairs on hardware: planner.api.specdec_models;
token trees: planner.api.specdec_tree.

Formulas: Leviathan et al., ICML 2023 (Eq. 1, Thm 3.8, Thm 3.11); SpecInfer's multi-step speculative
sampling (Miao et al. 2024); PEARL (Liu et al. 2025). c = time of a draft step / time of a target step;
alpha = the per-token acceptance rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError
from planner.limits import (
    COST_RATIO,
    MAX_GAMMA,
    MAX_SIMULATE_GAMMA,
    MAX_SIMULATE_TREE,
    MAX_SIMULATE_TRIALS,
    MAX_SIMULATE_VOCAB,
    count_problem,
)
from planner.validate.bands import SPECULATIVE_DECODING, band_fields

if TYPE_CHECKING:
    from planner.optimize.speculation import GammaTable

DEFAULT_MAX_GAMMA = 16  # rows of the speedup tables (gamma = 1..16)
VERIFY_COST = "one target step per verification (Leviathan Sec. 3.3)"
PLOT_ALPHAS = (0.6, 0.7, 0.8, 0.9)  # the plot's curves, beside the given alpha


def check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, (int, float)) and 0.0 <= alpha < 1.0):
        raise SettingError("alpha", "expected a number in [0, 1) (the per-token acceptance rate)", alpha)


def check_cost_ratio(value: float | None, setting: str) -> None:
    """c or c_hat: 0 or a real ratio (planner.limits.COST_RATIO); None: not given."""
    if value is not None and value not in COST_RATIO:  # a ratio beyond 1e6 overflows the speedup's terms
        raise SettingError(
            setting, f"expected a number {COST_RATIO.text()} (draft step / target step)", value
        )


def check_count(value: int, setting: str, low: int, high: float) -> None:
    if not (isinstance(value, int) and low <= value <= high):
        raise SettingError(setting, f"a whole number in [{low}, {high:,.0f}]", value)


@dataclass(frozen=True)
class SpecdecSpeedupOptions:
    """The speedup table's settings: alpha and c measured or derived elsewhere."""

    alpha: float  # per-token acceptance rate, in [0, 1)
    c: float  # draft step time / target step time
    gamma: int | None = None  # one draft length instead of the table 1..max_gamma
    max_gamma: int = DEFAULT_MAX_GAMMA
    c_hat: float | None = None  # draft / target arithmetic ratio for Thm 3.11 (None: c)
    plot: bool = False  # also the speedup-vs-gamma series of a few alphas

    def check(self) -> None:
        check_alpha(self.alpha)
        check_cost_ratio(self.c, "c")
        check_cost_ratio(self.c_hat, "c_hat")
        if self.gamma is not None:
            check_count(self.gamma, "gamma", 1, MAX_GAMMA)
        check_count(self.max_gamma, "max_gamma", 1, MAX_GAMMA)


@dataclass(frozen=True)
class SpecdecSpeedupResult:
    """Expected tokens, speedup and arithmetic cost per gamma, the optimum (Thm 3.8), PEARL beside it."""

    options: SpecdecSpeedupOptions
    table: GammaTable
    plot: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        payload = {**self.table.to_dict(), "verify_cost": VERIFY_COST, **band_fields(SPECULATIVE_DECODING)}
        if self.plot is not None:
            payload["plot"] = self.plot
        return payload


def specdec_speedup(options: SpecdecSpeedupOptions) -> SpecdecSpeedupResult:
    """The gamma table for alpha and c, one target step per verification (Leviathan et al. 2023)."""
    from planner.optimize.speculation import gamma_table

    options.check()
    o = options
    gammas = [o.gamma] if o.gamma is not None else list(range(1, o.max_gamma + 1))
    c_hat = o.c if o.c_hat is None else o.c_hat
    table = gamma_table(o.alpha, o.c, gammas=gammas, max_gamma=o.max_gamma, c_hat=c_hat)
    return SpecdecSpeedupResult(o, table, plot_series(o.alpha, o.c, o.max_gamma) if o.plot else None)


def plot_series(alpha: float, c: float, max_gamma: int, verify: list[float] | None = None) -> dict[str, Any]:
    """Speedup against gamma = 1..max_gamma for alpha and a few common alphas (render draws it)."""
    import numpy as np

    from planner.cost import speculative

    gammas = np.arange(1, max_gamma + 1)
    v = np.ones(max_gamma) if verify is None else np.asarray(verify)
    alphas = sorted({round(alpha, 3), *PLOT_ALPHAS})
    return {
        "c": c,
        "gammas": gammas.tolist(),
        "series": {f"{a:g}": speculative.speedup(a, gammas, c, v).tolist() for a in alphas},
    }


@dataclass(frozen=True)
class SpecdecAlphaOptions:
    """A serving engine's counters at draft length gamma; give exactly one of the two."""

    gamma: int  # draft tokens per step the engine proposed
    acceptance_rate: float | None = None  # accepted drafts / proposed drafts
    mean_tokens: float | None = None  # mean tokens emitted per target step

    def check(self) -> None:
        if not (isinstance(self.gamma, int) and self.gamma >= 1):
            raise SettingError("gamma", "a whole number >= 1", self.gamma)
        if (self.acceptance_rate is None) == (self.mean_tokens is None):
            raise SettingError(
                "acceptance_rate", "give exactly one of acceptance_rate and mean_tokens", show_got=False
            )


ALPHA_NOTES = (
    "draft acceptance rate = accepted / proposed = alpha (1 - alpha^gamma) / (gamma (1 - alpha)) "
    "<= alpha: drafts after the first rejection are proposed but never judged; equal at gamma = 1",
    "mean tokens per step = (1 - alpha^(gamma+1)) / (1 - alpha) = 1 + accepted drafts per step",
    "both assume i.i.d. acceptance and gamma drafts proposed every step (Leviathan et al. 2023, Sec. 3.1)",
)


@dataclass(frozen=True)
class SpecdecAlphaResult:
    """alpha for the counters, and both counters recomputed from it."""

    gamma: int
    alpha: float
    draft_acceptance_rate: float
    expected_tokens: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "gamma": self.gamma,
            "alpha": self.alpha,
            "draft_acceptance_rate": self.draft_acceptance_rate,
            "expected_tokens": self.expected_tokens,
            "notes": list(ALPHA_NOTES),
        }


def specdec_alpha(options: SpecdecAlphaOptions) -> SpecdecAlphaResult:
    """Convert a serving engine's counters (draft acceptance rate, mean tokens per step) to alpha."""
    from planner.cost import speculative

    options.check()
    gamma, rate, tokens = options.gamma, options.acceptance_rate, options.mean_tokens
    setting = "acceptance_rate" if rate is not None else "mean_tokens"
    try:
        if rate is not None:
            alpha = float(speculative.alpha_from_acceptance_rate(rate, gamma))
        else:
            assert tokens is not None  # check(): exactly one of the two is given
            alpha = float(speculative.alpha_from_expected_tokens(tokens, gamma))
    except ValueError as exc:
        raise SettingError(setting, str(exc), show_got=False) from None
    return SpecdecAlphaResult(
        gamma=gamma,
        alpha=alpha,
        draft_acceptance_rate=float(speculative.draft_acceptance_rate(alpha, gamma)),
        expected_tokens=float(speculative.expected_tokens(alpha, gamma)),
    )


@dataclass(frozen=True)
class SpecdecSimulateOptions:
    """The Monte Carlo check: random bigram models of `vocab` tokens, or context-free p and q."""

    gamma: int = 4  # draft tokens per step (chain)
    vocab: int = 6  # vocabulary of the random models (ignored with p and q)
    p: tuple[float, ...] | None = None  # target distribution (with q)
    q: tuple[float, ...] | None = None  # draft distribution over the same tokens
    tree_size: int = 8  # also check a SpecInfer tree of this size (0 or 1: none)
    trials: int = 20_000  # Monte Carlo trials per check
    length: int = 3  # tokens whose joint law is tested
    significance: float = 0.001  # test level: a correct sampler fails each test this often
    seed: int = 0

    def check(self) -> None:
        check_count(self.gamma, "gamma", 0, MAX_SIMULATE_GAMMA)
        check_count(self.vocab, "vocab", 2, MAX_SIMULATE_VOCAB)
        check_count(self.tree_size, "tree_size", 0, MAX_SIMULATE_TREE)
        check_count(self.trials, "trials", 100, MAX_SIMULATE_TRIALS)
        check_count(self.length, "length", 1, 4)  # the law of `length` tokens has vocab^length cells
        if not (isinstance(self.seed, int) and self.seed >= 0):
            raise SettingError("seed", "a whole number >= 0", self.seed)
        if not (isinstance(self.significance, (float, int)) and 0.0 < self.significance < 1.0):
            raise SettingError("significance", "expected a level in (0, 1)", self.significance)
        if (self.p is None) != (self.q is None):
            raise SettingError("p", "give both p and q", show_got=False)
        if self.p is not None and self.q is not None:
            for setting, values in (("p", self.p), ("q", self.q)):
                _check_distribution(setting, values)
            if len(self.q) != len(self.p):
                raise SettingError("q", f"expected {len(self.p)} probabilities like p", self.q)


def _check_distribution(setting: str, values: tuple[float, ...]) -> None:
    problem = count_problem(len(values), MAX_SIMULATE_VOCAB, "probabilities")  # p, q set the vocabulary
    if problem:
        raise SettingError(setting, problem, len(values))
    if any(not math.isfinite(v) or v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6:
        raise SettingError(setting, "expected a probability distribution (non-negative, sums to 1)", values)


@dataclass(frozen=True)
class SpecdecSimulateResult:
    """The report of planner.sampling.montecarlo.run_checks: the tests, the alpha and tree used, notes."""

    report: dict[str, Any]

    @property
    def tests(self) -> list[dict[str, Any]]:
        return list(self.report["tests"])

    @property
    def passed(self) -> bool:
        """Whether every test passed at the stated significance."""
        return all(test["passed"] for test in self.report["tests"])

    def to_dict(self) -> dict[str, Any]:
        return {**self.report, **band_fields(SPECULATIVE_DECODING)}


def specdec_simulate(options: SpecdecSimulateOptions) -> SpecdecSimulateResult:
    """Run the real lossless samplers and test them: output law = target, mean tokens = closed form."""
    from planner.sampling.montecarlo import run_checks

    options.check()
    o = options
    explicit = (list(o.p), list(o.q)) if o.p is not None and o.q is not None else None
    report = run_checks(
        gamma=o.gamma,
        vocab=o.vocab,
        explicit=explicit,
        tree_size=o.tree_size,
        trials=o.trials,
        length=o.length,
        significance=o.significance,
        seed=o.seed,
    )
    return SpecdecSimulateResult(report)
