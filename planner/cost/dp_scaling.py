"""Data-parallel plans (the answer to `planner dp`): the best all-reduce algorithm at N devices, weak and
strong scaling tables over N, the reason for the choice and notes, from the iteration model of
planner.cost.data_parallel.

Weak scaling keeps the per-device batch b (global batch N·b); strong scaling keeps the global batch B and
gives the slowest device ceil(B/N). A plan whose per-device memory exceeds the device's is infeasible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from planner.cost.compute import (
    is_mixed_precision,
    sustained_compute,
    sustained_memory_bandwidth,
)
from planner.cost.data_parallel import CollectiveFn, CollectiveLike, DPResult, Setup, evaluate
from planner.cost.memory import TrainingMemory, update_bytes_per_parameter
from planner.errors import InfeasibleError
from planner.spec.hardware import Cluster


def per_device_batch(global_batch: int, devices: int) -> int:
    """The slowest device's share of a global batch split over `devices`: ceil(B / N)."""
    return -(-global_batch // devices)


def scaling_sizes(cluster: Cluster) -> list[int]:
    """N for a scaling table: powers of two up to the cluster's size, one server, every whole number of
    servers when there are at most 8, and the whole cluster."""
    total, per_server = cluster.total_devices, cluster.devices_per_server
    sizes = {1 << k for k in range(total.bit_length()) if 1 << k <= total}
    sizes |= {per_server, total}
    servers = cluster.levels[-1].count
    if servers <= 8:
        sizes |= {per_server * s for s in range(1, servers + 1)}
    return sorted(sizes)


@dataclass(frozen=True)
class AlgorithmOption:
    """One all-reduce algorithm at the plan's N: its iteration and the whole gradient's collective."""

    result: DPResult | None
    collective: CollectiveLike | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error}
        if self.result is not None:
            it = self.result.iteration
            out |= {
                "algorithm": self.result.algorithm,
                "sync_total_s": it.sync_total_s,
                "sync_exposed_s": it.sync_exposed_s,
                "iteration_s": self.result.iteration_s,
                "throughput_samples_per_s": self.result.throughput,
            }
        if self.collective is not None:
            c = self.collective
            out |= {
                "algorithm": c.algorithm,
                "gradient_allreduce_s": c.time_s,
                "gradient_lower_bound_s": c.lower_bound_s,
                "bytes_sent_per_device": c.bytes_sent_per_device,
                "busiest_link": c.busiest_link,
                "over_lower_bound": c.time_s / c.lower_bound_s if c.lower_bound_s > 0 else None,
            }
        return out


@dataclass(frozen=True)
class DPPlan:
    """The answer to `planner dp`: the chosen configuration, the alternatives, scaling tables, notes."""

    setup: Setup = field(repr=False)
    result: DPResult
    options: dict[str, AlgorithmOption]
    weak: tuple[DPResult, ...]
    strong: tuple[DPResult, ...]
    strong_scaling: bool
    reason: str
    notes: tuple[str, ...]


def _try(
    setup: Setup, devices: int, batch: int, algorithm: str, collective: CollectiveFn, **kw: Any
) -> DPResult | str:
    try:
        return evaluate(setup, devices, batch, algorithm, collective, **kw)
    except (ValueError, KeyError, NotImplementedError) as exc:  # an algorithm that does not apply here
        return f"{algorithm}: {exc}"


def best_result(
    setup: Setup,
    devices: int,
    batch: int,
    algorithms: Sequence[str],
    collective: CollectiveFn,
    **kw: Any,
) -> tuple[DPResult, dict[str, DPResult | str]]:
    """The algorithm with the lowest iteration time (ties: the first listed), and every outcome."""
    outcomes = {a: _try(setup, devices, batch, a, collective, **kw) for a in algorithms}
    valid = [r for r in outcomes.values() if isinstance(r, DPResult)]
    if not valid:
        raise ValueError("; ".join(str(v) for v in outcomes.values()))
    return min(valid, key=lambda r: r.iteration_s), outcomes


