"""How long one vectorised gemm_time call takes over many GEMM shapes (planner.cost.gemm).

Run: python bench/bench_gemm.py [--shapes 1000000] [--device a100] [--runs 5]

Draws `shapes` random (m, n, k, batch) GEMMs once, then times `runs` calls of gemm_time on them; prints the
median wall and CPU time and the shapes per second.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from planner.cost.gemm import gemm_time
from planner.spec.catalog import find


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=1_000_000)
    parser.add_argument("--device", default="a100")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    device = find("hardware", args.device)
    rng = np.random.default_rng(0)
    m, n, k = (rng.integers(1, 65536, args.shapes) for _ in range(3))
    batch = rng.integers(1, 256, args.shapes)
    walls, cpus = [], []
    for _ in range(args.runs):
        wall, cpu = time.perf_counter(), time.process_time()
        gemm_time(device, "bf16", m, n, k, batch)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    tiles = len(device.gemm_tiles)
    print(f"{args.shapes:,} shapes on {device.name} ({tiles} tile shapes), median of {args.runs} runs:")
    print(f"  wall {wall * 1e3:.1f} ms   cpu {cpu * 1e3:.1f} ms   {args.shapes / wall:,.0f} shapes/s")


if __name__ == "__main__":
    main()
