"""Run a plan for real and compare (`planner verify`): predicted vs measured iteration time.

The prediction comes only from the profile (`planner profile`: its measured per-layer times, linear in the
batch as planner.cost.compute.layer_times takes them) and the machine (`planner calibrate`'s cluster: its
loopback link and memory bandwidth), never from the run it is compared with:
* dp: planner.cost.data_parallel (`planner dp`) on `processes` devices of the machine, the ring all-reduce
  (gloo's allreduce on CPU tensors is a ring: gloo/allreduce.cc, `allreduce_ring_chunked`; confidence:
  recalled), the planned DDP bucket, SGD with momentum;
* pipeline: the layers split into `processes` contiguous stages of least bottleneck (planner.optimize.
  balance, GPipe's rule), each micro-batch's stage times the layer sums × micro-batch / profile batch,
  the schedule simulated (planner.cost.pipeline_schedule: GPipe or 1F1B) with each boundary's activation
  sent over the link (alpha-beta, planner.cost.pipeline.activation_transfer_time), then the slowest
  stage's optimizer step.
planner.engine.runner then runs the same plan (the same split, by module name) and times it.
Each process runs with the profile's CPU threads (times are compared like for like); a run that would
put more threads on the machine than it has CPUs is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from planner.errors import SettingError, SpecError

if TYPE_CHECKING:
    from planner.spec.profile import ModelProfile

STRATEGIES = ("dp", "pipeline")
SCHEDULES = ("gpipe", "1f1b")
DP_ALGORITHM = "ring"  # gloo's allreduce (module docstring)
MAX_PROCESSES = 64
MAX_ITERATIONS = 10_000


@dataclass(frozen=True)
class VerifyOptions:
    """The plan to run and how to time it."""

    machine: str  # the calibrated cluster (planner calibrate) or a catalog cluster
    strategy: str = "dp"
    processes: int = 2
    schedule: str = "1f1b"
    microbatches: int = 4  # pipeline: micro-batches per minibatch
    batch: int | None = None  # dp: samples per process; pipeline: per minibatch (None: the profile's)
    bucket: float | None = None  # dp: DDP gradient bucket, bytes (None: 25 MiB, DDP's default)
    iterations: int = 5
    warmup: int = 2
    threads: int | None = None  # must be the profile's when given

    def check(self) -> None:
        """Raise SettingError naming the first setting out of range."""
        if self.strategy not in STRATEGIES:
            raise SettingError("strategy", f"one of {', '.join(STRATEGIES)}", self.strategy)
        if self.schedule not in SCHEDULES:
            raise SettingError("schedule", f"one of {', '.join(SCHEDULES)}", self.schedule)
        low = 2 if self.strategy == "pipeline" else 1
        for setting, least, high in (
            ("processes", low, MAX_PROCESSES),
            ("microbatches", 1, 1 << 16),
            ("iterations", 1, MAX_ITERATIONS),
            ("warmup", 0, MAX_ITERATIONS),
        ):
            value = getattr(self, setting)
            if not least <= value <= high:
                raise SettingError(setting, f"a whole number from {least} to {high}", value)
        if self.batch is not None and self.batch < 1:
            raise SettingError("batch", "a whole number >= 1", self.batch)
        if self.bucket is not None and not self.bucket > 0:
            raise SettingError("bucket", "a size > 0, e.g. 25MiB", self.bucket)


@dataclass(frozen=True)
class Prediction:
    """The predicted iteration and the parts that can be told apart, seconds."""

    iteration_s: float
    compute_s: float  # dp: forward + backward; pipeline: the slowest stage's M forwards and backwards
    communication_s: float  # dp: the all-reduce left exposed; pipeline: one boundary's transfers, all M
    bubble_s: float  # pipeline: idle time of the slowest stage; dp: 0
    update_s: float
    split: tuple[str, ...]  # pipeline: the module each stage after the first begins with


@dataclass(frozen=True)
class VerifyResult:
    """Predicted and measured iteration times of one plan."""

    profile: str
    options: VerifyOptions
    batch: int
    threads: int
    prediction: Prediction
    measured_s: tuple[float, ...]

    @property
    def measured_iteration_s(self) -> float:
        from statistics import median

        return median(self.measured_s)

    @property
    def error_pct(self) -> float:
        """(predicted - measured) / measured, percent."""
        return 100.0 * (self.prediction.iteration_s - self.measured_iteration_s) / self.measured_iteration_s

    def to_dict(self) -> dict[str, Any]:
        o, p = self.options, self.prediction
        return {
            "inputs": {
                "profile": self.profile,
                "machine": o.machine,
                "strategy": o.strategy,
                "processes": o.processes,
                "batch": self.batch,
                "threads": self.threads,
                "schedule": o.schedule if o.strategy == "pipeline" else None,
                "microbatches": o.microbatches if o.strategy == "pipeline" else None,
                "split": list(p.split),
                "iterations": o.iterations,
                "warmup": o.warmup,
            },
            "predicted_iteration_s": p.iteration_s,
            "predicted_compute_s": p.compute_s,
            "predicted_communication_s": p.communication_s,
            "predicted_bubble_s": p.bubble_s,
            "predicted_update_s": p.update_s,
            "measured_iteration_s": self.measured_iteration_s,
            "measured_iterations_s": list(self.measured_s),
            "error_pct": self.error_pct,
        }


def verify(profile_path: str, options: VerifyOptions) -> VerifyResult:
    """Predict the plan's iteration from the profile and the machine, then run it and time it."""
    from planner.api.inputs import load_training_model
    from planner.engine import require_torch

    options.check()
    profile = load_training_model(profile_path)
    threads, batch = _check_profile(profile, profile_path, options)
    prediction = predict(profile, options, batch)
    require_torch("running a plan")
    from planner.engine import models, runner

    spec = runner.RunSpec(
        ref=models.ModelRef(str(profile.torch_model), tuple(profile.input_shape)),
        strategy=options.strategy,
        processes=options.processes,
        batch=batch,
        threads=threads,
        iterations=options.iterations,
        warmup=options.warmup,
        bucket_bytes=_bucket(options),
        split=prediction.split,
        schedule=options.schedule,
        microbatches=options.microbatches,
    )
    try:
        measured = runner.run(spec)
    except RuntimeError as exc:
        raise SpecError("planner verify", "", f"a plan that runs: {exc}", show_got=False) from None
    return VerifyResult(profile_path, options, batch, threads, prediction, measured.iterations_s)


