"""Data-parallel iteration time: buckets, overlap, speedup and efficiency, memory, cost.

A stand-in all-reduce (ring over the slowest level used: 2(N-1)/N·S / bandwidth + 2(N-1)·latency) keeps
these tests independent of planner.cost.collectives; tests/test_cli_dp.py runs the real one.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cost.compute import layer_arrays
from planner.cost.data_parallel import Setup, evaluate
from planner.cost.dp_buckets import DDP_BUCKET_BYTES, assign_buckets, gradient_ready_times, simulate_iteration
from planner.cost.dp_scaling import per_device_batch, plan, scaling_sizes
from planner.cost.layers import derive_profile
from planner.errors import InfeasibleError
from planner.spec.catalog import find
from planner.spec.hardware import Cluster


def standin(cluster: Cluster, size: float, algorithm: str, devices: int) -> Any:
    """Ring over the outermost level used; 'slow' is twice as slow, 'broken' refuses."""
    if algorithm == "broken":
        raise ValueError("does not apply")
    level = cluster.levels[-1] if devices > cluster.devices_per_server else cluster.levels[0]
    link = level.link
    time = 2 * (devices - 1) / devices * size / link.effective_bandwidth + 2 * (devices - 1) * link.latency
    time *= 2.0 if algorithm == "slow" else 1.0
    return SimpleNamespace(
        algorithm=algorithm,
        time_s=time,
        lower_bound_s=time / 2,
        bytes_sent_per_device=2 * (devices - 1) / devices * size,
        busiest_link=level.name,
        notes=["stand-in ring"],
        to_dict=lambda: {},
    )


@pytest.fixture(scope="module")
def vgg_setup() -> Setup:
    arrays = layer_arrays(derive_profile(find("models", "vgg16"), 1))
    return Setup(arrays, find("hardware", "pipedream-cluster-b"))


@pytest.fixture(scope="module")
def resnet_setup() -> Setup:
    arrays = layer_arrays(derive_profile(find("models", "resnet50"), 1))
    return Setup(arrays, find("hardware", "big-basin"))


def test_buckets_fill_in_reverse_layer_order() -> None:
    sizes = [10, 0, 30, 5, 5, 40]
    buckets = assign_buckets(sizes, 25)
    assert buckets == [(5,), (4, 3, 2), (0,)]  # layer 1 has no gradient
    assert sum(sizes[i] for b in buckets for i in b) == sum(sizes)
    assert assign_buckets(sizes, 1e9) == [(5, 4, 3, 2, 0)]
    with pytest.raises(ValueError):
        assign_buckets(sizes, 0)


def test_gradients_are_ready_in_reverse_order() -> None:
    ready = gradient_ready_times(1.0, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(ready, [1.6, 1.5, 1.3])


def test_one_device_synchronises_nothing() -> None:
    it = simulate_iteration([1.0, 2.0], [2.0, 4.0], [100.0, 200.0], 0.5, None)
    assert it.sync_total_s == 0 and it.sync_exposed_s == 0 and it.buckets == ()
    assert it.iteration_s == pytest.approx(9.5)


def test_overlap_hides_all_but_the_last_bucket() -> None:
    # two layers, each its own bucket; sync 1 s per bucket; backward 3 s then 3 s.
    kw = {"bucket_bytes": 1.0}
    overlapped = simulate_iteration([1.0, 1.0], [3.0, 3.0], [1.0, 1.0], 0.0, lambda s: 1.0, **kw)
    # layer 1's gradient is ready at 2 + 3 = 5, its sync runs 5..6; layer 0's at 8, sync 8..9.
    assert overlapped.sync_total_s == pytest.approx(2.0)
    assert overlapped.sync_exposed_s == pytest.approx(1.0)
    assert overlapped.iteration_s == pytest.approx(9.0)
    serial = simulate_iteration([1.0, 1.0], [3.0, 3.0], [1.0, 1.0], 0.0, lambda s: 1.0, overlap=False, **kw)
    assert serial.sync_exposed_s == pytest.approx(2.0)
    assert serial.iteration_s == pytest.approx(10.0)


@settings(max_examples=60, deadline=None)
@given(
    layers=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1e8)), min_size=1, max_size=30),
    bandwidth=st.floats(1e6, 1e11),
    latency=st.floats(0, 1e-3),
    bucket=st.floats(1e5, 1e9),
    factor=st.floats(1.0, 10.0),
)
def test_overlap_and_bandwidth_never_slow_an_iteration(
    layers: list[tuple[float, float, float]], bandwidth: float, latency: float, bucket: float, factor: float
) -> None:
    fwd, bwd, grads = (np.array(col) for col in zip(*layers, strict=True))

    def sync(bw: float):
        return lambda size: latency + size / bw

    on = simulate_iteration(fwd, bwd, grads, 0.1, sync(bandwidth), overlap=True, bucket_bytes=bucket)
    off = simulate_iteration(fwd, bwd, grads, 0.1, sync(bandwidth), overlap=False, bucket_bytes=bucket)
    fast = simulate_iteration(fwd, bwd, grads, 0.1, sync(bandwidth * factor), bucket_bytes=bucket)
    tol = 1e-9 * (1 + off.iteration_s)
    assert on.iteration_s <= off.iteration_s + tol
    assert fast.iteration_s <= on.iteration_s + tol
    assert 0 <= on.sync_exposed_s <= on.sync_total_s + tol
    assert off.sync_exposed_s == pytest.approx(off.sync_total_s)
    assert on.iteration_s >= on.compute_s + on.update_s - tol


def test_speedup_never_exceeds_n_weak_and_strong(vgg_setup: Setup) -> None:
    for n in scaling_sizes(vgg_setup.cluster):
        weak = evaluate(vgg_setup, n, 32, "ring", standin)
        assert weak.global_batch == 32 * n
        assert weak.speedup <= n * (1 + 1e-12)
        assert 0 < weak.scaling_efficiency <= 1 + 1e-12
        strong = evaluate(vgg_setup, n, per_device_batch(512, n), "ring", standin, global_batch=512)
        assert strong.global_batch == 512
        assert strong.speedup <= n * (1 + 1e-12)
    one = evaluate(vgg_setup, 1, 32, "ring", standin)
    assert one.iteration.sync_total_s == 0 and one.speedup == pytest.approx(1.0)
    assert one.algorithm == "none"


def test_more_network_bandwidth_is_never_slower(vgg_setup: Setup) -> None:
    cluster = vgg_setup.cluster
    top = cluster.levels[-1]
    times = []
    for factor in (0.5, 1.0, 4.0, 100.0):
        link = dataclasses.replace(top.link, bandwidth=top.link.bandwidth * factor)
        faster = dataclasses.replace(
            cluster, levels=(*cluster.levels[:-1], dataclasses.replace(top, link=link))
        )
        times.append(
            evaluate(dataclasses.replace(vgg_setup, cluster=faster), 16, 32, "ring", standin).iteration_s
        )
    assert times == sorted(times, reverse=True)
    assert times[0] > times[-1]


def test_overlap_is_never_slower_on_a_real_model(vgg_setup: Setup) -> None:
    on = evaluate(vgg_setup, 16, 32, "ring", standin)
    off = evaluate(dataclasses.replace(vgg_setup, overlap=False), 16, 32, "ring", standin)
    assert on.iteration_s < off.iteration_s
    assert on.iteration.sync_total_s == pytest.approx(off.iteration.sync_total_s)
    assert off.iteration.sync_exposed_s == pytest.approx(off.iteration.sync_total_s)


def test_gradient_bytes_follow_the_dtype(resnet_setup: Setup) -> None:
    fp32 = evaluate(resnet_setup, 8, 32, "ring", standin)
    assert fp32.gradient_bytes == 25_557_032 * 4
    mixed = evaluate(dataclasses.replace(resnet_setup, dtype="fp16"), 8, 32, "ring", standin)
    assert mixed.gradient_bytes == 25_557_032 * 2
    assert mixed.memory.master_weights_bytes == 25_557_032 * 4
    assert mixed.iteration.compute_s < fp32.iteration.compute_s


def test_bucket_count_follows_the_bucket_size(resnet_setup: Setup) -> None:
    default = evaluate(resnet_setup, 16, 32, "ring", standin)
    assert DDP_BUCKET_BYTES == 25 * 2**20
    assert len(default.iteration.buckets) == 4  # 97.5 MiB of gradients in >= 25 MiB buckets
    whole = evaluate(dataclasses.replace(resnet_setup, bucket_bytes=1e12), 16, 32, "ring", standin)
    assert len(whole.iteration.buckets) == 1


def test_cost_per_iteration_and_epoch(vgg_setup: Setup) -> None:
    r = evaluate(vgg_setup, 16, 32, "ring", standin)
    assert r.servers == 2
    assert r.cost_per_iteration_usd == pytest.approx(2 * 24.48 * r.iteration_s / 3600)
    assert r.iterations_per_epoch == -(-1_281_167 // 512)
    assert r.cost_per_epoch_usd == pytest.approx(r.cost_per_iteration_usd * r.iterations_per_epoch)
    no_price = evaluate(
        dataclasses.replace(vgg_setup, cluster=find("hardware", "big-basin")), 8, 32, "ring", standin
    )
    assert no_price.cost_per_iteration_usd is None and no_price.cost_per_epoch_usd is None


def test_plan_picks_the_fastest_algorithm_and_skips_those_that_fail(vgg_setup: Setup) -> None:
    p = plan(vgg_setup, 16, 32, ("slow", "broken", "ring"), standin)
    assert p.result.algorithm == "ring"
    assert p.options["broken"].error and "does not apply" in p.options["broken"].error
    assert p.options["slow"].result is not None
    assert p.options["slow"].result.iteration_s > p.result.iteration_s
    assert "next best slow" in p.reason
    assert [r.devices for r in p.weak] == [1, 2, 4, 8, 16]
    assert p.weak[-1].iteration_s == pytest.approx(p.result.iteration_s)
    assert all(r.global_batch == 512 for r in p.strong)
    assert any("stand-in ring" in note for note in p.notes)


def test_strong_scaling_plan_splits_the_global_batch(vgg_setup: Setup) -> None:
    p = plan(vgg_setup, 16, 500, ("ring",), standin, strong_scaling=True)
    assert p.result.batch_per_device == 32  # ceil(500 / 16)
    assert p.result.global_batch == 500
    assert p.strong[-1].speedup == pytest.approx(p.result.speedup)


def test_a_model_that_does_not_fit_is_infeasible(vgg_setup: Setup) -> None:
    with pytest.raises(
        InfeasibleError, match=r"does not fit: .* GiB per device needed .* v100-sxm2-16gb has 16\.00 GiB"
    ):
        plan(vgg_setup, 16, 512, ("ring",), standin)


def test_bad_sizes_are_refused(vgg_setup: Setup) -> None:
    with pytest.raises(ValueError, match=r"devices must be in 1\.\.16"):
        evaluate(vgg_setup, 0, 32, "ring", standin)
    with pytest.raises(ValueError, match="per-device batch"):
        evaluate(vgg_setup, 2, 0, "ring", standin)
    with pytest.raises(ValueError, match="cannot be split"):
        plan(vgg_setup, 16, 8, ("ring",), standin, strong_scaling=True)


def test_scaling_sizes() -> None:
    assert scaling_sizes(find("hardware", "pipedream-cluster-b")) == [1, 2, 4, 8, 16]
    assert scaling_sizes(find("hardware", "pipedream-cluster-a").with_top_count(3)) == [1, 2, 4, 8, 12]
    assert scaling_sizes(find("hardware", "big-basin")) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert scaling_sizes(find("hardware", "pi-cluster")) == [1, 2, 4, 8, 9]


def test_with_the_real_collectives_bandwidth_and_overlap_never_hurt(resnet_setup: Setup) -> None:
    from planner.cost.data_parallel import all_algorithms, default_collective

    cluster = resnet_setup.cluster.with_top_count(4)
    top = cluster.levels[-1]
    for algorithm in all_algorithms():
        times = []
        for factor in (0.25, 1.0, 4.0):
            link = dataclasses.replace(top.link, bandwidth=top.link.bandwidth * factor)
            faster = dataclasses.replace(
                cluster, levels=(*cluster.levels[:-1], dataclasses.replace(top, link=link))
            )
            setup = dataclasses.replace(resnet_setup, cluster=faster)
            on = evaluate(setup, 32, 32, algorithm, default_collective)
            off = evaluate(dataclasses.replace(setup, overlap=False), 32, 32, algorithm, default_collective)
            assert on.iteration_s <= off.iteration_s, algorithm
            assert on.speedup <= 32
            times.append(on.iteration_s)
        assert times == sorted(times, reverse=True), algorithm
