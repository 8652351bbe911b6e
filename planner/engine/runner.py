"""Run a plan for real on local processes with torch.distributed and time its iterations.

* `dp`: DistributedDataParallel (PyTorch docs, torch.nn.parallel.DistributedDataParallel) with the
  planned gradient bucket (`bucket_cap_mb`), every process its own synthetic batch.
* `pipeline`: torch.distributed.pipelining (PyTorch docs, "Pipeline Parallelism"): `pipeline()` splits the
  model at the planned module names (`SplitPoint.BEGINNING`), each process builds its stage
  (`build_stage`) and runs ScheduleGPipe or Schedule1F1B over the micro-batches of one minibatch.

Backend gloo on CPU (NCCL is for CUDA devices, not run here). Each process uses `threads` CPU threads,
the optimizer is SGD with momentum (the planner's `sgd`), the loss is planner.engine.models.loss_fn.
An iteration is timed from a barrier to the end of the optimizer step on every process; its time is the
slowest process's (an all-reduce of the maximum). `warmup` iterations are run untimed first.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from statistics import median
from typing import Any

from planner.engine import models

SCHEDULES = {"gpipe": "ScheduleGPipe", "1f1b": "Schedule1F1B"}
JOIN_TIMEOUT_S = 600.0  # a run that has not ended by then is stopped (a hung rendezvous)


@dataclass(frozen=True)
class RunSpec:
    """One run: the model, the strategy and its settings (the same for every process)."""

    ref: models.ModelRef
    strategy: str  # dp or pipeline
    processes: int
    batch: int  # dp: samples per process; pipeline: samples per minibatch
    threads: int
    iterations: int
    warmup: int
    bucket_bytes: float = 25 * 2**20  # dp: DDP's bucket_cap_mb (25 MiB by default)
    split: tuple[str, ...] = ()  # pipeline: the module name each stage after the first begins with
    schedule: str = "1f1b"
    microbatches: int = 1


@dataclass(frozen=True)
class RunResult:
    """Each timed iteration's seconds (the slowest process's) and their median."""

    iterations_s: tuple[float, ...]

    @property
    def median_s(self) -> float:
        return median(self.iterations_s)


def run(spec: RunSpec) -> RunResult:
    """Start `spec.processes` local processes, run the plan, and return the timed iterations."""
    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    queue = context.SimpleQueue()
    with tempfile.TemporaryDirectory(prefix="planner-verify-") as folder:
        # the processes meet through a file, not a TCP port picked beforehand: another program (a second
        # run at the same time) could take that port between the pick and the rendezvous
        store = os.path.join(folder, "rendezvous")
        workers = [
            context.Process(target=_worker, args=(rank, store, spec, queue)) for rank in range(spec.processes)
        ]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for worker in workers:
            worker.join(max(deadline - time.monotonic(), 0.0))
        hung = [w for w in workers if w.is_alive()]
        for worker in hung:
            worker.terminate()
            worker.join()
    failed = [w.exitcode for w in workers if w.exitcode != 0]
    if hung or failed or queue.empty():
        raise RuntimeError(
            f"the {spec.strategy} run failed ({len(hung)} process(es) hung, exit codes {failed or 'none'})"
        )
    outcome = queue.get()
    if isinstance(outcome, str):
        raise RuntimeError(outcome)
    return RunResult(tuple(outcome))


def _worker(rank: int, store: str, spec: RunSpec, queue: Any) -> None:
    """One process of the run. It leaves with os._exit, skipping the interpreter's teardown: a torch thread
    still joinable there can abort a process whose run had ended well ("terminate called without an active
    exception", exit -6, seen under a loaded test run)."""
    import sys
    import traceback

    code = 0
    try:
        _work(rank, store, spec, queue)
    except BaseException:
        code = 1
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _work(rank: int, store: str, spec: RunSpec, queue: Any) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(spec.threads)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=spec.processes)
    try:
        step = _dp_step(rank, spec) if spec.strategy == "dp" else _pipeline_step(rank, spec)
        times = []
        for index in range(spec.warmup + spec.iterations):
            dist.barrier()
            start = time.perf_counter()
            step()
            elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
            dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
            if index >= spec.warmup:
                times.append(float(elapsed.item()))
        if rank == 0:
            queue.put(times)
    except Exception as exc:  # reported by the parent as one line
        if rank == 0:
            queue.put(f"the {spec.strategy} run failed on process {rank}: {type(exc).__name__}: {exc}")
        raise
    finally:
        dist.destroy_process_group()


def _dp_step(rank: int, spec: RunSpec) -> Any:
    import torch
    from torch.nn.parallel import DistributedDataParallel

    torch.manual_seed(0)  # DDP also broadcasts rank 0's weights
    model = DistributedDataParallel(models.build(spec.ref), bucket_cap_mb=spec.bucket_bytes / 2**20)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = models.sample_input(spec.ref, spec.batch, generator_seed=rank)
    with torch.no_grad():
        target = torch.zeros_like(models.output_tensor(model.module(x)), dtype=torch.float32)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        models.loss_fn(model(x), target).backward()
        optimizer.step()

    return step


def _pipeline_step(rank: int, spec: RunSpec) -> Any:
    import torch
    from torch.distributed import pipelining

    torch.manual_seed(0)
    model = models.build(spec.ref)
    x = models.sample_input(spec.ref, spec.batch)
    micro = spec.batch // spec.microbatches
    with torch.no_grad():
        target = torch.zeros_like(models.output_tensor(model(x)), dtype=torch.float32)
    split = {name: pipelining.SplitPoint.BEGINNING for name in spec.split}
    pipe = pipelining.pipeline(model, mb_args=(x[:micro],), split_spec=split)
    stage = pipe.build_stage(rank, torch.device("cpu"))
    schedule = getattr(pipelining, SCHEDULES[spec.schedule])(stage, spec.microbatches, loss_fn=models.loss_fn)
    optimizer = torch.optim.SGD(stage.submod.parameters(), lr=1e-3, momentum=0.9)
    last = rank == spec.processes - 1

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        if rank == 0:
            schedule.step(x)
        elif last:
            schedule.step(target=target, losses=[])
        else:
            schedule.step()
        optimizer.step()

    return step
