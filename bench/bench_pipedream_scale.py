"""Benchmark: PipeDream mode (`--cost-model pipedream`) at scale: long chains on 8 x 128 devices.

Times whole `python -m planner pipeline partition CHAIN --cost-model pipedream --levels
"8:300GB/s,128:25GB/s" --format json` processes (interpreter, imports, load, chain view, solve, stages;
median of --runs, wall and CPU of the child), on two seeded chains per length:
* light: bench_resource_bounds' chain (0.1-2 ms forward, up to 2,000 parameters a layer): data
  parallelism wins, every entry's one-stage bound is tight;
* heavy: layers shaped like a large model's (0.5-5 ms forward, up to 50 M parameters on 70 % of the
  layers, 1-20 MB of activations): a pipeline of many stages wins.
Targets (issue 17): 500 layers <= 3 s and 1,000 layers <= 10 s whole process.

With --check REV it also confirms, in-process and untimed, that the tables and back-pointers equal those
of the dynamic program at git revision REV (eda972e: before the pruned fill) on the chains of at most
--check-layers layers. --repo times another checkout's code (e.g. the main branch's, for "before").

Run (repository root): PYTHONPATH=. python bench/bench_pipedream_scale.py [--layers 200 500 1000]
    [--runs 5] [--repo PATH] [--check eda972e] [--check-layers 500]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_resource_bounds import write_profile

REPO = Path(__file__).resolve().parents[1]
LEVELS = "8:300GB/s,128:25GB/s"


def write_heavy(path: Path, layers: int, seed: int = 1) -> None:
    """A chain of `layers` layers shaped like a large model's, seeded (see the module doc)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write(f"spec: profile\nname: heavy-{layers}\nper: minibatch\nbatch_size: 32\nlayers:\n")
        for i in range(layers):
            forward = rng.uniform(0.5, 5)
            parameters = rng.randrange(0, 50_000_000) if rng.random() > 0.3 else 0
            out.write(
                f"  - {{name: l{i}, forward_time: {forward:.3f} ms, backward_time: "
                f"{2 * forward * rng.uniform(0.8, 1.2):.3f} ms, parameters: {parameters}, "
                f"output_bytes: {rng.uniform(1, 20):.2f} MB}}\n"
            )


def run_once(repo: Path, profile: Path) -> tuple[float, float, dict]:
    """Wall and CPU seconds (user + system of the child) of one whole process, and its JSON answer."""
    env = {**os.environ, "PYTHONPATH": str(repo)}
    command = [sys.executable, "-m", "planner", "pipeline", "partition", str(profile)]
    command += ["--cost-model", "pipedream", "--levels", LEVELS, "--format", "json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=repo)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, json.loads(done.stdout)


def check(profile: Path, revision: str) -> str:
    """Tables and back-pointers of this DP against those of the DP at `revision` (untimed)."""
    from planner.api.inputs import load_model
    from planner.optimize.chain_view import build_chain_view
    from planner.optimize.pipedream_dp import solve
    from planner.optimize.pipedream_levels import parse_levels
    from planner.optimize.pipedream_types import PipeDreamOptions

    source = subprocess.run(
        ["git", "show", f"{revision}:planner/optimize/pipedream_dp.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pipedream_dp_before.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("pipedream_dp_before", path)
        assert spec is not None and spec.loader is not None
        before = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(before)
    view = build_chain_view(load_model(str(profile)))
    levels, options = parse_levels(LEVELS), PipeDreamOptions()
    for new, old in zip(solve(view, levels, options), before.solve(view, levels, options), strict=True):
        assert np.array_equal(new.values, old.values), "tables differ"
        finite = np.isfinite(old.values)
        assert np.array_equal(new.choices[finite], old.choices[finite]), "back-pointers differ"
    return f"tables and back-pointers = DP at {revision}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[200, 500, 1000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose planner is timed")
    parser.add_argument("--check", metavar="REV", help="compare with the DP at git revision REV")
    parser.add_argument("--check-layers", type=int, default=500)
    args = parser.parse_args()
    print(f"levels {LEVELS}; whole process, median of {args.runs}; code: {args.repo}")
    print(f"{'chain':<7} {'layers':>6} {'wall s':>7} {'CPU s':>7} {'min wall':>8} {'optimum s':>12}  config")
    with tempfile.TemporaryDirectory() as folder:
        for layers in args.layers:
            for kind, write in (("light", write_profile), ("heavy", write_heavy)):
                profile = Path(folder) / f"{kind}-{layers}.yaml"
                write(profile, layers)
                runs = [run_once(args.repo, profile) for _ in range(args.runs)]
                answer = runs[-1][2]
                config = answer["config"] if len(answer["config"]) <= 40 else answer["config"][:37] + "..."
                note = config
                if args.check and layers <= args.check_layers:
                    note += f"  [{check(profile, args.check)}]"
                print(
                    f"{kind:<7} {layers:>6} {statistics.median(r[0] for r in runs):>7.2f} "
                    f"{statistics.median(r[1] for r in runs):>7.2f} {min(r[0] for r in runs):>8.2f} "
                    f"{answer['pipeline_time_s']:>12.6g}  {note}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
