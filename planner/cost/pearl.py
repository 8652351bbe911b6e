"""PEARL: parallel speculative decoding with pre-/post-verify and an adaptive draft length, as a Markov chain.

Source: T. Liu, Y. Li, Q. Lv, K. Liu, J. Zhu, W. Hu, X. Sun, "PEARL: Parallel speculative decoding with
adaptive draft length", ICLR 2025 (arXiv 2408.11850), Sec. 3: the draft and the target run at the same
time. *Pre-verify*: while the draft drafts a new window, the target already computes its distribution at
the window's first position, so the first draft token is verified as soon as it exists. *Post-verify*:
while the target verifies a window, the draft keeps drafting the next one on the guess that the whole
window will be accepted. A rejection throws the guess away and the next window restarts in pre-verify
(the draft length "shrinks to 1"). PEARL's speed ratio is our 1/c; it sets the window to it.

Our model (a derivation, not the paper's own formula). Assumptions:

1. acceptances are i.i.d. with probability alpha (Leviathan et al. 2023, Sec. 3.1);
2. the draft and the target run concurrently without slowing each other (PEARL places them on separate
   devices); hand-offs between them are free;
3. time advances in synchronised rounds; in a round the draft drafts gamma tokens (gamma c target steps)
   while the target runs one verification of the pending drafts plus one position (verify_ratio steps,
   1 while memory-bound): a round lasts max(verify_ratio, gamma c) target steps.

A round starts with k pending drafts d_1..d_k, already drafted and not yet verified. The target verifies
them and computes its distribution one position further; meanwhile the draft drafts x_1..x_gamma after
d_k (or after the last verified token when k = 0). At the round's end x_1 is checked against that extra
distribution. If some d_j is rejected, the round emits j tokens (the correction last) and the next starts
with k = 0 (pre-verify). If all d are accepted and x_1 too, it emits k + 1 tokens and the next round
verifies x_2..x_gamma: k = gamma - 1 (post-verify); if x_1 is rejected it emits k + 1 (the correction
last) and the next has k = 0. So k lives in {0, gamma - 1}, and
    E[tokens | k] = sum_{i=0}^{k} alpha^i   (Eq. 1 with k drafts),   Pr(next k = gamma - 1) = alpha^(k+1).
The two-state chain's stationary probability of post-verify is pi = alpha / (alpha + 1 - alpha^gamma),
and by renewal-reward the speedup over plain decoding is
    [(1 - pi) * 1 + pi * (1 - alpha^gamma) / (1 - alpha)] / max(verify_ratio, gamma c).
Checks: alpha = 0 gives 1 / max(1, gamma c) (never worse than plain decoding while gamma c <= 1, unlike
standard speculation's 1 / (gamma c + 1)); alpha = 1 gives gamma / max(1, gamma c) <= 1 / c.

Checked against the paper's code (github.com/smart-lty/ParallelSpeculativeDecoding, src/engine.py,
parallel_speculative_decoding; tests/test_pearl_paper.py replays its control flow with i.i.d. acceptances):
its `cur_mode` flag is our k = 0 / k = gamma - 1. In pre-verify it checks the first of gamma new drafts
against the target's one-step distribution (1 token either way; accept: keep all gamma drafts, switch);
in post-verify it checks gamma tokens, the gamma - 1 pending and the first new draft (all accepted: gamma
tokens, stay; first rejection at n: n + 1 tokens, switch back). Both processes run one round in lockstep
(`wait_for_everyone`): max(target step, gamma draft steps). Its windows are the speed ratio: gamma = 3 to
5 for its 7B/34B, 6.7B/33B, 1.3B/33B and 7B/70B pairs (scripts/run_para_sd.sh), i.e. c of 1/3 to 1/5.

Against standard speculation (planner.cost.speculative): at the paper's c (1/3 to 1/5) the chain puts
PEARL above it (alpha 0.8, c 0.2: 2.28x vs 1.87x at SD's best gamma); at small c it can fall below
(alpha 0.8, c 0.05: 2.76x vs 3.09x). Why: every rejection sends PEARL back to pre-verify, a whole target
step that emits one token, and with gamma = 1/c = 20 a rejection comes every 1/(1 - alpha) = 5 tokens;
SD pays gamma c = 0.4 of a step per round for drafting, little when c is small. PEARL's claim of more
accepted tokens per round than SD holds; its speed-up is largest where drafting is slow (c large).
Checked against the paper's tables (arXiv v1, Tables 1 and 5; planner validate --only 'pearl-v1-*'): alpha
from its vanilla-SD mean accepted tokens (Table 4), c from its model speeds (Table 7); the chain runs 0.6 to
5 % above its speed-ups at gamma = c and up to 16 % above at gamma = 2 (its hand-offs are not free).
Dimensionless.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from planner.cost.speculative import check_alpha, check_gamma, check_nonnegative, geometric_sum

FloatArray = npt.NDArray[np.float64]


def post_verify_probability(alpha: npt.ArrayLike, gamma: npt.ArrayLike) -> FloatArray:
    """Stationary probability that a round starts in post-verify (gamma - 1 drafts pending)."""
    a, g = check_alpha(alpha), check_gamma(gamma)
    if np.any(g < 1):
        raise ValueError("PEARL needs a window gamma >= 1")
    denominator = a + 1.0 - a**g
    return np.where(denominator > 0, a / np.where(denominator > 0, denominator, 1.0), 1.0)


def tokens_per_round(alpha: npt.ArrayLike, gamma: npt.ArrayLike) -> FloatArray:
    """Expected tokens a PEARL round emits in the stationary regime (module docstring). Unit: tokens."""
    a, g = check_alpha(alpha), check_gamma(gamma)
    pi = post_verify_probability(a, g)
    return (1.0 - pi) + pi * geometric_sum(a, g - 1.0)


def round_time(gamma: npt.ArrayLike, c: npt.ArrayLike, verify_ratio: npt.ArrayLike = 1.0) -> FloatArray:
    """Length of a round in target steps: max(verify_ratio, gamma c) (draft and target in parallel)."""
    return np.maximum(
        check_nonnegative(verify_ratio, "verify_ratio"), check_gamma(gamma) * check_nonnegative(c, "c")
    )


def pearl_speedup(
    alpha: npt.ArrayLike, gamma: npt.ArrayLike, c: npt.ArrayLike, verify_ratio: npt.ArrayLike = 1.0
) -> FloatArray:
    """PEARL's speedup over plain decoding: tokens per round / round length (module docstring)."""
    return tokens_per_round(alpha, gamma) / round_time(gamma, c, verify_ratio)


def pearl_optimal_gamma(
    alpha: npt.ArrayLike, c: npt.ArrayLike, max_gamma: int = 64
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """The window in [1, max_gamma] that maximises pearl_speedup, and that speedup (exhaustive).

    Tokens per round grow with gamma while the round stays one target step, so the optimum sits at or
    next to PEARL's own choice gamma = 1/c.
    """
    if max_gamma < 1:
        raise ValueError(f"max_gamma must be >= 1, got {max_gamma}")
    a, cc = np.broadcast_arrays(check_alpha(alpha), check_nonnegative(c, "c"))
    gammas = np.arange(1, max_gamma + 1, dtype=float)
    grid = pearl_speedup(a[..., None], gammas, cc[..., None])
    best = np.argmax(grid, axis=-1)
    return (best + 1).astype(np.int64), np.take_along_axis(grid, best[..., None], axis=-1)[..., 0]


def pearl_default_gamma(c: float) -> int:
    """PEARL's window: the speed ratio target/draft, 1/c, rounded (at least 1)."""
    if c <= 0:
        raise ValueError("PEARL's default window needs c > 0")
    return max(1, round(1.0 / c))
