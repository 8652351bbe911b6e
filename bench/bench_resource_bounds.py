"""Benchmark: resource bounds on huge inputs (a 100,000-layer profile, a 100,000-device cluster).

Each command runs in a fresh child process (`python -m planner ... --format json`, output discarded)
under a wall-clock limit and an address-space cap; the table gives its exit code, wall time, peak RSS
(the child's own ru_maxrss, from os.wait4) and the first line it wrote to stderr. The claim checked: every
command either answers (exit 0) or refuses with one line naming the limit (exit 1 or 2) within the time
stated in planner/optimize/limits.py, and memory stays bounded.

Inputs, generated into a temporary folder:
* a per-minibatch profile of --layers layers (a plain chain: times, parameters, output bytes per layer;
  seeded, so every run gets the same file);
* a cluster of --devices V100s, 8 per server joined by NVLink, servers joined by 25 GbE;
* for the big cluster, a 5-layer profile; for the big profile, one 4-GPU server (pipedream-cluster-a).

Run (repository root): PYTHONPATH=. python bench/bench_resource_bounds.py [--layers 100000]
    [--devices 100000] [--timeout 600] [--memory-cap-gib 8] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from planner.optimize import limits

REPO = Path(__file__).resolve().parents[1]

SMALL = """\
spec: profile
name: five
per: minibatch
batch_size: 32
layers:
  - {name: conv1, forward_time: 4 ms, backward_time: 8 ms, parameters: 10000, output_bytes: 8 MiB}
  - {name: conv2, forward_time: 6 ms, backward_time: 12 ms, parameters: 40000, output_bytes: 4 MiB}
  - {name: conv3, forward_time: 6 ms, backward_time: 12 ms, parameters: 90000, output_bytes: 2 MiB}
  - {name: fc1, forward_time: 1 ms, backward_time: 2 ms, parameters: 20000000, output_bytes: 16 KiB}
  - {name: fc2, forward_time: 0.5 ms, backward_time: 1 ms, parameters: 4000000, output_bytes: 4 KiB}
"""


def write_profile(path: Path, layers: int, seed: int = 0) -> None:
    """A plain chain of `layers` layers with seeded random figures, written line by line."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write(f"spec: profile\nname: chain-{layers}\nper: minibatch\nbatch_size: 32\nlayers:\n")
        for i in range(layers):
            out.write(
                f"  - {{name: l{i}, forward_time: {rng.uniform(0.1, 2):.3f} ms, "
                f"backward_time: {rng.uniform(0.2, 4):.3f} ms, parameters: {rng.randrange(0, 2000)}, "
                f"output_bytes: {rng.uniform(1, 64):.1f} KiB}}\n"
            )


