"""Compare the training strategies for a model on a cluster and recommend one (`planner plan`).

What it compares, all in one cost model per term (the same per-layer times, links and memory rules):

* data parallelism with each all-reduce algorithm (parameter server, sharded servers, ring, tree,
  halving-doubling, hierarchical): planner.cost.data_parallel, per-device batch b, global batch N·b;
* the optimal PipeDream-style pipeline (native cost model, replicated stages, asynchronous 1F1B steady
  state): planner.optimize.pipeline_native, each minibatch of b samples through every stage;
* synchronous pipelines over K devices without replication, GPipe (Huang et al. 2019) and 1F1B /
  PipeDream-flush (Narayanan et al. 2021): stages from the native straight partition (min-max stage
  time, an exact balance), global batch K·b in M micro-batches; per-layer times at the micro-batch size
  (so small micro-batches pay for their memory-bound layers); the best M among K·2^i up to
  max(K, MAX_MICROBATCHES) (the schedule is simulated event by event, O(K·M); beyond 1,024 micro-batches
  the bubble of K <= 64 stages is under 6 % and a huge batch would take minutes). A boundary's
  transfer per micro-batch and direction is the per-minibatch transfer scaled by the micro-batch's
  share (its latency too: a small overestimate).

`profile` gives its activation and parameter sizes for one minibatch of the per-device batch b
(a CNN architecture derived at b; a measured profile at its own minibatch), and `setup` gives the
per-layer times for any batch.

Throughput is samples per second; speedup is against one device running the same per-device batch;
efficiency is speedup / devices used; memory is the peak per device; cost is per million samples where
the cluster has a price. Units: seconds, bytes, samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from planner.cost import data_parallel as dp
from planner.cost.memory import training_memory
from planner.cost.pipeline import gpipe_time
from planner.cost.pipeline_schedule import simulate
from planner.errors import InfeasibleError
from planner.limits import MAX_MICROBATCHES
from planner.optimize.chain_costs import ChainCosts, chain_costs
from planner.optimize.native_types import NativeResult
from planner.optimize.pipeline_native import partition_native
from planner.spec.hardware import Cluster
from planner.spec.profile import DTYPE_BYTES, ModelProfile

Objective = Literal["throughput", "latency"]


@dataclass(frozen=True)
class Strategy:
    """One way to train: its figures per iteration and per sample, and what it needs per device."""

    name: str
    family: str  # data-parallel | pipeline | gpipe | 1f1b
    config: str
    devices: int
    samples_per_iteration: int
    iteration_s: float
    memory_per_device_bytes: float
    fits: bool
    single_device_throughput: float
    servers: int
    price_usd_per_server_hour: float | None
    breakdown: dict[str, float] = field(default_factory=dict)
    note: str = ""
    # the stages of a pipeline strategy (for an export of exactly this plan); None for data parallelism
    partition: NativeResult | None = field(default=None, compare=False, repr=False)

    @property
    def throughput(self) -> float:
        """Samples per second."""
        return self.samples_per_iteration / self.iteration_s

    @property
    def speedup(self) -> float:
        return self.throughput / self.single_device_throughput

    @property
    def efficiency(self) -> float:
        return self.speedup / self.devices

    @property
    def cost_per_million_samples_usd(self) -> float | None:
        if self.price_usd_per_server_hour is None:
            return None
        return self.servers * self.price_usd_per_server_hour * 1e6 / self.throughput / 3600.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "config": self.config,
            "devices": self.devices,
            "servers": self.servers,
            "samples_per_iteration": self.samples_per_iteration,
            "iteration_s": self.iteration_s,
            "time_per_sample_s": 1.0 / self.throughput,
            "throughput_samples_per_s": self.throughput,
            "speedup_over_one_device": self.speedup,
            "efficiency": self.efficiency,
            "memory_per_device_bytes": self.memory_per_device_bytes,
            "fits": self.fits,
            "cost_per_million_samples_usd": self.cost_per_million_samples_usd,
            "breakdown": dict(self.breakdown),
            "note": self.note,
        }


def rank(strategies: Sequence[Strategy], objective: Objective) -> list[Strategy]:
    """Feasible first; then by throughput (highest) or by iteration time (lowest); ties by name."""
    if objective == "throughput":
        return sorted(strategies, key=lambda s: (not s.fits, -s.throughput, s.name))
    return sorted(strategies, key=lambda s: (not s.fits, s.iteration_s, s.name))


def recommendation(ranked: Sequence[Strategy], objective: Objective) -> str:
    """One line: the winner and why, against the runner-up."""
    feasible = [s for s in ranked if s.fits]
    if not feasible:
        return "no strategy fits in the device's memory"
    best = feasible[0]
    what = f"{best.throughput:,.1f} samples/s" if objective == "throughput" else f"{best.iteration_s:.4g} s"
    if len(feasible) == 1:
        return f"{best.name} ({best.config}): the only strategy that fits, {what}"
    second = feasible[1]
    if objective == "throughput":
        margin = best.throughput / second.throughput
        return (
            f"{best.name} ({best.config}): {what}, {margin:.2f}x the next best, {second.name} "
            f"({second.throughput:,.1f} samples/s); {_why(best)}"
        )
    margin = second.iteration_s / best.iteration_s
    return f"{best.name} ({best.config}): {what} per iteration, {margin:.2f}x faster than {second.name}"


def _why(best: Strategy) -> str:
    b = best.breakdown
    if best.family == "data-parallel":
        hidden = b.get("sync_total_s", 0.0) - b.get("sync_exposed_s", 0.0)
        return (
            f"its gradient all-reduce ({b.get('sync_total_s', 0.0) * 1e3:.1f} ms) is "
            f"{hidden / max(b.get('sync_total_s', 0.0), 1e-300):.0%} hidden behind the backward pass"
        )
    if best.family == "pipeline":
        return "replicated stages keep the large-parameter layers off the slow links"
    return f"{b.get('bubble_fraction', 0.0):.0%} of the schedule is bubble"


def _servers(cluster: Cluster, devices: int) -> int:
    return -(-devices // cluster.devices_per_server)


def data_parallel_strategies(setup: dp.Setup, devices: int, batch: int) -> tuple[list[Strategy], float]:
    """Data parallelism with every all-reduce algorithm; also the single-device throughput."""
    rows: list[Strategy] = []
    single = dp.evaluate(setup, 1, batch, "ring", dp.default_collective)
    single_throughput = single.throughput
    for algorithm in dp.all_algorithms():
        try:
            result = dp.evaluate(setup, devices, batch, algorithm, dp.default_collective)
        except (ValueError, KeyError, NotImplementedError):
            continue  # an algorithm that does not apply to this placement
        it = result.iteration
        rows.append(
            Strategy(
                name=f"DP {algorithm}",
                family="data-parallel",
                config=str(devices),
                devices=devices,
                samples_per_iteration=result.global_batch,
                iteration_s=result.iteration_s,
                memory_per_device_bytes=result.memory.total_bytes,
                fits=result.fits,
                single_device_throughput=single_throughput,
                servers=result.servers,
                price_usd_per_server_hour=result.price_usd_per_server_hour,
                breakdown={
                    "forward_s": it.forward_s,
                    "backward_s": it.backward_s,
                    "sync_total_s": it.sync_total_s,
                    "sync_exposed_s": it.sync_exposed_s,
                    "update_s": it.update_s,
                },
            )
        )
    return rows, single_throughput


def _chain(setup: dp.Setup, profile: ModelProfile, batch: float) -> ChainCosts:
    forward, backward = dp.compute_times(setup, batch)
    return chain_costs(profile, forward, backward)


def pipeline_strategy(
    setup: dp.Setup, profile: ModelProfile, devices: int, batch: int, single_throughput: float
) -> Strategy | str:
    """The optimal native pipeline (replicated stages) of `batch`-sample minibatches, or why none fits."""
    cluster = _first(setup.cluster, devices)
    try:
        result = partition_native(
            _chain(setup, profile, batch),
            cluster,
            memory_limit_bytes=setup.device.memory,
            optimizer=setup.optimizer,
            use_fewer_machines=True,
        )
    except InfeasibleError as exc:
        return f"pipeline: {exc}"
    return _pipeline_row(result, cluster, batch, single_throughput)


def _pipeline_row(result: NativeResult, cluster: Cluster, batch: int, single_throughput: float) -> Strategy:
    used = result.devices_used
    return Strategy(
        name="PipeDream pipeline",
        family="pipeline",
        config=result.config,
        devices=used,
        samples_per_iteration=batch,
        iteration_s=result.pipeline_time_s,
        memory_per_device_bytes=max(stage.memory_bytes for stage in result.stages),
        fits=True,
        single_device_throughput=single_throughput,
        servers=_servers(cluster, used),
        price_usd_per_server_hour=None if cluster.price is None else cluster.price.usd_per_hour,
        breakdown={
            f"stage{k}_{term}": value
            for k, stage in enumerate(result.stages)
            for term, value in (
                ("time_s", stage.time_s),
                ("forward_s", stage.forward_s),
                ("backward_s", stage.backward_s),
                ("sync_s", stage.sync_s),
                ("transfer_in_s", stage.transfer_in_s),
                ("replicas", float(stage.replicas)),
            )
        },
        note=f"{len(result.stages)} stages; minibatches of {batch} flow through them asynchronously",
        partition=result,
    )


def synchronous_pipeline_strategies(
    setup: dp.Setup, profile: ModelProfile, devices: int, batch: int, single_throughput: float
) -> list[Strategy] | str:
    """GPipe and 1F1B over a straight pipeline of up to `devices` stages, best micro-batch count each."""
    cluster = _first(setup.cluster, devices)
    try:
        straight = partition_native(
            _chain(setup, profile, batch), cluster, straight=True, use_fewer_machines=True
        )
    except InfeasibleError as exc:
        return f"synchronous pipeline: {exc}"
    stages = [(s.start, s.end) for s in straight.stages]
    k = len(stages)
    global_batch = k * batch
    best: dict[str, Strategy] = {}
    m = k
    while m <= min(global_batch, max(k, MAX_MICROBATCHES)):
        micro = global_batch / m
        chain = _chain(setup, profile, micro)
        f = [chain.forward_s(a, b) for a, b in stages]
        bw = [chain.backward_s(a, b) for a, b in stages]
        transfer = [s.transfer_in_s * micro / batch / 2.0 for s in straight.stages[1:]]  # one direction
        for schedule in ("gpipe", "1f1b"):
            if schedule == "gpipe":
                time = gpipe_time(f, bw, m, transfer)
            else:
                time = simulate("1f1b", k, m, f, bw, transfer=transfer or (0.0,)).makespan
            memory = max(
                _sync_stage_memory(setup, chain, stages, i, m, schedule, micro / batch) for i in range(k)
            )
            row = Strategy(
                name="GPipe" if schedule == "gpipe" else "1F1B",
                family=schedule,
                config=f"{k} stages, M={m}",
                devices=k,
                samples_per_iteration=global_batch,
                iteration_s=time,
                memory_per_device_bytes=memory,
                fits=memory <= setup.device.memory,
                single_device_throughput=single_throughput,
                servers=_servers(cluster, k),
                price_usd_per_server_hour=None if cluster.price is None else cluster.price.usd_per_hour,
                breakdown={"bubble_fraction": (k - 1) / (m + k - 1), "micro_batch": micro},
                note=f"micro-batches of {micro:g} samples; GPipe advises M >= 4K = {4 * k}",
                partition=straight,
            )
            current = best.get(schedule)
            if current is None or (row.fits, -row.iteration_s) > (current.fits, -current.iteration_s):
                best[schedule] = row
        m *= 2
    return list(best.values())


def _sync_stage_memory(
    setup: dp.Setup,
    chain: ChainCosts,
    stages: Sequence[tuple[int, int]],
    index: int,
    m: int,
    schedule: str,
    micro_share: float,
) -> float:
    """Peak bytes of stage `index`: its model states plus the activations of its in-flight micro-batches
    (GPipe keeps all M; 1F1B at most K - index, Narayanan et al. 2021 Sec. 2.2). The chain's activation
    sizes are for the per-device batch; a micro-batch holds `micro_share` of them."""
    start, end = stages[index]
    parameters = int(chain.parameter_bytes(start, end) / DTYPE_BYTES[chain.dtype])
    in_flight = m if schedule == "gpipe" else min(m, len(stages) - index)
    activations = (
        chain.activation_bytes(start, end) * micro_share * setup.arrays.dtype_scale(setup.dtype) * in_flight
    )
    return training_memory(parameters, activations, setup.dtype, setup.optimizer).total_bytes


def _first(cluster: Cluster, devices: int) -> Cluster:
    """The cluster cut down to its first `devices` devices when they fill whole servers."""
    per = cluster.devices_per_server
    if devices % per == 0 and devices // per < cluster.levels[-1].count:
        return cluster.with_top_count(devices // per)
    return cluster


@dataclass(frozen=True)
class Comparison:
    strategies: tuple[Strategy, ...]
    infeasible: tuple[str, ...]
    objective: Objective
    recommendation: str

    @property
    def winner(self) -> Strategy | None:
        return next((s for s in self.strategies if s.fits), None)


def compare(
    setup: dp.Setup, profile: ModelProfile, batch: int, objective: Objective = "throughput"
) -> Comparison:
    """Every strategy on all of `setup.cluster`'s devices with per-device batch `batch`, ranked."""
    devices = setup.cluster.total_devices
    rows, single = data_parallel_strategies(setup, devices, batch)
    notes: list[str] = []
    for outcome in (
        pipeline_strategy(setup, profile, devices, batch, single),
        synchronous_pipeline_strategies(setup, profile, devices, batch, single),
    ):
        if isinstance(outcome, str):
            notes.append(outcome)
        elif isinstance(outcome, Strategy):
            rows.append(outcome)
        else:
            rows.extend(outcome)
    ranked = rank(rows, objective)
    return Comparison(tuple(ranked), tuple(notes), objective, recommendation(ranked, objective))
