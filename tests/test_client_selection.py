"""Client selection: the ILP against brute force and the threshold algorithm, the baselines, properties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.optimize import client_selection as cs

client = st.tuples(st.floats(0.5, 500), st.floats(0, 1), st.floats(0, 5e9))


def problem(
    clients: list[tuple[float, float, float]], weights: tuple[float, float, float], low: int, high: int
):  # type: ignore[no-untyped-def]
    t, u, b = (np.array(column, dtype=float) for column in zip(*clients, strict=True))
    return cs.SelectionProblem(t, u, b, *weights, low, high)


def brute_force(p: cs.SelectionProblem) -> float:
    best = -np.inf
    for size in range(p.min_clients, p.max_clients + 1):
        for chosen in itertools.combinations(range(len(p.round_s)), size):
            index = list(chosen)
            value = cs.objective(p, p.utility[index].sum(), p.round_s[index].max(), p.bytes[index].sum())
            best = max(best, value)
    return float(best)


weights = st.tuples(st.floats(0, 100), st.floats(0, 1), st.floats(0, 2))


@settings(max_examples=15, deadline=None)
@given(st.lists(client, min_size=1, max_size=8), weights, st.data())
def test_ilp_equals_brute_force_and_thresholds(clients, w, data) -> None:  # type: ignore[no-untyped-def]
    low = data.draw(st.integers(1, len(clients)))
    high = data.draw(st.integers(low, len(clients)))
    p = problem(clients, w, low, high)
    best = brute_force(p)
    ilp = cs.solve_ilp(p)
    assert ilp.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    assert cs.solve_by_thresholds(p).objective == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert low <= ilp.clients <= high
    assert ilp.round_s == pytest.approx(max(p.round_s[list(ilp.chosen)]))


@settings(max_examples=15, deadline=None)
@given(st.lists(client, min_size=2, max_size=40), weights, st.data())
def test_ilp_is_never_below_the_baselines(clients, w, data) -> None:  # type: ignore[no-untyped-def]
    m = data.draw(st.integers(1, len(clients)))
    low = data.draw(st.integers(1, m))
    high = data.draw(st.integers(m, len(clients)))
    p = problem(clients, w, low, high)
    ilp = cs.solve_ilp(p)
    for baseline in (cs.fastest(p, m), cs.random_expected(p, m)):
        assert ilp.objective >= baseline.objective - 1e-6 * max(1.0, abs(baseline.objective))


@settings(max_examples=40, deadline=None)
@given(st.lists(client, min_size=1, max_size=30), weights, client, st.floats(0, 1), st.data())
def test_adding_a_faster_client_never_slows_the_optimal_round(clients, w, extra, fraction, data) -> None:  # type: ignore[no-untyped-def]
    low = data.draw(st.integers(1, len(clients)))
    high = data.draw(st.integers(low, len(clients)))
    before = cs.solve_by_thresholds(problem(clients, w, low, high))
    faster = (before.round_s * fraction, extra[1], extra[2])  # no slower than the optimal round
    after = cs.solve_by_thresholds(problem([*clients, faster], w, low, high))
    assert after.round_s <= before.round_s + 1e-9
    assert after.objective >= before.objective - 1e-9


def test_adding_a_faster_client_to_the_ilp_on_a_fleet_sized_example() -> None:
    rng = np.random.default_rng(5)
    t, u, b = rng.lognormal(3, 1, 300), rng.random(300) / 300, rng.lognormal(20, 0.3, 300)
    before = cs.solve_ilp(cs.SelectionProblem(t, u, b, 100.0, 0.1, 1.0, 10, 60))
    quick = np.append(t, before.round_s / 2)
    after = cs.solve_ilp(
        cs.SelectionProblem(quick, np.append(u, u.mean()), np.append(b, b.mean()), 100.0, 0.1, 1.0, 10, 60)
    )
    assert after.round_s <= before.round_s + 1e-9


def test_baselines_by_hand() -> None:
    p = cs.SelectionProblem(
        np.array([1.0, 1.0, 1.0, 1.0, 10.0]), np.full(5, 0.2), np.full(5, 1e9), 10.0, 1.0, 1.0, 2, 2
    )
    fastest = cs.fastest(p, 2)
    assert fastest.chosen == (0, 1) and fastest.round_s == 1.0
    assert fastest.objective == pytest.approx(10 * 0.4 - 1.0 - 2.0)
    random = cs.random_expected(p, 2)
    assert random.round_s == pytest.approx(4.6) and random.expected
    assert random.objective == pytest.approx(10 * 0.4 - 4.6 - 2.0)


def test_latency_weight_zero_selects_by_value_only() -> None:
    p = cs.SelectionProblem(
        np.array([1.0, 100.0, 5.0]), np.array([0.1, 0.9, 0.5]), np.zeros(3), 1.0, 0.0, 0.0, 1, 3
    )
    assert cs.solve_ilp(p).chosen == (0, 1, 2)
    p = cs.SelectionProblem(
        np.array([1.0, 100.0, 5.0]), np.array([0.1, 0.9, 0.5]), np.zeros(3), 1.0, 0.01, 0.0, 1, 3
    )
    assert cs.solve_ilp(p).chosen == (0, 2)


def test_data_utility_is_the_expected_share_of_samples() -> None:
    assert list(cs.data_utility([100, 300], [1.0, 0.5])) == pytest.approx([0.25, 0.375])


@pytest.mark.parametrize(
    "kw",
    [
        {"min_clients": 0},
        {"max_clients": 4},
        {"min_clients": 3, "max_clients": 2},
        {"w_latency": -1.0},
        {"round_s": np.array([1.0, np.nan, 1.0])},
    ],
)
def test_bad_problems_raise(kw: dict) -> None:
    base = {
        "round_s": np.ones(3),
        "utility": np.ones(3),
        "bytes": np.ones(3),
        "w_utility": 1.0,
        "w_latency": 1.0,
        "w_bytes": 1.0,
        "min_clients": 1,
        "max_clients": 3,
    }
    with pytest.raises(ValueError):
        cs.SelectionProblem(**{**base, **kw})
    with pytest.raises(ValueError):
        cs.fastest(cs.SelectionProblem(**base), 4)
