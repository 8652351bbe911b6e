"""Compare the training strategies for a model on a cluster and recommend one (`planner plan`).

What it compares, all in one cost model per term (the same per-layer times, links and memory rules):

* data parallelism with each all-reduce algorithm (parameter server, sharded servers, ring, tree,
  halving-doubling, hierarchical): planner.cost.data_parallel, per-device batch b, global batch N·b;
* the optimal PipeDream-style pipeline (native cost model, replicated stages, asynchronous 1F1B steady
  state): planner.optimize.pipeline_native, each minibatch of b samples through every stage;
* synchronous pipelines over K devices without replication, GPipe (Huang et al. 2019) and 1F1B /
  PipeDream-flush (Narayanan et al. 2021) on K stages, K from the native straight partition: GPipe's
  stages from GPipe's balance (planner.optimize.gpipe, the exact min-max of forward + backward +
  recompute, no transfers; a branchy graph keeps the straight partition), 1F1B's the straight native
  partition (min-max stage time with transfers), global batch K·b in M micro-batches; per-layer times
  at the micro-batch size (so small micro-batches pay for their memory-bound layers); the best M among
  K·2^i up to max(K, MAX_MICROBATCHES) (the schedule is simulated event by event, O(K·M); beyond 1,024
  micro-batches the bubble of K <= 64 stages is under 6 % and a huge batch would take minutes). A boundary's
  transfer per micro-batch and direction is the per-minibatch transfer scaled by the micro-batch's
  share (its latency too: a small overestimate). GPipe re-materialises by default (Huang et al. 2019
  Sec. 2.3): a stage keeps each in-flight micro-batch's input and one micro-batch's activations, and
  recomputes the forward during the backward (+1 forward per micro-batch); `rematerialise=False` keeps
  every activation. 1F1B keeps its at most K - k micro-batches' activations and recomputes nothing;
* naive model parallelism: GPipe's stages with M = 1 (one device busy at a time, utilisation 1/K).

Every row pays the same optimizer step as the one-device baseline: data parallelism on every replica, a
pipeline stage on its own parameters (PipeDream: each minibatch's update on each replica; GPipe and 1F1B:
one update per iteration after the flush, the slowest stage's), so no row can beat linear scaling by
leaving it out. A GPipe or 1F1B row can still beat linear scaling: it takes one step per K·b samples
(each stage on its own parameters, a K-th of them) where one device takes a whole step every b; such a
row says so in `superlinear_reason` (its forward and backward alone never beat linear).

`profile` gives its activation and parameter sizes for one minibatch of the per-device batch b
(a CNN architecture derived at b; a measured profile at its own minibatch), and `setup` gives the
per-layer times for any batch.

Throughput is samples per second; speedup is against one device running the same per-device batch
(forward, backward and the optimizer step);
efficiency is speedup / devices used; memory is the peak per device; cost is per million samples where
the cluster has a price. Units: seconds, bytes, samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from planner.cost import data_parallel as dp
from planner.cost.memory import training_memory
from planner.cost.overlap import Overlap
from planner.cost.pipeline import gpipe_time
from planner.cost.pipeline_schedule import simulate
from planner.errors import InfeasibleError
from planner.limits import MAX_MICROBATCHES
from planner.optimize.balance import balance
from planner.optimize.chain_costs import ChainCosts, chain_costs
from planner.optimize.native_types import NativeResult
from planner.optimize.pipeline_native import partition_native
from planner.optimize.plan_rows import Objective, Strategy, rank, recommendation
from planner.spec.hardware import Cluster
from planner.spec.profile import DTYPE_BYTES, ModelProfile


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


def _overlap(setup: dp.Setup) -> Overlap:
    """The data-parallel rows' overlap, for the pipeline's replicated stages."""
    return Overlap(slowdown=setup.slowdown, bucket_bytes=setup.bucket_bytes)


def pipeline_strategy(
    setup: dp.Setup, profile: ModelProfile, devices: int, batch: int, single_throughput: float
) -> Strategy | str:
    """The optimal native pipeline (replicated stages) of `batch`-sample minibatches, or why none fits."""
    cluster = _first(setup.cluster, devices)
    chain = _chain(setup, profile, batch)
    try:
        result = partition_native(
            chain,
            cluster,
            memory_limit_bytes=setup.device.usable_memory,
            optimizer=setup.optimizer,
            use_fewer_machines=True,
            overlap=_overlap(setup),
            update_s_per_parameter_byte=setup.update_s_per_parameter_byte(),
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
        note=f"{len(result.stages)} stages; minibatches of {batch} flow through them asynchronously"
        + (f"; within {result.gap:.2%} of a proven lower bound (bottleneck search)" if result.gap else ""),
        partition=result,
    )


def synchronous_pipeline_strategies(
    setup: dp.Setup,
    profile: ModelProfile,
    devices: int,
    batch: int,
    single_throughput: float,
    rematerialise: bool = True,
) -> list[Strategy] | str:
    """GPipe (re-materialising unless told not to) and 1F1B over a straight pipeline of up to `devices`
    stages, best micro-batch count each."""
    cluster = _first(setup.cluster, devices)
    whole = _chain(setup, profile, batch)
    rate = setup.update_s_per_parameter_byte()
    splits = _straight_and_balanced(whole, cluster, rate, rematerialise)
    if isinstance(splits, str):
        return f"synchronous pipeline: {splits}"
    straight, balanced = splits
    k = len(straight.stages)
    global_batch = k * batch
    best: dict[str, Strategy] = {}
    m = k
    while m <= min(global_batch, max(k, MAX_MICROBATCHES)):
        micro = global_batch / m
        chain = _chain(setup, profile, micro)
        for schedule in ("gpipe", "1f1b"):
            split = balanced if schedule == "gpipe" else straight
            stages = [(s.start, s.end) for s in split.stages]
            update_s = max(whole.parameter_bytes(a, b) for a, b in stages) * rate  # all update at once
            f = [chain.forward_s(a, b) for a, b in stages]
            bw = [chain.backward_s(a, b) for a, b in stages]
            transfer = [s.transfer_in_s * micro / batch / 2.0 for s in split.stages[1:]]  # one direction
            remat = rematerialise and schedule == "gpipe"
            if schedule == "gpipe":
                recompute = f if remat else [0.0] * k
                time = gpipe_time(f, [b + r for b, r in zip(bw, recompute, strict=True)], m, transfer)
            else:
                time = simulate("1f1b", k, m, f, bw, transfer=transfer or (0.0,)).makespan
            time += update_s
            memory = max(
                _sync_stage_memory(setup, chain, stages, i, m, schedule, micro / batch, remat)
                for i in range(k)
            )
            row = Strategy(
                name="GPipe" if schedule == "gpipe" else "1F1B",
                family=schedule,
                config=f"{k} stages, M={m}",
                devices=k,
                samples_per_iteration=global_batch,
                iteration_s=time,
                memory_per_device_bytes=memory,
                fits=memory <= setup.device.usable_memory,
                single_device_throughput=single_throughput,
                servers=_servers(cluster, k),
                price_usd_per_server_hour=None if cluster.price is None else cluster.price.usd_per_hour,
                breakdown={
                    "bubble_fraction": (k - 1) / (m + k - 1),
                    "micro_batch": micro,
                    "update_s": update_s,
                },
                note=f"micro-batches of {micro:g} samples; GPipe advises M >= 4K = {4 * k}"
                + ("; re-materialised" if remat else ""),
                partition=split,
            )
            if row.efficiency > 1.0:
                row = replace(row, superlinear_reason=_amortised_update(k, batch))
            current = best.get(schedule)
            if current is None or (row.fits, -row.iteration_s) > (current.fits, -current.iteration_s):
                best[schedule] = row
        m *= 2
    return list(best.values())


def naive_strategy(
    setup: dp.Setup, profile: ModelProfile, devices: int, batch: int, single_throughput: float
) -> Strategy | str:
    """Naive model parallelism: GPipe's K stages with one micro-batch (M = 1, nothing recomputed), so one
    device works at a time (utilisation 1/K) and each holds about 1/K of the model (GPipe Sec. 2.3, Fig.
    2b); one minibatch of `batch` samples per iteration, as on one device."""
    cluster = _first(setup.cluster, devices)
    chain = _chain(setup, profile, batch)
    rate = setup.update_s_per_parameter_byte()
    splits = _straight_and_balanced(chain, cluster, rate, rematerialise=False)
    if isinstance(splits, str):
        return f"naive model parallelism: {splits}"
    split = splits[1]
    k = len(split.stages)
    stages = [(s.start, s.end) for s in split.stages]
    f = [chain.forward_s(a, b) for a, b in stages]
    bw = [chain.backward_s(a, b) for a, b in stages]
    transfer = [s.transfer_in_s / 2.0 for s in split.stages[1:]]  # one direction
    biggest = max(chain.parameter_bytes(a, b) for a, b in stages)
    update_s = biggest * rate
    memory = max(_sync_stage_memory(setup, chain, stages, i, 1, "gpipe", 1.0, False) for i in range(k))
    largest = biggest / chain.parameter_bytes(0, chain.num_states)
    return Strategy(
        name="Naive model parallel",
        family="gpipe",
        config=f"{k} stages, M=1",
        devices=k,
        samples_per_iteration=batch,
        iteration_s=gpipe_time(f, bw, 1, transfer) + update_s,
        memory_per_device_bytes=memory,
        fits=memory <= setup.device.usable_memory,
        single_device_throughput=single_throughput,
        servers=_servers(cluster, k),
        price_usd_per_server_hour=None if cluster.price is None else cluster.price.usd_per_hour,
        breakdown={
            "bubble_fraction": (k - 1) / k,
            "utilisation": 1.0 / k,
            "largest_stage_parameter_share": largest,
            "update_s": update_s,
        },
        note=f"one device at a time: utilisation 1/K = {1 / k:.3g}; the largest stage holds "
        f"{largest:.0%} of the parameters (1/K = {1 / k:.0%})",
        partition=split,
    )


def _straight_and_balanced(
    chain: ChainCosts, cluster: Cluster, rate: float, rematerialise: bool
) -> tuple[NativeResult, NativeResult] | str:
    """The straight native partition (its K) and GPipe's balance over those K stages, or why none fits."""
    try:
        straight = partition_native(
            chain, cluster, straight=True, use_fewer_machines=True, update_s_per_parameter_byte=rate
        )
    except InfeasibleError as exc:
        return str(exc)
    k = len(straight.stages)
    balanced = _gpipe_balanced(chain, cluster, k, rematerialise, rate) if chain.is_plain else straight
    return straight, balanced


