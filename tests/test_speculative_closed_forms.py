"""Closed forms of speculative decoding (Leviathan et al. 2023): values, properties, counters, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cost import speculative as sd

alphas = st.floats(min_value=0.0, max_value=0.999)
cs = st.floats(min_value=0.0, max_value=2.0)
gammas = st.integers(min_value=0, max_value=40)


def test_eq1_thm38_thm311_on_a_known_point() -> None:
    # alpha 0.8, gamma 5: E = (1 - 0.8^6) / 0.2 = 3.68928 (Table 1 "3.69")
    assert sd.expected_tokens(0.8, 5) == pytest.approx(3.68928)
    assert sd.walltime_improvement(0.8, 5, 0.0) == pytest.approx(3.68928)
    assert sd.walltime_improvement(0.8, 5, 0.1) == pytest.approx(3.68928 / 1.5)
    assert sd.operations_factor(0.8, 5, 0.0) == pytest.approx(6 / 3.68928)
    assert sd.expected_tokens(1.0, 4) == 5.0  # the limit alpha -> 1


@settings(max_examples=200, deadline=None)
@given(alphas, gammas)
def test_expected_tokens_lie_between_one_and_gamma_plus_one(alpha: float, gamma: int) -> None:
    tokens = float(sd.expected_tokens(alpha, gamma))
    assert 1.0 - 1e-12 <= tokens <= gamma + 1 + 1e-12


@settings(max_examples=200, deadline=None)
@given(alphas, alphas, st.integers(1, 30), cs)
def test_speedup_increases_in_alpha(a1: float, a2: float, gamma: int, c: float) -> None:
    lo, hi = sorted((a1, a2))
    assert sd.walltime_improvement(lo, gamma, c) <= sd.walltime_improvement(hi, gamma, c) + 1e-12


@settings(max_examples=200, deadline=None)
@given(alphas, st.integers(1, 30), cs, cs)
def test_speedup_decreases_in_c(alpha: float, gamma: int, c1: float, c2: float) -> None:
    lo, hi = sorted((c1, c2))
    assert sd.walltime_improvement(alpha, gamma, hi) <= sd.walltime_improvement(alpha, gamma, lo) + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.floats(0.0, 1.0))
def test_optimal_gamma_is_non_decreasing_in_alpha(c: float) -> None:
    grid = np.linspace(0.0, 0.98, 50)
    best, _ = sd.optimal_gamma(grid, c, max_gamma=80)
    assert np.all(np.diff(best) >= 0)


def test_optimal_gamma_matches_a_brute_force_and_the_gain_condition() -> None:
    a, c = np.meshgrid(np.linspace(0, 0.95, 20), np.linspace(0.013, 0.613, 13))  # no ties alpha = c
    best, speed = sd.optimal_gamma(a, c, max_gamma=40)
    for i, j in np.ndindex(a.shape):
        values = [float(sd.walltime_improvement(a[i, j], g, c[i, j])) for g in range(41)]
        assert speed[i, j] == pytest.approx(max(values))
        assert values[best[i, j]] == pytest.approx(max(values))
    # speculation pays (some gamma >= 1 beats plain decoding) exactly when alpha > c (Cor. 3.9)
    assert np.array_equal(best > 0, sd.gain_possible(a, c))


def test_optimal_gamma_with_costly_verification_speculates_less() -> None:
    cheap, _ = sd.optimal_gamma(0.8, 0.05, 32)
    costly, _ = sd.optimal_gamma(0.8, 0.05, 32, verify_ratio=lambda g: 1.0 + 0.2 * g)
    assert costly < cheap


def test_positional_form_reduces_to_eq1_and_handles_varying_acceptance() -> None:
    assert sd.expected_tokens_positional([0.7] * 6) == pytest.approx(float(sd.expected_tokens(0.7, 6)))
    assert sd.expected_tokens_positional([0.9, 0.5, 0.0, 0.9]) == pytest.approx(1 + 0.9 + 0.45)


@pytest.mark.parametrize("gamma", [1, 2, 5, 9])
def test_engine_counter_round_trips_and_never_exceeds_alpha(gamma: int) -> None:
    alpha = np.linspace(0.0, 0.99, 23)
    rate = sd.draft_acceptance_rate(alpha, gamma)
    assert np.all(rate <= alpha + 1e-12)
    if gamma == 1:
        assert np.allclose(rate, alpha)
    else:
        assert np.all(rate[1:] < alpha[1:])
    assert np.allclose(sd.alpha_from_acceptance_rate(rate, gamma), alpha, atol=1e-9)
    tokens = sd.expected_tokens(alpha, gamma)
    assert np.allclose(sd.alpha_from_expected_tokens(tokens, gamma), alpha, atol=1e-9)
    # accepted drafts per step = E[tokens] - 1 = gamma * rate
    assert np.allclose(tokens - 1.0, gamma * rate)


def test_a_known_counter_conversion() -> None:
    # vLLM-style counter 0.6 at gamma 5 means alpha ~ 0.834, not 0.6
    alpha = float(sd.alpha_from_acceptance_rate(0.6, 5))
    assert alpha == pytest.approx(0.8343, abs=1e-4)


def test_acceptance_and_sibling_acceptance_of_explicit_distributions() -> None:
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    assert sd.acceptance_probability(p, q) == pytest.approx(0.7)
    assert np.allclose(sd.residual(p, q), [1.0, 0.0, 0.0])
    positional = sd.sibling_acceptance(p, q, 3)
    assert positional[0] == pytest.approx(0.7)
    assert positional[1] == pytest.approx(0.3 * 0.2)  # residual [1, 0, 0] against q: min = 0.2
    assert positional.sum() <= 1.0
    assert np.allclose(sd.residual(p, p), p)  # no excess mass: the residual is never sampled


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sd.expected_tokens(1.2, 3), "alpha"),
        (lambda: sd.expected_tokens(-0.1, 3), "alpha"),
        (lambda: sd.expected_tokens(0.5, 2.5), "gamma"),
        (lambda: sd.walltime_improvement(0.5, 3, -0.1), "c must be >= 0"),
        (lambda: sd.alpha_from_acceptance_rate(1.5, 3), "acceptance rate"),
        (lambda: sd.alpha_from_expected_tokens(5.0, 3), "mean tokens"),
        (lambda: sd.draft_acceptance_rate(0.5, 0), "gamma >= 1"),
    ],
)
def test_bad_input_raises_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
