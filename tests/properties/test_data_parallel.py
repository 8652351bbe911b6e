"""Properties of the data-parallel iteration model that tests/test_data_parallel.py does not state: slower
compute (longer layers, or a device with a lower peak) never gives a shorter iteration, and under weak
scaling more devices on the ring never give a shorter one. (Already covered there: bandwidth and overlap
never hurt, speedup <= N, the fastest algorithm is chosen.)"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from planner.cost.compute import layer_arrays
from planner.cost.data_parallel import Setup, default_collective, evaluate
from planner.cost.dp_buckets import simulate_iteration
from planner.cost.layers import derive_profile
from planner.spec.catalog import find

from .strategies import PROPERTY, clusters

REL = 1e-9
layers = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1e8)), min_size=1, max_size=20)


@PROPERTY
@given(
    layers=layers,
    bandwidth=st.floats(1e6, 1e11),
    latency=st.floats(0, 1e-3),
    bucket=st.floats(1e5, 1e9),
    slower=st.floats(1.0, 10.0),
    overlap=st.booleans(),
)
def test_longer_layers_never_shorten_an_iteration(
    layers, bandwidth, latency, bucket, slower, overlap
) -> None:  # type: ignore[no-untyped-def]
    fwd, bwd, grads = (np.array(col) for col in zip(*layers, strict=True))

    def sync(size: float) -> float:
        return latency + size / bandwidth

    base = simulate_iteration(fwd, bwd, grads, 0.1, sync, overlap=overlap, bucket_bytes=bucket)
    slow = simulate_iteration(
        fwd * slower, bwd * slower, grads, 0.1, sync, overlap=overlap, bucket_bytes=bucket
    )
    assert slow.iteration_s >= base.iteration_s * (1 - REL)


@cache
def _alexnet():  # type: ignore[no-untyped-def]
    return layer_arrays(derive_profile(find("models", "alexnet"), 1))


@PROPERTY
@given(
    cluster=clusters(),
    slower=st.floats(1.0, 8.0),
    batch=st.integers(1, 64),
    algorithm=st.sampled_from(["ring", "tree", "hierarchical"]),
)
def test_a_device_with_a_lower_peak_never_shortens_an_iteration(cluster, slower, batch, algorithm) -> None:  # type: ignore[no-untyped-def]
    device = cluster.device
    weaker = replace(device, peak_compute={k: v / slower for k, v in device.peak_compute.items()})
    n = cluster.total_devices
    fast = evaluate(Setup(_alexnet(), cluster), n, batch, algorithm, default_collective)
    slow = evaluate(
        Setup(_alexnet(), replace(cluster, device=weaker)), n, batch, algorithm, default_collective
    )
    assert slow.iteration_s >= fast.iteration_s * (1 - REL)


@PROPERTY
@given(cluster=clusters(max_per_server=4), batch=st.integers(1, 64), data=st.data())
def test_weak_scaling_on_the_ring_never_shortens_the_iteration(cluster, batch, data) -> None:  # type: ignore[no-untyped-def]
    total = cluster.total_devices
    n = data.draw(st.integers(1, total))
    m = data.draw(st.integers(n, total))
    setup = Setup(_alexnet(), cluster)
    few = evaluate(setup, n, batch, "ring", default_collective)
    many = evaluate(setup, m, batch, "ring", default_collective)
    assert many.iteration_s >= few.iteration_s * (1 - REL)
    assert many.throughput <= m / n * few.throughput * (1 + REL)  # never better than linear scaling
