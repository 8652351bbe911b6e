"""Properties of speculative decoding beyond tests/test_speculative_*: the decode step on hardware
(faster memory or compute never slower; more tokens, sequences or context never faster; verifying
gamma + 1 tokens costs at least one step and more with gamma), speedup <= E[tokens] <= gamma + 1, token
trees (1 <= F(T) <= depth + 1 and F <= size; the optimum grows with size and height) and Sequoia's
hardware-aware choice against a brute force over every (size, height). (Already covered there: Eq. 1
bounds and monotonicity, the optimal gamma and Sequoia's DP against brute force.)"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from planner.cost import speculative as sd
from planner.cost.decode import Placement, step_time, verify_ratios
from planner.optimize import token_tree as tt
from planner.spec.catalog import find

from .strategies import PROPERTY

REL = 1e-12
MODELS = ("gpt2", "gpt2-large", "llama-2-7b", "t5-small")
DEVICE = find("hardware", "a100-sxm4-80gb", ("device",))


@st.composite
def positional(draw: st.DrawFn) -> list[float]:
    """Sequoia's positional acceptance P[1..k], sum <= 1."""
    raw = draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4))
    total = draw(st.floats(0.05, 1.0))
    return [total * x / sum(raw) for x in raw] if sum(raw) > 0 else [total]


@PROPERTY
@given(
    model=st.sampled_from(MODELS), faster=st.floats(1.0, 8.0), which=st.sampled_from(["memory", "compute"])
)
def test_faster_memory_or_compute_never_slows_a_decode_step(model: str, faster: float, which: str) -> None:
    cfg = find("models", model, ("llm",))
    if which == "memory":
        quick = replace(DEVICE, memory_bandwidth=DEVICE.memory_bandwidth * faster)
    else:
        quick = replace(DEVICE, peak_compute={k: v * faster for k, v in DEVICE.peak_compute.items()})
    for tokens in (1, 8, 512):
        base = step_time(cfg, Placement(DEVICE), dtype="bf16", batch=4, tokens=tokens).time_s
        assert step_time(cfg, Placement(quick), dtype="bf16", batch=4, tokens=tokens).time_s <= base * (
            1 + REL
        )


@PROPERTY
@given(
    model=st.sampled_from(MODELS),
    batch=st.integers(1, 64),
    tokens=st.integers(1, 64),
    context=st.integers(0, 4096),
    which=st.sampled_from(["batch", "tokens", "context"]),
)
def test_more_work_never_makes_a_decode_step_faster(
    model: str, batch: int, tokens: int, context: int, which: str
) -> None:
    cfg = find("models", model, ("llm",))
    args = {"batch": batch, "tokens": tokens, "context": context}
    base = step_time(cfg, Placement(DEVICE), dtype="bf16", **args).time_s
    args[which] += 1 + args[which]
    assert step_time(cfg, Placement(DEVICE), dtype="bf16", **args).time_s >= base * (1 - REL)


@PROPERTY
@given(model=st.sampled_from(MODELS), batch=st.integers(1, 32), context=st.integers(0, 2048))
def test_verifying_more_drafts_costs_at_least_one_step_and_never_less(
    model: str, batch: int, context: int
) -> None:
    cfg = find("models", model, ("llm",))
    ratios = verify_ratios(
        cfg, Placement(DEVICE), np.arange(1, 17), dtype="bf16", batch=batch, context=context
    )
    assert np.all(ratios >= 1 - REL)
    assert np.all(np.diff(ratios) >= -REL)


@PROPERTY
@given(
    alpha=st.floats(0.0, 0.999), gamma=st.integers(0, 64), c=st.floats(0.0, 2.0), verify=st.floats(1.0, 4.0)
)
def test_speedup_never_exceeds_the_expected_tokens(alpha: float, gamma: int, c: float, verify: float) -> None:
    # a step costs at least one target step (verify_ratio >= 1, as verify_ratios gives it)
    tokens = float(sd.expected_tokens(alpha, gamma))
    assert float(sd.speedup(alpha, gamma, c, verify)) <= tokens * (1 + REL) <= (gamma + 1) * (1 + 2 * REL)


@st.composite
def trees(draw: st.DrawFn) -> tt.TokenTree:
    """A random rooted tree with consecutive sibling ranks."""
    parents, ranks, kids = [-1], [0], {0: 0}
    for v in range(1, draw(st.integers(1, 12))):
        parent = draw(st.integers(0, v - 1))
        kids[parent] = kids.get(parent, 0) + 1
        parents.append(parent)
        ranks.append(kids[parent])
    return tt.TokenTree(tuple(parents), tuple(ranks))


@PROPERTY
@given(tree=trees(), acceptance=positional())
def test_a_tree_yields_between_one_token_and_one_per_level_plus_one(
    tree: tt.TokenTree, acceptance: list[float]
) -> None:
    tokens = tt.expected_tokens(tree, acceptance)
    assert 1.0 <= tokens <= min(tree.depth + 1, tree.size) * (1 + REL)


@PROPERTY
@given(acceptance=positional(), size=st.integers(1, 10), depth=st.integers(1, 5))
def test_the_optimal_tree_grows_with_size_and_height(acceptance: list[float], size: int, depth: int) -> None:
    best = _best(acceptance, size, depth)
    assume(best is not None)
    for bigger in (_best(acceptance, size + 1, depth), _best(acceptance, size, depth + 1)):
        assert bigger is None or bigger >= best - REL


def _best(acceptance: list[float], size: int, depth: int) -> float | None:
    """The optimal F, or None where the DP has no tree: it never gives a node more children than the
    acceptance vector has ranks (a further child would be accepted with probability 0)."""
    try:
        return tt.optimal_tree(acceptance, size, depth)[1]
    except ValueError:
        return None


@PROPERTY
@given(
    acceptance=positional(),
    max_size=st.integers(1, 8),
    c=st.floats(0.0, 0.5),
    depth=st.integers(1, 4),
    data=st.data(),
)
def test_hardware_aware_tree_is_the_best_size_and_height(
    acceptance, max_size: int, c: float, depth: int, data
) -> None:  # type: ignore[no-untyped-def]
    steps = sorted(data.draw(st.lists(st.floats(1.0, 3.0), min_size=max_size, max_size=max_size)))
    tree, tokens, speed = tt.hardware_aware_tree(acceptance, max_size, c, steps, depth)
    scores = [
        value / (steps[n - 1] + d * c)
        for n in range(1, max_size + 1)
        for d in range(0 if n == 1 else 1, depth + 1)  # n >= 2 nodes need a height >= 1
        if (value := _best(acceptance, n, d)) is not None
    ]
    best = max(scores)
    assert speed == pytest.approx(best, rel=1e-9)
    assert tt.expected_tokens(tree, acceptance) == pytest.approx(tokens, rel=1e-9)
    assert speed == pytest.approx(tokens / (steps[tree.size - 1] + tree.depth * c), rel=1e-9)
