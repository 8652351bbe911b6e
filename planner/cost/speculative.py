"""Speculative decoding: closed forms for tokens per target step, speedup, cost and acceptance.

Source: Y. Leviathan, M. Kalman, Y. Matias, "Fast inference from transformers via speculative decoding",
ICML 2023 (arXiv 2211.17192). Notation:

* alpha: the acceptance rate, E[beta] with beta = sum_x min(p(x), q(x)) (Sec. 3.1, Def. 3.1); the
  acceptances of the gamma drafted tokens are assumed i.i.d. (Sec. 3.1, "simplifying assumption");
* gamma: draft tokens per step (an integer >= 0; 0 = plain decoding);
* c: time of one draft step / time of one target step (Sec. 3.3); c_hat: the same for arithmetic.

Every function broadcasts over numpy arrays (sweeps over alpha, gamma and c). Dimensionless results
(tokens, ratios); no units.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def check_alpha(alpha: npt.ArrayLike, upper_inclusive: bool = True) -> FloatArray:
    a = np.asarray(alpha, dtype=float)
    bad = (a < 0) | (a > 1) if upper_inclusive else (a < 0) | (a >= 1)
    if np.any(bad) or np.any(np.isnan(a)):
        raise ValueError(
            f"alpha must lie in [0, 1{']' if upper_inclusive else ')'}, got {a[bad | np.isnan(a)]}"
        )
    return a


def check_gamma(gamma: npt.ArrayLike) -> FloatArray:
    g = np.asarray(gamma, dtype=float)
    if np.any(g < 0) or np.any(g != np.round(g)):
        raise ValueError(f"gamma must be a non-negative integer, got {gamma!s}")
    return g


def check_nonnegative(value: npt.ArrayLike, name: str) -> FloatArray:
    v = np.asarray(value, dtype=float)
    if np.any(v < 0) or np.any(np.isnan(v)):
        raise ValueError(f"{name} must be >= 0, got {value!s}")
    return v


def geometric_sum(alpha: FloatArray, gamma: FloatArray) -> FloatArray:
    """sum_{i=0}^{gamma} alpha^i = (1 - alpha^(gamma+1)) / (1 - alpha), and gamma + 1 at alpha = 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        closed = (1.0 - alpha ** (gamma + 1.0)) / (1.0 - alpha)
    return np.where(alpha == 1.0, gamma + 1.0, closed)


def expected_tokens(alpha: npt.ArrayLike, gamma: npt.ArrayLike) -> FloatArray:
    """Expected tokens per target step (Leviathan et al. 2023, Eq. 1): (1 - a^(g+1)) / (1 - a).

    Between 1 (alpha = 0: only the target's own token) and gamma + 1 (alpha = 1). Unit: tokens.
    """
    return geometric_sum(check_alpha(alpha), check_gamma(gamma))


def walltime_improvement(alpha: npt.ArrayLike, gamma: npt.ArrayLike, c: npt.ArrayLike) -> FloatArray:
    """Expected walltime improvement over plain decoding (Leviathan et al. 2023, Thm 3.8).

    (1 - a^(g+1)) / ((1 - a)(g c + 1)): a step costs gamma draft runs plus one target run that verifies
    gamma + 1 positions as fast as it decodes one (the memory-bound regime). Dimensionless.
    """
    return speedup(alpha, gamma, c, 1.0)


def speedup(
    alpha: npt.ArrayLike, gamma: npt.ArrayLike, c: npt.ArrayLike, verify_ratio: npt.ArrayLike
) -> FloatArray:
    """Speedup over plain decoding when verifying gamma + 1 tokens costs `verify_ratio` target steps.

    E[tokens] / (gamma c + verify_ratio): Leviathan et al. 2023, Thm 3.8, with its one-step verification
    generalised (Sec. 3.3 assumes verify_ratio = 1; planner.cost.decode gives it from the roofline).
    """
    tokens = expected_tokens(alpha, gamma)
    cost = check_gamma(gamma) * check_nonnegative(c, "c") + check_nonnegative(verify_ratio, "verify_ratio")
    return tokens / cost


