"""GPipe balance: the exact contiguous K-way split against brute force, ties, bad input, advice."""

from __future__ import annotations

import itertools
import random

import pytest

from planner.optimize.balance import balance, microbatch_advice, profile_weights
from planner.spec.profile import Layer, ModelProfile


def brute_force(weights: list[float], stages: int) -> float:
    """Min over every split into `stages` non-empty contiguous stages of the largest stage sum."""
    n = len(weights)
    best = float("inf")
    for cuts in itertools.combinations(range(1, n), stages - 1):
        bounds = (0, *cuts, n)
        best = min(best, max(sum(weights[a:b]) for a, b in itertools.pairwise(bounds)))
    return best


def dynamic_program(weights: list[float], stages: int) -> float:
    """O(K·n²) reference for chains too long to enumerate."""
    n = len(weights)
    prefix = [0.0, *itertools.accumulate(weights)]
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(stages + 1)]
    best[0][0] = 0.0
    for k in range(1, stages + 1):
        for j in range(k, n + 1):
            best[k][j] = min(max(best[k - 1][i], prefix[j] - prefix[i]) for i in range(k - 1, j))
    return best[stages][n]


def check_split(weights: list[float], stages: int) -> None:
    result = balance(weights, stages)
    assert len(result.sizes) == stages and min(result.sizes) >= 1
    assert result.boundaries[0] == 0 and result.boundaries[-1] == len(weights)
    sums = [sum(weights[a:b]) for a, b in result.ranges]
    assert max(sums) == pytest.approx(result.bottleneck, rel=1e-12, abs=1e-12)
    assert result.stage_sums == pytest.approx(sums, rel=1e-12, abs=1e-12)


def test_matches_brute_force_on_small_integer_chains() -> None:
    rng = random.Random(7)
    for _ in range(600):
        n = rng.randint(1, 10)
        stages = rng.randint(1, n)
        weights = [rng.choice([0, 1, 2, 3, 5, 8, 100, 1000]) for _ in range(n)]
        assert balance(weights, stages).bottleneck == brute_force(weights, stages)  # exact: integers
        check_split(weights, stages)


def test_matches_brute_force_on_small_float_chains() -> None:
    rng = random.Random(11)
    for _ in range(600):
        n = rng.randint(1, 10)
        stages = rng.randint(1, n)
        weights = [rng.expovariate(1.0) * 1e-3 for _ in range(n)]
        assert balance(weights, stages).bottleneck == pytest.approx(brute_force(weights, stages), rel=1e-12)
        check_split(weights, stages)


def test_matches_dynamic_program_on_longer_chains() -> None:
    rng = random.Random(3)
    for n, stages in [(60, 7), (80, 16), (40, 40), (50, 1)]:
        weights = [rng.randint(0, 50) for _ in range(n)]
        assert balance(weights, stages).bottleneck == dynamic_program(weights, stages)


def test_ties_are_broken_left_greedy() -> None:
    assert balance([1, 1, 1, 1], 2).boundaries == (0, 2, 4)
    assert balance([1, 1, 1], 2).boundaries == (0, 2, 3)
    assert balance([2, 1, 1, 2], 3).boundaries == (0, 1, 3, 4)
    # zero-weight layers: the earlier stages take as much as the bottleneck allows, none is empty
    zeros = balance([0, 0, 0, 0, 5], 3)
    assert zeros.bottleneck == 5 and zeros.boundaries == (0, 3, 4, 5)
    assert balance([0.0] * 6, 6).sizes == (1,) * 6


def test_one_stage_and_one_layer_per_stage() -> None:
    assert balance([3, 1, 4], 1).sizes == (3,)
    assert balance([3, 1, 4], 3).bottleneck == 4


@pytest.mark.parametrize(
    ("weights", "stages"), [([1, 2], 3), ([1, 2], 0), ([1, -2], 1), ([1, float("nan")], 1), ([], 1)]
)
def test_bad_input_raises(weights: list[float], stages: int) -> None:
    with pytest.raises(ValueError):
        balance(weights, stages)


def test_profile_weights_by_time_and_memory() -> None:
    profile = ModelProfile(
        spec="profile",
        name="toy",
        per="minibatch",
        layers=(
            Layer(name="input", is_input=True),
            Layer(name="a", forward_time=1e-3, backward_time=2e-3, parameters=10),
            Layer(name="b", forward_time=3e-3, backward_time=6e-3, parameters=30),
        ),
    )
    assert profile_weights(profile, "time") == pytest.approx([0.0, 3e-3, 9e-3])
    assert profile_weights(profile, "memory") == [0.0, 40.0, 120.0]  # fp32
    assert balance(profile_weights(profile, "time"), 2).boundaries == (0, 2, 3)
    with pytest.raises(ValueError):
        profile_weights(profile, "flops")


def test_microbatch_advice() -> None:
    advice = microbatch_advice(4)
    assert advice.minimum_microbatches == advice.microbatches == 16
    assert advice.bubble_fraction == pytest.approx(3 / 19)
    sized = microbatch_advice(4, minibatch=96)
    assert sized.microbatches == 16 and sized.microbatch_size == 6
    odd = microbatch_advice(4, minibatch=34)
    assert odd.microbatches == 17 and odd.microbatch_size == 2  # the smallest divisor >= 16
    short = microbatch_advice(8, minibatch=20)
    assert short.microbatches == 20 and short.microbatch_size == 1 and "cannot" in short.note
