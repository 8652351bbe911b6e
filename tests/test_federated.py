"""Round cost model of federated learning: order statistics against enumeration, Monte Carlo against the
closed form, client times, FedProx, CMFL, bytes and totals."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cost import federated as fl
from planner.cost import federated_clients as fl_clients
from planner.cost import order_statistics as fl_order
from planner.cost.compute import layer_arrays
from planner.spec.fleet import ClientClass, Fleet, Server, Variation, members
from planner.spec.hardware import Device, Link
from planner.spec.profile import Layer, ModelProfile

DEVICE = Device(
    spec="device",
    name="d",
    kind="cpu",
    peak_compute={"fp32": 1e10},
    memory=1e12,
    memory_bandwidth=1e12,
    compute_efficiency=1.0,  # the by-hand figures below take the peaks as sustained
    memory_efficiency=1.0,
)
LINK = Link(bandwidth=1.25e6, latency=0.01)
ARRAYS = layer_arrays(
    ModelProfile(
        spec="profile",
        name="m",
        per="sample",
        layers=(Layer(name="all", forward_flops=1e9 / 3, backward_flops=2e9 / 3, parameters=1_000_000),),
    )
)
WORK = fl_clients.Workload(epochs=1, batch=10, download_bytes=4e6, upload_bytes=4e6)


def fleet(*classes: ClientClass, server: Server | None = None, seed: int = 0) -> Fleet:
    return Fleet(spec="fleet", name="f", classes=classes, server=server, seed=seed)


def group(name: str = "c", count: int = 10, **kw: object) -> ClientClass:
    return ClientClass(name, count, DEVICE, LINK, LINK, 100, **kw)  # type: ignore[arg-type]


def times_of(f: Fleet, work: fl_clients.Workload = WORK, concurrent: int = 1) -> fl_clients.ClientTimes:
    return fl_clients.client_times(
        f, members(f), fl_clients.class_step_times(f, ARRAYS, work), work, concurrent
    )


def brute_round(times, selected, target, deadline):  # type: ignore[no-untyped-def]
    """Mean over every subset: the target-th report, capped by the deadline; updates on time."""
    ends, got = [], []
    for subset in itertools.combinations(times, selected):
        ranked = sorted(subset)
        end = ranked[target - 1] if deadline is None else min(deadline, ranked[target - 1])
        ends.append(end)
        got.append(sum(1 for t in ranked[:target] if t <= end))
    return float(np.mean(ends)), float(np.mean(got))


def test_local_steps_and_transfer_time() -> None:
    assert fl_clients.local_steps(5, 600, 10) == pytest.approx(300)
    assert fl_clients.transfer_time(4e6, 1.25e6, 0.01) == pytest.approx(3.21)
    with pytest.raises(ValueError):
        fl_clients.local_steps(1, 10, 0)


def test_client_time_by_hand() -> None:
    t = times_of(fleet(group()))
    assert t.download_s == pytest.approx(3.21)
    assert t.step_s == pytest.approx(1.00002)  # 1e10 FLOP / 1e10 + 2e7 bytes of SGD update / 1e12
    assert t.total_s == pytest.approx(3.21 + 10.0002 + 3.21)


def test_measured_speed_and_speed_factor_divide_the_step() -> None:
    slow = times_of(fleet(group(compute=1e9)))
    assert slow.step_s == pytest.approx(10.00002)
    varied = fleet(group(count=200, vary=Variation(compute_sigma=0.5)), seed=3)
    t = times_of(varied)
    crowd = members(varied)
    assert np.allclose(t.step_s * crowd.speed, 1.00002)


def test_fedprox_adds_one_vector_operation_per_step() -> None:
    base = times_of(fleet(group()))
    prox = times_of(fleet(group()), fl_clients.Workload(1, 10, 4e6, 4e6, prox=True))
    extra = fl_clients.prox_time(1_000_000, "fp32", DEVICE)
    assert extra == pytest.approx(max(3e6 / 1e10, 16e6 / 1e12))
    assert prox.step_s - base.step_s == pytest.approx(extra)


def test_server_link_is_shared_by_concurrent_downloads() -> None:
    server = Server(link=Link(bandwidth=5e6))
    one = times_of(fleet(group(), server=server), concurrent=1)
    ten = times_of(fleet(group(), server=server), concurrent=10)
    assert one.download_s == pytest.approx(3.21)  # the client's 1.25e6 B/s binds
    assert ten.download_s == pytest.approx(0.01 + 4e6 / 5e5)  # 5e6 / 10 binds
    assert ten.upload_s == pytest.approx(one.upload_s)


def test_pmf_is_a_distribution_and_max_matches_enumeration() -> None:
    for population, sample in [(5, 1), (7, 3), (12, 12), (1000, 100)]:
        for rank in {1, sample}:
            assert fl_order.order_statistic_pmf(population, sample, rank).sum() == pytest.approx(1.0)
    times = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]
    brute = np.mean([max(s) for s in itertools.combinations(times, 3)])
    assert fl_order.expected_max(times, 3) == pytest.approx(brute)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.1, 100, allow_nan=False), min_size=1, max_size=7),
    st.data(),
)
def test_closed_form_round_matches_enumeration(times: list[float], data: st.DataObject) -> None:
    selected = data.draw(st.integers(1, len(times)))
    target = data.draw(st.integers(1, selected))
    deadline = data.draw(st.one_of(st.none(), st.floats(0.1, 100)))
    result = fl.expected_round(times, selected, target, deadline=deadline)
    end, got = brute_round(times, selected, target, deadline)
    assert result.time_s == pytest.approx(end, rel=1e-9, abs=1e-9)
    assert result.updates == pytest.approx(got, rel=1e-9, abs=1e-9)


CASES = [
    {},
    {"deadline": 2.0},
    {"target": 15},
    {"availability": 0.7, "deadline": 3.0, "target": 17},
    {"availability": 0.8, "deadline": 1.5, "arrival": "partial"},
]


@pytest.mark.parametrize("case", CASES)
def test_monte_carlo_agrees_with_closed_form(case: dict) -> None:
    times = np.random.default_rng(1).lognormal(size=200)
    kw = dict(case)
    if kw.get("arrival") == "partial":
        kw["arrival"] = times * 0.3
    exact = fl.expected_round(times, 20, **kw)
    mc = fl.monte_carlo_round(times, 20, trials=6000, seed=2, **kw)
    assert abs(mc.time_s - exact.time_s) <= 4 * mc.time_stderr_s + 1e-9
    assert abs(mc.updates - exact.updates) <= 4 * mc.updates_stderr + 1e-9


def test_monte_carlo_is_deterministic_and_handles_heterogeneous_availability() -> None:
    times = np.linspace(1, 10, 10)
    availability = np.array([1.0] * 5 + [0.5] * 5)
    a = fl.monte_carlo_round(times, 5, availability=availability, trials=500, seed=7)
    b = fl.monte_carlo_round(times, 5, availability=availability, trials=500, seed=7)
    assert a == b
    assert a.updates == pytest.approx(5 * 0.75, abs=4 * a.updates_stderr)


def test_cmfl_skips_uploads_of_irrelevant_updates() -> None:
    times = np.full(10, 10.0)
    upload = np.full(10, 4.0)
    none = fl.monte_carlo_round(times, 10, relevant=0.0, upload_s=upload, trials=50)
    assert none.time_s == pytest.approx(6.0) and none.updates == 0 and none.reports == 10
    half = fl.monte_carlo_round(times, 10, relevant=0.5, upload_s=upload, trials=4000)
    assert half.updates == pytest.approx(5, abs=4 * half.updates_stderr)
    assert fl.cmfl_upload_savings(10, 4e6, 0.25) == pytest.approx(3e7)
    assert fl.cmfl_relevance([1, -1, 2, 3], [1, 1, 1, -1]) == 0.5


def test_partial_work_counts_clients_that_finish_one_step() -> None:
    t = np.array([5.0, 50.0])
    arrival = np.array([2.0, 8.0])  # the straggler gets a partial update in by the deadline
    full = fl.expected_round(t, 2, deadline=10.0)
    partial = fl.expected_round(t, 2, deadline=10.0, arrival=arrival)
    assert full.updates == pytest.approx(1) and partial.updates == pytest.approx(2)
    assert full.time_s == partial.time_s == pytest.approx(10.0)


def test_more_selected_clients_never_end_the_round_sooner() -> None:
    times = np.random.default_rng(4).lognormal(size=60)
    rounds = [fl_order.expected_max(times, m) for m in range(1, 61)]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(rounds))
    assert rounds[-1] == pytest.approx(times.max())


def test_aggregation_bytes_and_totals() -> None:
    assert fl.aggregation_time(0, 10, "fp32", DEVICE) == 0
    agg = fl.aggregation_time(10, 1_000_000, "fp32", DEVICE)
    assert agg == pytest.approx(max(2e7 / 1e10, 11 * 4e6 / 1e12))
    moved = fl.round_bytes(13, 9.5, WORK)
    assert moved.download == 13 * 4e6 and moved.upload == 9.5 * 4e6
    totals = fl.training_totals(100, 2.5, moved.total)
    assert totals.time_s == 250 and totals.bytes == pytest.approx(100 * moved.total)
    assert fl.clients_per_round(0.1, 100) == 10 and fl.clients_per_round(0.0, 100) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: fl.expected_round([1, 2], 3),
        lambda: fl.expected_round([1, 2], 2, target=3),
        lambda: fl.expected_round([1, 2], 2, availability=0),
        lambda: fl.expected_round([1, 2], 2, deadline=-1),
        lambda: fl.expected_round([1, 2], 2, arrival=[1, 1]),
        lambda: fl.expected_round([1, 2], 2, 1, deadline=5, arrival=[1, 1]),
        lambda: fl.monte_carlo_round([1, 2], 2, relevant=0.5),
        lambda: fl.monte_carlo_round([1, 2], 2, trials=1),
        lambda: fl_clients.Workload(0, 1, 1, 1),
        lambda: fl_order.order_statistic_pmf(3, 4, 1),
    ],
)
def test_bad_arguments_raise_value_error(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()


def test_expected_round_of_one_client_is_its_time() -> None:
    assert fl.expected_round([7.5], 1).time_s == 7.5
    assert math.isclose(fl.expected_round([7.5, 7.5, 7.5], 2).time_s, 7.5)