def operations_factor(alpha: npt.ArrayLike, gamma: npt.ArrayLike, c_hat: npt.ArrayLike) -> FloatArray:
    """Expected factor of arithmetic operations over plain decoding (Leviathan et al. 2023, Thm 3.11).

    (1 - a)(g c_hat + g + 1) / (1 - a^(g+1)): the target does gamma + 1 positions of work per step
    and the draft gamma c_hat, for E[tokens] tokens. >= 1; it is the price of the speedup. Dimensionless.
    """
    a, g = check_alpha(alpha), check_gamma(gamma)
    return (g * check_nonnegative(c_hat, "c_hat") + g + 1.0) / geometric_sum(a, g)


def gain_possible(alpha: npt.ArrayLike, c: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where some gamma >= 1 beats plain decoding: alpha > c.

    Sufficient: Leviathan et al. 2023, Cor. 3.9 (gamma = 1 gives (1 + a)/(1 + c) > 1). Necessary: if
    alpha <= c then alpha^i <= c for i >= 1, so 1 + a + ... + a^g <= 1 + g c for every gamma.
    """
    return check_alpha(alpha) > check_nonnegative(c, "c")


def optimal_gamma(
    alpha: npt.ArrayLike,
    c: npt.ArrayLike,
    max_gamma: int = 64,
    verify_ratio: Callable[[FloatArray], FloatArray] | None = None,
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """The integer gamma in [0, max_gamma] that maximises the speedup, and that speedup.

    Exhaustive over the integers (Leviathan et al. 2023, Sec. 3.3 and Fig. 3: the optimum is found
    numerically); gamma = 0 (no speculation, speedup 1) wins exactly when alpha <= c and verification is
    one step. `verify_ratio(gammas)` gives the verification cost of gamma + 1 tokens in target steps
    (default 1 for every gamma). Broadcasts over alpha and c; O(max_gamma) per point.
    """
    if max_gamma < 0:
        raise ValueError(f"max_gamma must be >= 0, got {max_gamma}")
    a, cc = np.broadcast_arrays(check_alpha(alpha), check_nonnegative(c, "c"))
    gammas = np.arange(max_gamma + 1, dtype=float)
    verify = np.ones_like(gammas) if verify_ratio is None else np.asarray(verify_ratio(gammas), float)
    verify = np.where(gammas == 0, 1.0, verify)  # no speculation: one plain step
    grid = speedup(a[..., None], gammas, cc[..., None], verify)
    best = np.argmax(grid, axis=-1)
    return best.astype(np.int64), np.take_along_axis(grid, best[..., None], axis=-1)[..., 0]


def expected_tokens_positional(alphas: npt.ArrayLike) -> FloatArray:
    """Expected tokens per step when the i-th draft is accepted with probability alpha_i given that the
    ones before it were: 1 + sum_i prod_{j <= i} alpha_j (Leviathan et al. 2023, Eq. 1 without the i.i.d.
    assumption; the last axis runs over the gamma positions). Unit: tokens.
    """
    a = check_alpha(alphas)
    if a.ndim == 0:
        raise ValueError("alphas needs one entry per draft position")
    return 1.0 + np.cumprod(a, axis=-1).sum(axis=-1)


# ---- the counters serving engines report ------------------------------------------------------------------


def draft_acceptance_rate(alpha: npt.ArrayLike, gamma: npt.ArrayLike) -> FloatArray:
    """The "draft acceptance rate" counter of a serving engine (e.g. vLLM's spec-decode metrics):
    accepted draft tokens / proposed draft tokens, in expectation, when every step proposes gamma drafts.

    Derivation (i.i.d. acceptance, Leviathan et al. 2023 Sec. 3.1): draft i is accepted iff drafts
    1..i all are, with probability alpha^i, so E[accepted] = sum_{i=1}^{g} a^i = a (1 - a^g) / (1 - a)
    (= E[tokens] - 1: the step's last token is the target's own). The counter is
    rate = a (1 - a^g) / (g (1 - a)) <= alpha, with equality only at gamma = 1 (or alpha in {0, 1}):
    drafts after a rejection are counted as proposed but never had a chance. Dimensionless.
    """
    a, g = check_alpha(alpha), check_gamma(gamma)
    if np.any(g < 1):
        raise ValueError("the counter needs gamma >= 1 drafts per step")
    return (geometric_sum(a, g) - 1.0) / g


def alpha_from_acceptance_rate(rate: npt.ArrayLike, gamma: npt.ArrayLike) -> FloatArray:
    """alpha from an engine's draft acceptance rate (accepted / proposed) at draft length gamma.

    Inverts draft_acceptance_rate, which increases strictly in alpha from 0 to 1 for gamma >= 1, by
    bisection (60 halvings: exact to float precision). Dimensionless.
    """
    r = np.asarray(rate, dtype=float)
    if np.any((r < 0) | (r > 1)) or np.any(np.isnan(r)):
        raise ValueError(f"an acceptance rate lies in [0, 1], got {rate!s}")
    g = check_gamma(gamma)
    return _invert_increasing(lambda a: draft_acceptance_rate(a, g), r)


def alpha_from_expected_tokens(tokens: npt.ArrayLike, gamma: npt.ArrayLike) -> FloatArray:
    """alpha from a measured mean of tokens per target step (an engine's "mean acceptance length").

    Inverts Eq. 1 by bisection; the mean must lie in [1, gamma + 1]. Dimensionless.
    """
    t, g = np.asarray(tokens, dtype=float), check_gamma(gamma)
    if np.any(t < 1) or np.any(t > g + 1) or np.any(np.isnan(t)):
        raise ValueError(f"mean tokens per step must lie in [1, gamma + 1], got {tokens!s}")
    return _invert_increasing(lambda a: geometric_sum(a, g), t)


def _invert_increasing(function: Callable[[FloatArray], FloatArray], target: FloatArray) -> FloatArray:
    lo = np.zeros(np.broadcast(target, function(np.zeros_like(target))).shape)
    hi = np.ones_like(lo)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = function(mid) < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


# ---- acceptance of explicit distributions ----------------------------------------------------------------


def acceptance_probability(p: npt.ArrayLike, q: npt.ArrayLike) -> FloatArray:
    """beta = sum_x min(p(x), q(x)) = 1 - TV(p, q): the probability that a draft x ~ q is accepted by the
    rejection sampler of Leviathan et al. 2023, Algorithm 1 (Sec. 3.1, Def. 3.1; last axis = vocabulary).
    """
    return np.minimum(np.asarray(p, float), np.asarray(q, float)).sum(axis=-1)


def residual(p: npt.ArrayLike, q: npt.ArrayLike) -> FloatArray:
    """norm(max(0, p - q)): the distribution sampled after a rejection (Leviathan et al. 2023, Alg. 1).

    Where p = q the residual has no mass (a rejection cannot happen); it is returned as p then.
    """
    pa, qa = np.asarray(p, float), np.asarray(q, float)
    excess = np.maximum(pa - qa, 0.0)
    mass = excess.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mass > 0, excess / np.where(mass > 0, mass, 1.0), pa)


def sibling_acceptance(p: npt.ArrayLike, q: npt.ArrayLike, k: int) -> FloatArray:
    """Positional acceptance of SpecInfer's multi-step speculative sampling with i.i.d. candidates.

    Miao et al., ASPLOS 2024 (SpecInfer), Sec. 4.3: candidates x_1..x_k ~ q are tried in turn against
    p_1 = p; x_s is accepted with probability min(1, p_s(x)/q(x)), else p_{s+1} = norm(max(0, p_s - q)).
    Returns P[s] = Pr(the s-th candidate is accepted) = prod_{j<s} (1 - b_j) * b_s with
    b_s = sum min(p_s, q): Sequoia's positional acceptance vector (Chen et al., NeurIPS 2024, Sec. 3.2),
    exact when p and q do not depend on the earlier tokens. Last axis: the k positions.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    current = np.asarray(p, float)
    qa = np.asarray(q, float)
    out, survive = [], np.ones(current.shape[:-1])
    for _ in range(k):
        beta = acceptance_probability(current, qa)
        out.append(survive * beta)
        survive = survive * (1.0 - beta)
        current = residual(current, qa)
    return np.stack(out, axis=-1)
