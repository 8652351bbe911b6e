"""MoDNN: biased partition over workers with data delivery time."""

from __future__ import annotations

import pytest

from planner.cost.edge_model import from_architecture, model_time
from planner.cost.modnn import modnn, speed_shares
from planner.spec.catalog import find
from planner.spec.hardware import Link


@pytest.fixture(scope="module")
def vgg():
    return from_architecture(find("models", "vgg16"))


def test_one_worker_is_one_device(vgg) -> None:
    pi = find("hardware", "raspberry-pi-3b-plus")
    result = modnn(vgg, [pi], Link(bandwidth=1e6))
    assert result.speedup == pytest.approx(1.0)
    assert result.delivery_s == 0.0
    assert result.total_s == pytest.approx(model_time(vgg, pi))


def test_compute_splits_and_delivery_grows(vgg) -> None:
    pi = find("hardware", "raspberry-pi-3b-plus")
    link = find("hardware", "pi-cluster").levels[-1].link
    results = [modnn(vgg, [pi] * n, link) for n in (2, 3, 4)]
    for n, r in zip((2, 3, 4), results, strict=True):
        assert r.compute_s == pytest.approx(r.single_s / n, rel=0.02)
    assert results[0].delivery_s < results[1].delivery_s < results[2].delivery_s


def test_free_delivery_is_at_most_linear(vgg) -> None:
    pi = find("hardware", "raspberry-pi-3b-plus")
    fast = Link(bandwidth=1e15, latency=0.0)
    for n in (2, 4):
        speedup = modnn(vgg, [pi] * n, fast).speedup
        assert 0.9 * n < speedup <= n + 1e-9


def test_shares_follow_speed() -> None:
    pi3 = find("hardware", "raspberry-pi-3b-plus")
    pi4 = find("hardware", "raspberry-pi-4b")
    shares = speed_shares([pi3, pi4], "fp32")
    assert shares.sum() == pytest.approx(1.0)
    assert shares[1] > shares[0]


def test_bad_input(vgg) -> None:
    with pytest.raises(ValueError, match="at least one"):
        modnn(vgg, [], Link(bandwidth=1e6))
    pi = find("hardware", "raspberry-pi-3b-plus")
    with pytest.raises(ValueError, match="partition"):
        modnn(vgg, [pi, pi], Link(bandwidth=1e6), "3d")
