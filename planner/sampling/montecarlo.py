"""The Monte Carlo check of the speculative samplers against the target law and the closed forms.

Four tests (planner.sampling.checks), each at the stated significance:

1. chain, lossless: sequences from Algorithm 1 with bigram target and draft models have the target's
   joint law of their first L tokens (chi-square);
2. chain, mean tokens: with context-free p and q, beta = sum min(p, q) is the same at every position, so
   the mean tokens per step must equal Leviathan's Eq. 1 at alpha = beta (z-test);
3. tree, lossless: the same as 1 with SpecInfer's multi-step sampling on a token tree;
4. tree, mean tokens: with context-free p and q the i-th candidate is accepted with a probability that
   depends only on i (planner.cost.speculative.sibling_acceptance), so the mean must equal Sequoia's
   F(T) of the tree under that positional vector (z-test). The tree is Sequoia's optimum for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.cost.speculative import acceptance_probability, expected_tokens, sibling_acceptance
from planner.optimize import token_tree
from planner.sampling.bigram import BigramLM, random_bigram
from planner.sampling.checks import chi_square_test, mean_test, sequence_codes
from planner.sampling.generate import generate


def run_checks(
    *,
    gamma: int,
    vocab: int,
    explicit: tuple[list[float], list[float]] | None,
    tree_size: int,
    trials: int,
    length: int,
    significance: float,
    seed: int,
) -> dict[str, Any]:
    """Run the checks; a plain dict report (tests, the alpha and tree used, notes)."""
    rng = np.random.default_rng(seed)
    if explicit is not None:
        p, q = (np.asarray(d, dtype=float) for d in explicit)
        target, draft = BigramLM.context_free(p), BigramLM.context_free(q)
        vocab = p.shape[0]
    else:
        target, draft = random_bigram(vocab, rng), random_bigram(vocab, rng)
        p, q = rng.dirichlet(np.ones(vocab)), rng.dirichlet(np.ones(vocab))
    flat_target, flat_draft = BigramLM.context_free(p), BigramLM.context_free(q)
    law = target.sequence_probabilities(length)
    alpha = float(acceptance_probability(p, q))
    # enough steps for `trials` step samples: each sequence of 4 (gamma + 1) tokens takes >= 4 steps
    steps_length = 4 * (gamma + 1)
    sequences = max(1, trials // 4)
    tests = []

    chain = generate(target, draft, length, trials, rng, gamma=gamma)
    codes = sequence_codes(chain.sequences, length, vocab)
    tests.append(chi_square_test(codes, law, significance, f"chain, gamma {gamma}: law = target"))
    flat = generate(flat_target, flat_draft, steps_length, sequences, rng, gamma=gamma)
    closed = float(expected_tokens(alpha, gamma))
    tests.append(mean_test(flat.step_tokens, closed, significance, "chain: mean = Eq. 1"))

    tree_report = None
    if tree_size > 1:
        positional = sibling_acceptance(p, q, min(tree_size - 1, vocab))
        tree, value = token_tree.optimal_tree(positional, tree_size)
        tree_gen = generate(target, draft, length, trials, rng, tree=tree)
        codes = sequence_codes(tree_gen.sequences, length, vocab)
        tests.append(chi_square_test(codes, law, significance, f"tree, {tree_size} nodes: law = target"))
        flat_tree = generate(flat_target, flat_draft, 4 * (tree.depth + 1), sequences, rng, tree=tree)
        tests.append(mean_test(flat_tree.step_tokens, value, significance, "tree: mean = F(T)"))
        tree_report = {
            "size": tree.size,
            "depth": tree.depth,
            "parents": list(tree.parents),
            "ranks": list(tree.ranks),
            "positional_acceptance": positional.tolist(),
            "expected_tokens": value,
        }
    return {
        "seed": seed,
        "vocab": vocab,
        "gamma": gamma,
        "trials": trials,
        "length": length,
        "significance": significance,
        "alpha": alpha,
        "expected_tokens_closed_form": closed,
        "expected_tokens_measured": flat.mean_tokens_per_step,
        "tree": tree_report,
        "tests": [t.to_dict() for t in tests],
        "notes": [
            "lossless: Pearson chi-square of the first L tokens' joint law against the target's exact law "
            "(bigram models; cells with expected count < 5 pooled)",
            "mean tokens: z-test against the closed form with context-free p, q "
            f"(alpha = sum min(p, q) = {alpha:.4f})",
            f"a correct sampler fails each test with probability {significance:g}",
        ],
    }
