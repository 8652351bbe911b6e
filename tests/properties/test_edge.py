"""Properties of the edge-inference planners beyond tests/test_adcnn.py and test_edge_*.py: ADCNN's exact
assignment is never slower with faster links or faster boards; Neurosurgeon's chosen split equals a
brute force that costs every split point from the per-layer model times one by one, and a faster uplink
never makes the best split slower; HeteroFL's level assignment equals a brute force over the levels.
(Already covered there: the ILP against brute force, more boards never slower, greedy never better.)"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.cost.edge_baselines import wan_link
from planner.cost.edge_model import from_architecture, model_time
from planner.cost.heterofl import assign_levels
from planner.cost.neurosurgeon import split_sweep
from planner.optimize.adcnn import solve
from planner.optimize.adcnn_problem import AssignmentProblem
from planner.spec.catalog import find

from .strategies import PROPERTY

REL = 1e-9


@st.composite
def problems(draw: st.DrawFn) -> AssignmentProblem:
    boards, classes = draw(st.integers(1, 3)), draw(st.integers(1, 2))

    def matrix(low: float, high: float) -> np.ndarray:
        return np.array(
            draw(st.lists(st.floats(low, high), min_size=boards * classes, max_size=boards * classes))
        ).reshape(boards, classes)

    return AssignmentProblem(
        compute=matrix(0.1, 2.0),
        scatter=matrix(0.0, 0.5),
        gather=matrix(0.0, 0.2),
        latency=np.array(draw(st.lists(st.floats(0, 0.05), min_size=boards, max_size=boards))),
        counts=np.array(
            draw(st.lists(st.integers(1, 3), min_size=classes, max_size=classes)), dtype=np.int64
        ),
        shared=draw(st.booleans()),
    )


@PROPERTY
@given(problem=problems(), links=st.floats(1.0, 5.0), boards=st.floats(1.0, 5.0))
def test_adcnn_is_never_slower_with_faster_links_or_boards(
    problem: AssignmentProblem, links: float, boards: float
) -> None:
    base = solve(problem, "cbc").timeline.makespan
    quick_links = AssignmentProblem(
        problem.compute,
        problem.scatter / links,
        problem.gather / links,
        problem.latency,
        problem.counts,
        problem.shared,
    )
    quick_boards = AssignmentProblem(
        problem.compute / boards,
        problem.scatter,
        problem.gather,
        problem.latency,
        problem.counts,
        problem.shared,
    )
    for faster in (quick_links, quick_boards):
        assert solve(faster, "cbc").timeline.makespan <= base * (1 + 1e-6)


@cache
def _setup():  # type: ignore[no-untyped-def]
    cloud = find("hardware", "cloud-v100")
    return (
        from_architecture(find("models", "alexnet")),
        find("hardware", "raspberry-pi-3b-plus"),
        cloud.device,
        wan_link(cloud),
    )


def brute_split(model, mobile, cloud, link, uplink: float) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """(best split, its latency) by costing each split k on its own (Neurosurgeon, ASPLOS 2017 Sec. 5)."""
    n = model.size
    best = (0, np.inf)
    for k in range(n + 1):
        latency = model_time(model, mobile, 0, k)
        if k < n:
            latency += link.latency + model.crossing_bytes(k) / uplink + model_time(model, cloud, k, n)
            latency += link.latency + float(model.output_bytes[-1]) / link.effective_bandwidth
        if latency < best[1] * (1 - 1e-12):  # ties: the earliest split, as split_sweep's argmin
            best = (k, latency)
    return best


@PROPERTY
@given(uplink=st.floats(1e4, 1e10), faster=st.floats(1.0, 100.0))
def test_neurosurgeon_split_equals_brute_force_and_a_faster_uplink_never_hurts(
    uplink: float, faster: float
) -> None:
    model, mobile, cloud, link = _setup()
    sweep = split_sweep(model, mobile, cloud, link, [uplink, uplink * faster])
    best = sweep.best()
    expected, latency = brute_split(model, mobile, cloud, link, uplink)
    assert int(best[0]) == expected
    assert sweep.latency_s[0, best[0]] == pytest.approx(latency, rel=REL)
    assert sweep.latency_s[1, best[1]] <= sweep.latency_s[0, best[0]] * (1 + REL)


@PROPERTY
@given(
    levels=st.integers(1, 5),
    clients=st.integers(1, 6),
    deadline=st.one_of(st.none(), st.floats(1.0, 50.0)),
    data=st.data(),
)
def test_heterofl_gives_each_client_the_widest_level_that_fits(
    levels: int, clients: int, deadline, data
) -> None:  # type: ignore[no-untyped-def]
    # levels from the widest: memory and time shrink with the level (as the widths do)
    memory = np.sort(
        np.array(
            data.draw(st.lists(st.floats(1e6, 1e9), min_size=levels * clients, max_size=levels * clients))
        ).reshape(levels, clients),
        axis=0,
    )[::-1]
    times = np.sort(
        np.array(
            data.draw(st.lists(st.floats(0.5, 60.0), min_size=levels * clients, max_size=levels * clients))
        ).reshape(levels, clients),
        axis=0,
    )[::-1]
    budget = np.array(data.draw(st.lists(st.floats(1e6, 1e9), min_size=clients, max_size=clients)))
    got = assign_levels(times, memory, budget, deadline)
    for j in range(clients):
        fitting = [
            p + 1
            for p in range(levels)
            if memory[p, j] <= budget[j] and (deadline is None or times[p, j] <= deadline)
        ]
        assert got[j] == (min(fitting) if fitting else 0)
