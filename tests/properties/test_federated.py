"""Properties of the federated round model that tests/test_federated.py does not state: faster links and
faster devices never lengthen a round, slower clients never shorten it nor bring more updates by a
deadline, and the expected round lies between the fastest and the slowest client. (Already covered there:
the closed form against enumeration and Monte Carlo, more selected clients never end a round sooner.)"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.cost import federated as fl
from planner.cost import federated_clients as fl_clients
from planner.cost.compute import layer_arrays
from planner.spec.fleet import ClientClass, Fleet, Server, Variation, members
from planner.spec.hardware import Device, Link
from planner.spec.profile import Layer, ModelProfile

from .strategies import PROPERTY

REL = 1e-9
ARRAYS = layer_arrays(
    ModelProfile(
        spec="profile",
        name="m",
        per="sample",
        layers=(Layer(name="all", forward_flops=1e9 / 3, backward_flops=2e9 / 3, parameters=1_000_000),),
    )
)
WORK = fl_clients.Workload(epochs=1, batch=10, download_bytes=4e6, upload_bytes=4e6)


@st.composite
def fleets(draw: st.DrawFn) -> Fleet:
    """Two to three classes of a few clients, with spread, and sometimes a server whose link is shared."""
    classes = []
    for k in range(draw(st.integers(1, 3))):
        device = Device(
            spec="device",
            name=f"d{k}",
            kind="cpu",
            peak_compute={"fp32": draw(st.floats(1e9, 1e12))},
            memory=1e12,
            memory_bandwidth=draw(st.floats(1e9, 1e11)),
        )
        up = Link(bandwidth=draw(st.floats(1e5, 1e8)), latency=draw(st.floats(0, 0.1)))
        down = Link(bandwidth=draw(st.floats(1e5, 1e8)), latency=draw(st.floats(0, 0.1)))
        vary = Variation(compute_sigma=draw(st.floats(0, 1)), bandwidth_sigma=draw(st.floats(0, 1)))
        classes.append(
            ClientClass(
                f"c{k}", draw(st.integers(1, 5)), device, up, down, draw(st.integers(1, 500)), vary=vary
            )
        )
    server = None
    if draw(st.booleans()):
        server = Server(link=Link(bandwidth=draw(st.floats(1e6, 1e9)), latency=draw(st.floats(0, 0.05))))
    return Fleet(spec="fleet", name="f", classes=tuple(classes), server=server, seed=draw(st.integers(0, 9)))


def round_times(fleet: Fleet, concurrent: int) -> list[float]:
    times = fl_clients.client_times(
        fleet, members(fleet), fl_clients.class_step_times(fleet, ARRAYS, WORK), WORK, concurrent
    )
    return [float(t) for t in times.total_s]


def faster(fleet: Fleet, links: float, compute: float) -> Fleet:
    """Every client link `links` times faster, every device `compute` times faster."""
    classes = tuple(
        replace(
            c,
            uplink=replace(c.uplink, bandwidth=c.uplink.bandwidth * links),
            downlink=replace(c.downlink, bandwidth=c.downlink.bandwidth * links),
            device=replace(c.device, peak_compute={k: v * compute for k, v in c.device.peak_compute.items()}),
        )
        for c in fleet.classes
    )
    return replace(fleet, classes=classes)


@PROPERTY
@given(fleet=fleets(), links=st.floats(1.0, 10.0), compute=st.floats(1.0, 10.0), data=st.data())
def test_faster_links_and_devices_never_lengthen_a_round(
    fleet: Fleet, links: float, compute: float, data
) -> None:  # type: ignore[no-untyped-def]
    k = fleet.total_clients
    m = data.draw(st.integers(1, k))
    base, quick = round_times(fleet, m), round_times(faster(fleet, links, compute), m)
    assert all(q <= b * (1 + REL) for q, b in zip(quick, base, strict=True))
    assert fl.expected_round(quick, m).time_s <= fl.expected_round(base, m).time_s * (1 + REL)


@PROPERTY
@given(
    times=st.lists(st.floats(0.1, 100.0), min_size=1, max_size=8),
    slower=st.lists(st.floats(1.0, 3.0), min_size=8, max_size=8),
    availability=st.floats(0.3, 1.0),
    data=st.data(),
)
def test_slower_clients_never_shorten_a_round_nor_add_updates(times, slower, availability, data) -> None:  # type: ignore[no-untyped-def]
    m = data.draw(st.integers(1, len(times)))
    target = data.draw(st.integers(1, m))
    deadline = data.draw(st.one_of(st.none(), st.floats(0.5, 150.0)))
    late = [t * s for t, s in zip(times, slower, strict=False)]
    base = fl.expected_round(times, m, target, availability, deadline)
    slow = fl.expected_round(late, m, target, availability, deadline)
    assert slow.time_s >= base.time_s * (1 - REL)
    assert slow.updates <= base.updates * (1 + REL) + 1e-12


@PROPERTY
@given(times=st.lists(st.floats(0.1, 100.0), min_size=1, max_size=10), data=st.data())
def test_a_round_lies_between_the_fastest_and_the_slowest_client(times: list[float], data) -> None:  # type: ignore[no-untyped-def]
    m = data.draw(st.integers(1, len(times)))
    target = data.draw(st.integers(1, m))
    expectation = fl.expected_round(times, m, target)
    assert min(times) * (1 - REL) <= expectation.time_s <= max(times) * (1 + REL)
    assert expectation.updates == pytest.approx(
        target
    )  # everyone reports, no deadline: exactly the first `target`