def plan(
    setup: Setup,
    devices: int,
    batch: int,
    algorithms: Sequence[str],
    collective: CollectiveFn,
    *,
    strong_scaling: bool = False,
) -> DPPlan:
    """Plan data parallelism on `devices` devices of `setup.cluster`.

    `batch` is the per-device batch (weak scaling), or the global batch with `strong_scaling`.
    `algorithms` lists the candidates (one, or all for "best"). Raises InfeasibleError when the chosen
    configuration's per-device memory exceeds the device's, ValueError for impossible inputs.
    """
    if devices < 1 or devices > setup.cluster.total_devices:
        raise ValueError(f"devices must be in 1..{setup.cluster.total_devices}, got {devices}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if strong_scaling and batch < devices:
        raise ValueError(f"a global batch of {batch} cannot be split over {devices} devices")
    sustained_compute(setup.device, setup.dtype)  # fail early for a dtype the device lacks
    b = per_device_batch(batch, devices) if strong_scaling else batch
    global_batch = batch if strong_scaling else None
    memory = setup.memory(b)
    if memory.total_bytes > setup.device.usable_memory:
        raise InfeasibleError(_does_not_fit(setup, b, memory))

    chosen, outcomes = best_result(setup, devices, b, algorithms, collective, global_batch=global_batch)
    options: dict[str, AlgorithmOption] = {}
    grad = float(setup.gradient_bytes().sum())
    for name, outcome in outcomes.items():
        if isinstance(outcome, str):
            options[name] = AlgorithmOption(None, None, outcome)
            continue
        whole = collective(setup.cluster, grad, name, devices) if devices > 1 else None
        options[name] = AlgorithmOption(outcome, whole)

    weak_rows, strong_rows = [], []
    per_device = b
    total = devices * b if not strong_scaling else batch
    for n in scaling_sizes(setup.cluster):
        weak_rows.append(best_result(setup, n, per_device, algorithms, collective)[0])
        if total >= n:
            strong_rows.append(
                best_result(setup, n, per_device_batch(total, n), algorithms, collective, global_batch=total)[
                    0
                ]
            )
    return DPPlan(
        setup=setup,
        result=chosen,
        options=options,
        weak=tuple(weak_rows),
        strong=tuple(strong_rows),
        strong_scaling=strong_scaling,
        reason=_reason(chosen, outcomes),
        notes=tuple(_notes(setup, chosen, options)),
    )


def _does_not_fit(setup: Setup, batch: int, memory: TrainingMemory) -> str:
    gib = 2.0**30
    return (
        f"the model does not fit: {memory.total_bytes / gib:.2f} GiB per device needed "
        f"(model states {memory.model_states_bytes / gib:.2f} GiB for {memory.parameters:,} parameters "
        f"with {setup.optimizer} in {setup.dtype}, activations {memory.activations_bytes / gib:.2f} GiB "
        f"for a per-device batch of {batch}), but {setup.device.name} has "
        f"{setup.device.usable_memory / gib:.2f} GiB usable; "
        "use a smaller batch, a 16-bit dtype (fp16), or more devices with global_batch"
    )


def _reason(chosen: DPResult, outcomes: dict[str, DPResult | str]) -> str:
    if chosen.devices == 1:
        return "one device: nothing to synchronise"
    others = sorted(
        (r for r in outcomes.values() if isinstance(r, DPResult) and r.algorithm != chosen.algorithm),
        key=lambda r: r.iteration_s,
    )
    it = chosen.iteration
    hidden = it.sync_total_s - it.sync_exposed_s
    if abs(hidden) <= 1e-9 * it.sync_total_s:  # rounding of total - exposed, not time hidden
        hidden = 0.0
    head = (
        f"{chosen.algorithm}: the lowest iteration time, {chosen.iteration_s * 1e3:.4g} ms; its all-reduces "
        f"take {it.sync_total_s * 1e3:.4g} ms, {hidden * 1e3:.4g} ms of it hidden behind the backward pass"
    )
    if not others:
        return head
    runner = others[0]
    gap = (runner.iteration_s / chosen.iteration_s - 1.0) * 100.0
    return f"{head}; next best {runner.algorithm} at {runner.iteration_s * 1e3:.4g} ms (+{gap:.3g}%)"


def _notes(setup: Setup, chosen: DPResult, options: dict[str, AlgorithmOption]) -> list[str]:
    arrays, device = setup.arrays, setup.device
    notes: list[str] = []
    if arrays.measured:
        where = setup.measured_on.name if setup.measured_on is not None else "an unstated device"
        rescale = (
            f"rescaled by sustained {setup.dtype} compute, {where} / {device.name}"
            if setup.measured_on is not None and setup.measured_on.name != device.name
            else f"used as measured on {device.name}"
        )
        notes.append(
            f"compute: the profile's measured times (from {where}), per sample × the per-device batch "
            f"(time linear in the batch), {rescale}; input (data-loading) nodes count as zero"
        )
    else:
        peak = sustained_compute(device, setup.dtype)
        fraction = device.matmul_efficiency(setup.dtype)
        notes.append(
            f"compute: roofline per layer (Williams et al. 2009) at {peak / 1e12:.4g} TFLOP/s sustained "
            f"{setup.dtype} ({device.name} peak × matmul efficiency {fraction:g}) and "
            f"{sustained_memory_bandwidth(device) / 1e9:.4g} GB/s; backward FLOP from the profile"
        )
    if is_mixed_precision(setup.dtype):
        notes.append(
            f"mixed precision: {setup.dtype} weights, activations and gradients (all-reduced in "
            f"{setup.dtype}), fp32 master weights (Micikevicius et al. 2018)"
        )
    mode = "overlapped with the backward pass" if setup.overlap else "after the backward pass (no overlap)"
    notes.append(
        f"sync: {len(chosen.iteration.buckets)} buckets of >= {setup.bucket_bytes / 2**20:.4g} MiB in "
        f"reverse layer order, all-reduced one at a time {mode} (PyTorch DDP, Li et al. VLDB 2020)"
    )
    if setup.overlap and chosen.devices > 1:
        notes.append(
            f"contention: the all-reduce kernels take {setup.slowdown:.0%} of the backward pass's "
            f"throughput while they overlap it, {chosen.iteration.contention_s * 1e3:.4g} ms "
            "(planner.cost.overlap; 0 % is the perfect-overlap bound)"
        )
    notes.append(
        f"update: memory-bound optimizer step, {update_bytes_per_parameter(setup.dtype, setup.optimizer):g} "
        f"bytes per parameter ({setup.optimizer}, {setup.dtype}) over the device's sustained bandwidth"
    )
    option = options.get(chosen.algorithm)
    if option is not None and option.collective is not None:
        extra = option.collective.notes
        if isinstance(extra, str):
            extra = [extra]
        notes.extend(f"{chosen.algorithm}: {line}" for line in extra or ())
    return notes
