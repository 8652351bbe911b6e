"""PEARL's round model: limits, the stationary chain against a simulation of the rounds, and vs SD."""

from __future__ import annotations

import numpy as np
import pytest

from planner.cost import pearl
from planner.cost import speculative as sd


def simulate_rounds(alpha: float, gamma: int, rounds: int, chains: int, seed: int) -> float:
    """Tokens per round of the protocol in planner.cost.pearl's docstring, with Bernoulli acceptances."""
    rng = np.random.default_rng(seed)
    pending = np.zeros(chains, dtype=int)  # k: drafts waiting for verification
    total = np.zeros(chains)
    for _ in range(rounds):
        accept = rng.random((chains, gamma)) < alpha  # d_1..d_k, then x_1 at column k
        cols = np.arange(gamma)[None, :]
        judged = cols <= pending[:, None]  # k pending drafts plus x_1
        ok = np.where(judged, accept, True)
        first_fail = np.where(ok.all(axis=1), gamma, np.argmin(ok, axis=1))
        all_pending_ok = first_fail >= pending
        # a rejection at j <= k emits j + 1 (j accepted + correction); otherwise k + 1 tokens
        total += np.where(all_pending_ok, pending + 1, first_fail + 1)
        pending = np.where(first_fail > pending, gamma - 1, 0)
    return float(total.mean() / rounds)


@pytest.mark.parametrize(("alpha", "gamma"), [(0.5, 4), (0.8, 6), (0.9, 10), (0.3, 2)])
def test_stationary_tokens_per_round_match_a_simulation(alpha: float, gamma: int) -> None:
    measured = simulate_rounds(alpha, gamma, rounds=2000, chains=400, seed=int(alpha * 100) + gamma)
    assert measured == pytest.approx(float(pearl.tokens_per_round(alpha, gamma)), rel=0.01)


def test_limits() -> None:
    gammas = np.arange(1, 12)
    assert np.allclose(pearl.pearl_speedup(0.0, gammas, 0.1), 1.0 / np.maximum(1.0, gammas * 0.1))
    assert np.allclose(pearl.pearl_speedup(1.0, gammas, 0.1), gammas / np.maximum(1.0, gammas * 0.1))
    assert np.allclose(pearl.tokens_per_round(0.7, 1), 1.0)  # a window of 1: one token per round


def test_never_slower_than_plain_decoding_while_the_draft_keeps_up() -> None:
    alpha = np.linspace(0.0, 0.99, 34)
    for c in (0.02, 0.1, 0.25):
        gamma = pearl.pearl_default_gamma(c)
        assert gamma * c <= 1.0 + 1e-9
        assert np.all(pearl.pearl_speedup(alpha, gamma, c) >= 1.0 - 1e-12)
        # standard speculation with the same window falls below 1 at low alpha
        assert float(sd.walltime_improvement(0.0, gamma, c)) < 1.0


def test_pearl_beats_standard_speculation_at_high_alpha_and_large_c() -> None:
    _, parallel = pearl.pearl_optimal_gamma(0.9, 0.2)
    _, serial = sd.optimal_gamma(0.9, 0.2)
    assert parallel > serial
    best, _ = pearl.pearl_optimal_gamma(0.9, 0.2)
    assert best in (pearl.pearl_default_gamma(0.2), pearl.pearl_default_gamma(0.2) + 1)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="gamma >= 1"):
        pearl.tokens_per_round(0.5, 0)
    with pytest.raises(ValueError, match="c > 0"):
        pearl.pearl_default_gamma(0.0)
