"""Token trees: expected tokens, Sequoia's dynamic program against brute force, Medusa's greedy tree."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from planner.cost.speculative import expected_tokens as eq1
from planner.optimize import token_tree as tt

Shape = tuple  # an ordered tree: the tuple of its children's shapes


@cache
def trees(n: int) -> tuple[Shape, ...]:
    """Every ordered tree of n nodes (Catalan(n - 1) of them)."""
    return tuple(forests(n - 1))


@cache
def forests(m: int) -> tuple[Shape, ...]:
    if m == 0:
        return ((),)
    out = []
    for k in range(1, m + 1):
        for first in trees(k):
            for rest in forests(m - k):
                out.append((first, *rest))
    return tuple(out)


def value(shape: Shape, matrix: np.ndarray, depth: int = 0) -> float:
    """F of a shape whose root sits at `depth`; -inf when a child falls outside the matrix."""
    total = 1.0
    for rank, child in enumerate(shape):
        if depth >= matrix.shape[0] or rank >= matrix.shape[1]:
            return -np.inf
        total += matrix[depth, rank] * value(child, matrix, depth + 1)
    return total


def height(shape: Shape) -> int:
    return 0 if not shape else 1 + max(height(child) for child in shape)


def brute_force(matrix: np.ndarray, n: int, depth: int | None) -> float:
    best = -np.inf
    for shape in trees(n):
        if depth is None or height(shape) <= depth:
            best = max(best, value(shape, matrix))
    return best


def test_a_chain_is_leviathans_eq1() -> None:
    for gamma in range(8):
        chain = tt.TokenTree.chain(gamma)
        assert tt.expected_tokens(chain, [0.7]) == pytest.approx(float(eq1(0.7, gamma)))
        tree, tokens = tt.optimal_tree([0.7], gamma + 1)
        assert tree == chain and tokens == pytest.approx(float(eq1(0.7, gamma)))


@pytest.mark.parametrize("seed", range(6))
def test_dp_equals_brute_force_for_positional_acceptance(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(4)) * rng.uniform(0.5, 1.0)  # not sorted: ranks may beat earlier ones
    for n in range(1, 8):
        for depth in (None, 1, 2, 3):
            matrix = np.broadcast_to(p, (n, p.size))
            if np.isinf(brute_force(matrix, n, depth)):  # e.g. 6 nodes of height 1 with 4 ranks
                with pytest.raises(ValueError, match="no tree"):
                    tt.optimal_tree(p, n, depth)
                continue
            tree, tokens = tt.optimal_tree(p, n, depth)
            assert tokens == pytest.approx(brute_force(matrix, n, depth)), (n, depth)
            assert tree.size == n
            assert depth is None or tree.depth <= depth
            assert tt.expected_tokens(tree, p) == pytest.approx(tokens)


@pytest.mark.parametrize("seed", range(4))
def test_dp_equals_brute_force_for_a_per_depth_matrix(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    matrix = rng.uniform(0.0, 0.6, size=(3, 3))
    for n in range(1, 8):
        depth = 3
        tree, tokens = tt.optimal_tree(matrix, n, depth)
        assert tokens == pytest.approx(brute_force(matrix, n, depth)), n
        assert tt.expected_tokens(tree, matrix) == pytest.approx(tokens)


def test_the_table_answers_every_size_and_height() -> None:
    p = [0.6, 0.2, 0.1]
    table = tt.optimal_tree_table(p, 7, depth=4)
    for n in range(1, 8):
        for h in range(5):
            matrix = np.broadcast_to(np.asarray(p), (7, 3))
            expected = brute_force(matrix, n, h)
            got = table.best[h, n]
            assert (got == expected) if np.isinf(expected) else got == pytest.approx(expected)
            if np.isfinite(got):
                assert tt.expected_tokens(table.tree(n, h), p) == pytest.approx(got)


def test_without_a_depth_bound_the_dp_stops_at_a_fixed_point_and_beats_the_chain() -> None:
    p = [0.8, 0.1, 0.05]
    tree, tokens = tt.optimal_tree(p, 64)
    assert tree.size == 64
    assert tokens > tt.expected_tokens(tt.TokenTree.chain(63), p)
    assert tokens < 1.0 / (1.0 - sum(p))  # an infinite tree cannot beat 1 / (1 - sum P)


def test_medusa_greedy_equals_the_exact_optimum_for_decreasing_accuracies() -> None:
    rng = np.random.default_rng(7)
    heads = np.sort(rng.uniform(0.05, 0.7, size=(4, 3)), axis=1)[:, ::-1]
    for size in range(1, 9):
        tree, tokens = tt.medusa_greedy_tree(heads, size)
        assert tree.size == size
        assert tt.expected_tokens(tree, heads) == pytest.approx(tokens)
        assert tokens == pytest.approx(brute_force(heads, size, heads.shape[0]))


def test_medusa_greedy_adds_the_largest_products_first() -> None:
    heads = [[0.6, 0.2], [0.5, 0.1]]
    tree, tokens = tt.medusa_greedy_tree(heads, 4)
    assert tree.paths() == [(), (1,), (1, 1), (2,)]  # 0.6, 0.3, 0.2 (then 0.1 and 0.06)
    assert tokens == pytest.approx(1 + 0.6 + 0.3 + 0.2)


def test_hardware_aware_tree_trades_depth_for_draft_cost() -> None:
    p = [0.8, 0.1, 0.05]
    flat_verify = np.ones(32)
    _, _, cheap = tt.hardware_aware_tree(p, 32, 0.01, flat_verify)
    tree, tokens, costly = tt.hardware_aware_tree(p, 32, 0.5, flat_verify)
    assert costly < cheap
    assert costly == pytest.approx(tokens / (1.0 + tree.depth * 0.5))
    deep, *_ = tt.hardware_aware_tree(p, 32, 0.01, flat_verify)
    assert tree.depth < deep.depth
    # verification that grows with the tree keeps it small
    small, *_ = tt.hardware_aware_tree(p, 32, 0.05, 1.0 + 0.1 * np.arange(32))
    assert small.size < 32


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: tt.optimal_tree([0.8, 0.3], 8), "sums to"),
        (lambda: tt.optimal_tree([1.2], 8), r"\[0, 1\]"),
        (lambda: tt.optimal_tree([0.5], 0), "size"),
        (lambda: tt.medusa_greedy_tree([0.5, 0.2], 4), "matrix"),
        (lambda: tt.TokenTree((-1, 2, 0), (0, 1, 1)), "parent"),
    ],
)
def test_bad_trees_and_acceptances_raise(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