def _gpipe_balanced(
    chain: ChainCosts, cluster: Cluster, stages: int, rematerialise: bool, rate: float
) -> NativeResult:
    """GPipe's own partition of a plain chain into `stages` (planner.optimize.gpipe: the exact min-max
    of forward + backward (+ recompute) per stage, GPipe Sec. 2.2), costed by the native model for its
    transfers (a branchy chain, whose cuts must be valid ranges, keeps the straight native partition)."""
    from planner.optimize.gpipe import layer_weights
    from planner.optimize.native_types import NativeOptions
    from planner.optimize.pipeline_native import NativePlanner

    n = chain.num_states
    forward = [chain.forward_s(i, i + 1) for i in range(n)]
    backward = [chain.backward_s(i, i + 1) for i in range(n)]
    ranges = balance(layer_weights(forward, backward, rematerialise), stages).ranges
    options = NativeOptions(straight=True, update_s_per_parameter_byte=rate)
    return NativePlanner(chain, cluster, options).evaluate([(a, b, 1) for a, b in ranges])


def _amortised_update(stages: int, batch: int) -> str:
    return (
        f"one optimizer step per iteration of {stages * batch} samples, each stage updating only its own "
        f"parameters, against the one-device baseline's full step every {batch} samples; the forward and "
        "backward alone are not faster than linear"
    )