def write_graph(path: Path, layers: int, seed: int = 0) -> None:
    """The same kind of chain as a PipeDream graph.txt (an Input node, then Linear nodes, one edge each)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write(
            "node0 -- Input0 -- forward_compute_time=0.000, backward_compute_time=0.000, "
            "activation_size=4096.0, parameter_size=0.0\n"
        )
        for i in range(1, layers):
            out.write(
                f"node{i} -- Linear{i} -- forward_compute_time={rng.uniform(0.1, 2):.3f}, "
                f"backward_compute_time={rng.uniform(0.2, 4):.3f}, "
                f"activation_size={rng.randrange(1024, 65536)}.0, "
                f"parameter_size={4 * rng.randrange(0, 2000)}.0\n"
            )
        for i in range(1, layers):
            out.write(f"\tnode{i - 1} -- node{i}\n")


def write_cluster(path: Path, devices: int) -> None:
    per_server = 8
    servers = max(1, devices // per_server)
    path.write_text(
        f"spec: cluster\nname: big-{servers * per_server}\ndevice: v100-sxm2-16gb\nlevels:\n"
        f"  - {{name: gpu, count: {per_server}, link: {{bandwidth: 150 GB/s, latency: 2 us}}}}\n"
        f"  - {{name: server, count: {servers}, link: {{bandwidth: 25 Gbps, latency: 10 us}}}}\n",
        encoding="utf-8",
    )


def run_child(argv: list[str], timeout: float, cap_bytes: int) -> tuple[int | None, float, float, str]:
    """(exit code or None on timeout, wall seconds, peak RSS MiB, first stderr line) of one command."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120"}
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "planner", *argv, "--format", "json"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=REPO,
            preexec_fn=limit,
        )
        code: int | None = None
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - start > timeout:
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
        child.returncode = code if code is not None else -9  # reaped here: keep Popen from waiting again
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    peak_mib = usage.ru_maxrss / 1024  # kilobytes on Linux
    message = lines[-1] if lines else ""
    return code, wall, peak_mib, message


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layers", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per command")
    parser.add_argument("--memory-cap-gib", type=float, default=8.0, help="address-space cap per command")
    parser.add_argument("--only", default="", help="run only the commands whose label contains this")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="planner-bounds-"))
    big_yaml, big_model, big_cluster = folder / "long.yaml", folder / "long.graph.txt", folder / "big.yaml"
    edge_model, edge_cluster = folder / "edge.graph.txt", folder / "edge-cluster.yaml"
    mid, short, small = folder / "mid.graph.txt", folder / "short.yaml", folder / "five.yaml"
    start = time.perf_counter()
    write_profile(big_yaml, args.layers)
    write_graph(big_model, args.layers)
    write_cluster(big_cluster, args.devices)
    write_graph(edge_model, limits.MAX_CHAIN_LAYERS)
    write_cluster(edge_cluster, 1_256)
    write_graph(mid, 3_000)
    write_profile(short, 50)
    small.write_text(SMALL, encoding="utf-8")
    print(
        f"inputs in {folder}: {args.layers:,}-layer profile (YAML {big_yaml.stat().st_size / 2**20:.1f} MiB, "
        f"graph.txt {big_model.stat().st_size / 2**20:.1f} MiB), {args.devices:,}-device cluster, and inputs "
        f"at the limits; written in {time.perf_counter() - start:.1f} s"
    )
    layers, devices, edge = (
        f"{args.layers:,} layers",
        f"{args.devices:,} devices",
        f"{limits.MAX_CHAIN_LAYERS:,} layers",
    )
    one_server = ["--cluster", "pipedream-cluster-a", "--servers", "1"]
    batch = ["--batch", "32"]
    cases = [
        (f"models show ({args.layers:,}-layer YAML)", ["models", "show", str(big_yaml)]),
        (f"models show ({layers})", ["models", "show", str(big_model)]),
        (f"dp ({layers})", ["dp", str(big_model), *one_server, *batch]),
        (f"comm --model ({layers})", ["comm", "--model", str(big_model), *one_server]),
        (f"pipeline partition ({layers})", ["pipeline", "partition", str(big_model), *one_server]),
        (
            f"pipeline partition pipedream ({layers})",
            ["pipeline", "partition", str(big_model), *one_server, "--cost-model", "pipedream"],
        ),
        (f"plan ({layers})", ["plan", str(big_model), *one_server, "--profile-batch", "32"]),
        (f"hardware show ({devices})", ["hardware", "show", str(big_cluster)]),
        (f"dp ({devices})", ["dp", "resnet18", "--cluster", str(big_cluster)]),
        (f"comm --size ({devices})", ["comm", "--size", "100MB", "--cluster", str(big_cluster)]),
        (
            f"pipeline partition ({devices})",
            ["pipeline", "partition", str(small), "--cluster", str(big_cluster)],
        ),
        (
            f"pipeline partition pipedream ({devices})",
            ["pipeline", "partition", str(small), "--cluster", str(big_cluster), "--cost-model", "pipedream"],
        ),
        (f"plan ({devices})", ["plan", str(small), "--cluster", str(big_cluster)]),
        # near the limits: the slowest inputs still accepted
        (
            f"pipeline partition ({edge}, 16 GPUs)",
            ["pipeline", "partition", str(edge_model), "--cluster", "pipedream-cluster-a"],
        ),
        (
            "pipeline partition pipedream (3,000 layers, 4 GPUs)",
            ["pipeline", "partition", str(mid), *one_server, "--cost-model", "pipedream"],
        ),
        (
            "pipeline partition (50 layers, 1,256 GPUs)",
            ["pipeline", "partition", str(short), "--cluster", str(edge_cluster)],
        ),
        (
            f"plan ({edge}, 8 GPUs)",
            [
                "plan",
                str(edge_model),
                "--cluster",
                "pipedream-cluster-b",
                "--servers",
                "1",
                "--profile-batch",
                "32",
            ],
        ),
    ]
    cap = int(args.memory_cap_gib * 2**30)
    print(f"{'command':52s} {'exit':>4s} {'wall':>8s} {'peak RSS':>10s}  message")
    for label, argv in cases:
        if args.only and args.only not in label:
            continue
        code, wall, peak, message = run_child(argv, args.timeout, cap)
        shown = "kill" if code is None else str(code)
        text = message.replace(str(folder) + "/", "")
        print(f"{label:52s} {shown:>4s} {wall:7.1f}s {peak:7.0f} MiB  {text[:150]}", flush=True)


if __name__ == "__main__":
    main()