def predict(profile: ModelProfile, options: VerifyOptions, batch: int) -> Prediction:
    """The prediction (module docstring), from the profile and the machine only."""
    if options.strategy == "dp":
        return _predict_dp(profile, options, batch)
    return _predict_pipeline(profile, options, batch)


def _check_profile(profile: Any, path: str, options: VerifyOptions) -> tuple[int, int]:
    """(threads per process, batch) after the checks that make the comparison like for like."""
    import os

    if profile.spec != "profile" or not profile.torch_model or profile.threads is None:
        raise SpecError(path, "torch_model", "a profile written by planner profile (torch_model, threads)")
    if options.threads is not None and options.threads != profile.threads:
        raise SettingError(
            "threads", f"{profile.threads}, the threads the profile was measured with", options.threads
        )
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if options.processes * profile.threads > cpus:
        raise SettingError(
            "processes",
            f"at most {cpus // profile.threads} processes of {profile.threads} thread(s) on {cpus} CPUs "
            "(more would share cores, and the profile's times would not hold)",
            options.processes,
        )
    batch = options.batch if options.batch is not None else int(profile.batch_size)
    if options.strategy == "pipeline":
        if batch % options.microbatches:
            raise SettingError(
                "microbatches", f"a divisor of the minibatch ({batch} samples)", options.microbatches
            )
        if options.processes > len(profile.layers):
            raise SettingError(
                "processes", f"at most one stage per layer ({len(profile.layers)})", options.processes
            )
    return profile.threads, batch


def _bucket(options: VerifyOptions) -> float:
    from planner.cost.dp_buckets import DDP_BUCKET_BYTES

    return float(DDP_BUCKET_BYTES if options.bucket is None else options.bucket)


def _machine(options: VerifyOptions) -> Any:
    """The machine with one device per process."""
    from planner.api.inputs import load_cluster

    machine = load_cluster(options.machine, setting="machine")
    servers = math.ceil(options.processes / machine.devices_per_server)
    return load_cluster(machine, servers, setting="machine")


def _predict_dp(profile: ModelProfile, options: VerifyOptions, batch: int) -> Prediction:
    from planner.api.dp import DPOptions, data_parallel

    machine = _machine(options)
    dp_options = DPOptions(
        devices=options.processes,
        batch=batch,
        dtype=profile.dtype,
        algorithm=DP_ALGORITHM if options.processes > 1 else "best",
        bucket=_bucket(options),
    )
    result = data_parallel(profile, machine, dp_options).plan.result
    it = result.iteration
    return Prediction(
        iteration_s=result.iteration_s,
        compute_s=it.compute_s,
        communication_s=it.sync_exposed_s,
        bubble_s=0.0,
        update_s=it.update_s,
        split=(),
    )


def _predict_pipeline(profile: ModelProfile, options: VerifyOptions, batch: int) -> Prediction:
    from planner.cost.compute import sustained_memory_bandwidth
    from planner.cost.memory import update_bytes_per_parameter
    from planner.cost.pipeline import activation_transfer_time
    from planner.cost.pipeline_schedule import simulate
    from planner.optimize.balance import balance, profile_weights

    machine = _machine(options)
    stages, m = options.processes, options.microbatches
    bounds = list(balance(profile_weights(profile, "time"), stages).boundaries)
    share = (batch / m) / (profile.batch_size or batch)  # measured times are linear in the batch
    layers = profile.layers

    def total(attr: str, start: int, end: int) -> float:
        return sum(float(getattr(layer, attr) or 0.0) for layer in layers[start:end])

    spans = list(pairwise(bounds))
    forward = [total("forward_time", a, b) * share for a, b in spans]
    backward = [total("backward_time", a, b) * share for a, b in spans]
    link = machine.levels[-1].link
    transfer = [
        float(
            activation_transfer_time(
                layers[b - 1].output_bytes * share, link.bandwidth, link.efficiency, link.latency
            )
        )
        for _, b in spans[:-1]
    ]
    timeline = simulate(options.schedule, stages, m, forward, backward, transfer=transfer)
    per_parameter = update_bytes_per_parameter(profile.dtype, "sgd") / sustained_memory_bandwidth(
        machine.resolved_device
    )
    update = max(sum(layer.parameters for layer in layers[a:b]) * per_parameter for a, b in spans)
    busiest = max(range(stages), key=lambda s: forward[s] + backward[s])
    compute = m * (forward[busiest] + backward[busiest])
    return Prediction(
        iteration_s=timeline.makespan + update,
        compute_s=compute,
        communication_s=2 * m * max(transfer, default=0.0),
        bubble_s=timeline.makespan - compute,
        update_s=update,
        split=tuple(layers[a].name for a, _ in spans[1:]),
    )