def _sync_stage_memory(
    setup: dp.Setup,
    chain: ChainCosts,
    stages: Sequence[tuple[int, int]],
    index: int,
    m: int,
    schedule: str,
    micro_share: float,
    rematerialise: bool,
) -> float:
    """Peak bytes of stage `index`: its model states plus the activations of its in-flight micro-batches
    (GPipe keeps all M; 1F1B at most K - index, Narayanan et al. 2021 Sec. 2.2); re-materialised, the
    input of each but one and one micro-batch's activations (planner.cost.pipeline.stage_memory; stage
    0's input, the samples themselves, is not counted). The chain's activation sizes are for the
    per-device batch; a micro-batch holds `micro_share` of them."""
    start, end = stages[index]
    parameters = int(chain.parameter_bytes(start, end) / DTYPE_BYTES[chain.dtype])
    in_flight = m if schedule == "gpipe" else min(m, len(stages) - index)
    scale = micro_share * setup.arrays.dtype_scale(setup.dtype)
    held = chain.activation_bytes(start, end) * scale
    boundary = float(chain.output_activation_bytes[start - 1]) * scale if start > 0 else 0.0
    activations = (in_flight - 1) * min(boundary, held) + held if rematerialise else in_flight * held
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
    rematerialise: bool = True  # whether the GPipe row re-materialises

    @property
    def winner(self) -> Strategy | None:
        return next((s for s in self.strategies if s.fits), None)


def compare(
    setup: dp.Setup,
    profile: ModelProfile,
    batch: int,
    objective: Objective = "throughput",
    rematerialise: bool = True,
) -> Comparison:
    """Every strategy on all of `setup.cluster`'s devices with per-device batch `batch`, ranked
    (GPipe re-materialising unless `rematerialise` is False)."""
    devices = setup.cluster.total_devices
    rows, single = data_parallel_strategies(setup, devices, batch)
    notes: list[str] = []
    for outcome in (
        pipeline_strategy(setup, profile, devices, batch, single),
        synchronous_pipeline_strategies(setup, profile, devices, batch, single, rematerialise),
        naive_strategy(setup, profile, devices, batch, single),
    ):
        if isinstance(outcome, str):
            notes.append(outcome)
        elif isinstance(outcome, Strategy):
            rows.append(outcome)
        else:
            rows.extend(outcome)
    ranked = rank(rows, objective)
    return Comparison(
        tuple(ranked), tuple(notes), objective, recommendation(ranked, objective), rematerialise
    )
