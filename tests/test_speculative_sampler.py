"""The real lossless samplers: Monte Carlo checks of losslessness and of the closed forms, fixed seeds.

Every statistical test runs at significance 0.001 (a correct sampler fails it with probability 0.001;
with fixed seeds the outcome is deterministic). A deliberately broken sampler must fail the same test.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.cost import speculative as sd
from planner.optimize import token_tree as tt
from planner.sampling import rejection
from planner.sampling.bigram import BigramLM, random_bigram
from planner.sampling.checks import chi_square_test, mean_test, sequence_codes
from planner.sampling.generate import generate
from planner.sampling.montecarlo import run_checks

LEVEL = 0.001


def law_test(target: BigramLM, draft: BigramLM, rng: np.random.Generator, **how: object):
    generated = generate(target, draft, 3, 20000, rng, **how)
    codes = sequence_codes(generated.sequences, 3, target.vocab)
    return chi_square_test(codes, target.sequence_probabilities(3), LEVEL)


@pytest.mark.parametrize(("seed", "gamma", "vocab"), [(1, 1, 4), (2, 3, 5), (3, 6, 3)])
def test_algorithm1_output_has_the_target_law(seed: int, gamma: int, vocab: int) -> None:
    rng = np.random.default_rng(seed)
    target, draft = random_bigram(vocab, rng), random_bigram(vocab, rng, concentration=0.5)
    outcome = law_test(target, draft, rng, gamma=gamma)
    assert outcome.passed, outcome


def test_a_draft_without_mass_where_the_target_has_some_is_still_lossless() -> None:
    rng = np.random.default_rng(4)
    target = BigramLM.context_free([0.4, 0.3, 0.2, 0.1])
    draft = BigramLM.context_free([0.0, 0.5, 0.5, 0.0])  # token 0 and 3 only come from the residual
    assert law_test(target, draft, rng, gamma=3).passed


def test_the_test_has_power_a_resample_from_p_bug_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    target, draft = random_bigram(4, rng), random_bigram(4, rng)
    monkeypatch.setattr(rejection, "residual", lambda p, q: p)  # the classic bug: resample from p
    outcome = law_test(target, draft, rng, gamma=3)
    assert not outcome.passed and outcome.p_value < 1e-6


def test_drafts_without_verification_fail() -> None:
    rng = np.random.default_rng(6)
    target, draft = random_bigram(4, rng), random_bigram(4, rng)
    generated = generate(draft, draft, 3, 20000, rng, gamma=3)
    codes = sequence_codes(generated.sequences, 3, 4)
    assert not chi_square_test(codes, target.sequence_probabilities(3), LEVEL).passed


@pytest.mark.parametrize(("seed", "gamma"), [(7, 2), (8, 5)])
def test_mean_tokens_per_step_equal_eq1_at_alpha_beta(seed: int, gamma: int) -> None:
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    generated = generate(BigramLM.context_free(p), BigramLM.context_free(q), 24, 4000, rng, gamma=gamma)
    alpha = float(sd.acceptance_probability(p, q))
    outcome = mean_test(generated.step_tokens, float(sd.expected_tokens(alpha, gamma)), LEVEL)
    assert outcome.passed, outcome


def test_position_dependent_acceptance_matches_the_positional_form() -> None:
    rng = np.random.default_rng(9)
    gamma, vocab, n = 4, 5, 40000
    p = rng.dirichlet(np.ones(vocab), size=gamma + 1)
    q = rng.dirichlet(np.ones(vocab), size=gamma)
    drafts = np.stack([rng.choice(vocab, size=n, p=q[i]) for i in range(gamma)], axis=1)
    step = rejection.verify_chain(
        np.broadcast_to(p, (n, *p.shape)), np.broadcast_to(q, (n, *q.shape)), drafts, rng
    )
    betas = sd.acceptance_probability(p[:gamma], q)
    assert mean_test(step.counts, float(sd.expected_tokens_positional(betas)), LEVEL).passed
    # and the first emitted token has law p_1
    assert chi_square_test(step.tokens[:, 0], p[0], LEVEL).passed


def test_zero_drafts_sample_the_target() -> None:
    rng = np.random.default_rng(10)
    p = np.array([[0.1, 0.6, 0.3]])
    step = rejection.verify_chain(
        np.repeat(p[None], 5000, 0), np.zeros((5000, 0, 3)), np.zeros((5000, 0), int), rng
    )
    assert np.all(step.counts == 1)
    assert chi_square_test(step.tokens[:, 0], p[0], LEVEL).passed


@pytest.mark.parametrize("seed", [11, 12])
def test_specinfer_tree_sampling_is_lossless(seed: int) -> None:
    rng = np.random.default_rng(seed)
    target, draft = random_bigram(4, rng), random_bigram(4, rng, concentration=0.5)
    tree, _ = tt.optimal_tree([0.5, 0.2, 0.1], 9)
    assert tree.depth < tree.size - 1  # a real tree, with siblings
    assert law_test(target, draft, rng, tree=tree).passed


def test_tree_mean_tokens_equal_sequoia_f_with_sibling_acceptance() -> None:
    rng = np.random.default_rng(13)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    positional = sd.sibling_acceptance(p, q, 3)
    tree, value = tt.optimal_tree(positional, 8)
    generated = generate(BigramLM.context_free(p), BigramLM.context_free(q), 20, 4000, rng, tree=tree)
    assert mean_test(generated.step_tokens, value, LEVEL).passed


def test_a_chain_shaped_tree_agrees_with_algorithm1() -> None:
    rng = np.random.default_rng(14)
    p, q = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    target, draft = BigramLM.context_free(p), BigramLM.context_free(q)
    chain = generate(target, draft, 20, 4000, rng, gamma=3)
    tree = generate(target, draft, 20, 4000, rng, tree=tt.TokenTree.chain(3))
    expected = float(sd.expected_tokens(float(sd.acceptance_probability(p, q)), 3))
    assert mean_test(chain.step_tokens, expected, LEVEL).passed
    assert mean_test(tree.step_tokens, expected, LEVEL).passed


def test_the_packaged_check_passes() -> None:
    report = run_checks(
        gamma=3, vocab=4, explicit=None, tree_size=6, trials=8000, length=2, significance=LEVEL, seed=15
    )
    assert len(report["tests"]) == 4 and all(t["passed"] for t in report["tests"])


@pytest.mark.parametrize(
    ("p", "q", "message"),
    [
        ([[[0.5, 0.6]] * 2], [[[0.5, 0.5]]], "p rows must sum to 1"),
        ([[[0.5, 0.5]] * 2], [[[-0.5, 1.5]]], "q has negative"),
        ([[[0.5, 0.5]] * 3], [[[0.5, 0.5]]], "shapes"),
    ],
)
def test_p_and_q_must_be_distributions(p, q, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rejection.verify_chain(np.array(p), np.array(q), np.zeros((1, 1), int), np.random.default_rng(0))
