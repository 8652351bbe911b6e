"""PEARL's Markov chain (planner.cost.pearl) against a replay of the paper's own control flow
(smart-lty/ParallelSpeculativeDecoding, src/engine.py, parallel_speculative_decoding) with i.i.d.
acceptances of probability alpha: the expected tokens per target step must agree within Monte Carlo error."""

from __future__ import annotations

import numpy as np
import pytest

from planner.cost.pearl import pearl_speedup


def replay_pearl(alpha: float, gamma: int, c: float, rounds: int, seed: int) -> float:
    """Tokens per target step of engine.py's loop: pre-verify (cur_mode True) checks the first draft and
    emits one token; on acceptance it switches to post-verify, which checks gamma tokens and emits all
    gamma, or n + 1 at the first rejection n and switches back. A round lasts max(1, gamma c)."""
    rng = np.random.default_rng(seed)
    pre_verify, tokens = True, 0
    for _ in range(rounds):
        if pre_verify:
            tokens += 1
            pre_verify = not rng.random() < alpha
            continue
        accepted = rng.random(gamma) < alpha
        rejected = np.flatnonzero(~accepted)
        if rejected.size:
            tokens += int(rejected[0]) + 1
            pre_verify = True
        else:
            tokens += gamma
    return tokens / (rounds * max(1.0, gamma * c))


@pytest.mark.parametrize(
    ("alpha", "gamma", "c"), [(0.8, 5, 0.2), (0.6, 3, 1 / 3), (0.9, 4, 0.25), (0.8, 20, 0.05)]
)
def test_chain_matches_the_papers_control_flow(alpha: float, gamma: int, c: float) -> None:
    rounds = 200_000
    replayed = replay_pearl(alpha, gamma, c, rounds, seed=7)
    predicted = float(pearl_speedup(alpha, gamma, c))
    # tokens per round are bounded by gamma: the mean's standard error is at most gamma / sqrt(rounds)
    assert abs(replayed - predicted) < 5 * gamma / np.sqrt(rounds) / max(1.0, gamma * c)


def test_pearl_beats_sd_at_the_papers_c_but_not_at_small_c() -> None:
    from planner.cost.speculative import walltime_improvement

    def best_sd(alpha: float, c: float) -> float:
        return max(float(walltime_improvement(alpha, g, c)) for g in range(1, 65))

    assert float(pearl_speedup(0.8, 5, 0.2)) > best_sd(0.8, 0.2)
    assert float(pearl_speedup(0.8, 20, 0.05)) < best_sd(0.8, 0.05)


def test_paper_setting_evaluator_inverts_eq1_at_the_codes_count() -> None:
    """pearl_paper_setting reads alpha back from vanilla SD's mean accepted drafts (engine.py counts the
    accepted drafts of a round, Eq. 1's tokens minus the target's own token) and c from two tok/s."""
    from planner.validate.evaluators import Context
    from planner.validate.evaluators.speculative import pearl_paper_setting

    alpha, sd_gamma = 0.9, 6
    accepted = sum(alpha**i for i in range(1, sd_gamma + 1))  # 0.9 + 0.81 + ... + 0.9^6 = 4.217031
    setup = {
        "sd_mean_accepted": accepted,
        "sd_gamma": sd_gamma,
        "gamma": 3,
        "draft_tokens_per_s": 75.0,
        "target_tokens_per_s": 25.0,
    }
    expected = float(pearl_speedup(alpha, 3, 25.0 / 75.0))
    ctx = Context(data_dir=None)
    assert pearl_paper_setting(setup, ctx) == pytest.approx(expected, rel=1e-9)
    per_second = pearl_paper_setting({**setup, "report": "tokens_per_s"}, ctx)
    assert per_second == pytest.approx(expected * 25.0, rel=1e-9)
    with pytest.raises(ValueError, match="report"):
        pearl_paper_setting({**setup, "report": "latency"}, ctx)
