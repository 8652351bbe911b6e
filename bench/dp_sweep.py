"""Benchmark: how fast the data-parallel model evaluates (iterations per second) and plans.

Run: python bench/dp_sweep.py [--repeat 3]

Reports
* layer times: roofline of every layer of ResNet-50 for a vector of batches (numpy, one call);
* iterations: (batch, N, algorithm) points of planner.cost.data_parallel.evaluate per second with the real
  all-reduce models, ResNet-50 on big-basin (256 GPUs, per-layer or 25 MiB buckets);
* plans: wall time of `plan` (every algorithm, weak and strong tables) for vgg16 on pipedream-cluster-b and
  resnet50 on big-basin.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

import numpy as np

from planner.cost import data_parallel as dp
from planner.cost.compute import layer_arrays, roofline_time
from planner.cost.dp_buckets import DDP_BUCKET_BYTES
from planner.cost.dp_scaling import plan, scaling_sizes
from planner.cost.layers import derive_profile
from planner.spec.catalog import find


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """Smallest wall seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    resnet = layer_arrays(derive_profile(find("models", "resnet50"), 1))
    device = find("hardware", "p100-sxm2-16gb")
    batches = np.arange(1, 1025, dtype=float)[:, None]
    flops = resnet.forward_flops[None, :] * batches
    moved = resnet.output_bytes[None, :] * batches
    seconds = best_of(args.repeat, lambda: roofline_time(flops, moved, device, "fp32"))
    rate = flops.size / seconds
    print(f"roofline: {flops.size:,} layer-batch points in {seconds * 1e3:.2f} ms = {rate:,.0f} /s")

    big_basin = find("hardware", "big-basin")
    for label, bucket in (("per-layer buckets", 1.0), ("25 MiB buckets", DDP_BUCKET_BYTES)):
        setup = dp.Setup(resnet, big_basin, bucket_bytes=bucket)
        points = list(itertools.product((16, 32, 64), scaling_sizes(big_basin), dp.all_algorithms()))

        def sweep(setup: dp.Setup = setup, points: list = points) -> None:
            for batch, n, algorithm in points:
                dp.evaluate(setup, n, batch, algorithm, dp.default_collective)

        seconds = best_of(args.repeat, sweep)
        print(
            f"iterations ({label}): {len(points)} (batch, N, algorithm) points in {seconds:.3f} s "
            f"= {len(points) / seconds:,.0f} /s"
        )

    for model, cluster in (("vgg16", "pipedream-cluster-b"), ("resnet50", "big-basin")):
        setup = dp.Setup(layer_arrays(derive_profile(find("models", model), 1)), find("hardware", cluster))
        n = setup.cluster.total_devices
        seconds = best_of(
            args.repeat, lambda s=setup, n=n: plan(s, n, 32, dp.all_algorithms(), dp.default_collective)
        )
        what = f"{n} devices, all algorithms, weak + strong tables"
        print(f"plan {model} on {cluster} ({what}): {seconds * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
