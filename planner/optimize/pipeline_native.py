"""Native stage partitioning (`cost_model="native"`, the default): a flat, topology-aware search.

What it optimises: the time per minibatch (of the profile's batch) of PipeDream's asynchronous 1F1B
pipeline in steady state, the largest of its stage terms and its activation-transfer terms (Narayanan et
al., "PipeDream: Generalized Pipeline Parallelism for DNN Training", SOSP 2019, §3.1: the slowest stage
sets the throughput, and communication is a stage of its own; planner.cost.pipeline.
async_steady_state_time). Units: seconds, bytes, bytes/s.

Search space. The model is PipeDream's chain of antichain states (planner.optimize.chain_view; a plain
chain for a sequential model). Devices are numbered 0..N-1 and fill the cluster innermost first
(server s holds a contiguous block). A stage is a contiguous range of states [i, j) on r contiguous
devices starting at offset o, the devices used by the stages before it; consecutive stages cut the chain
at states i whose predecessor state i-1 precedes j-1 in the antichain DAG (so the stages partition the
layers; every cut of a plain chain qualifies). Unlike PipeDream's level-by-level search, a stage's
replicas may span server boundaries: "15-1" on 4 servers × 4 GPUs is a candidate.

Cost terms (assumptions stated; every term per minibatch; the functions are in planner.cost.stage_costs,
the prefix sums in planner.optimize.chain_costs):

* Stage: (F(i,j) + phase + U(i,j)) / r. F and B are the stage's forward and backward time on one
  device; the r replicas take minibatches round-robin (PipeDream §3.2), so the stage finishes r
  minibatches per F + phase + U. `sync` all-reduces the gradients, P(i,j) bytes (the stage's
  parameter bytes), across the r replicas, overlapped with the backward pass as DDP does (Li et al.,
  "PyTorch Distributed", VLDB 2020, §3.2.3: gradient buckets reduce while the backward proceeds; the
  PipeDream runtime wraps a replicated stage in DDP): phase = planner.cost.overlap.backward_phase, the
  backward slowed while the all-reduce overlaps it and the last bucket's all-reduce (min(P, bucket)
  bytes) exposed after it; `overlap=BEST_CASE` gives the perfect-overlap bound max(B, sync). U is the
  optimizer step on the stage's parameters, P(i,j) × `update_s_per_parameter_byte` (0 by default: a
  measured profile says nothing about it; planner.optimize.plan sets it so that every strategy pays it).
* Gradient synchronisation: the fastest of ring, halving-doubling and hierarchical all-reduce
  (planner.cost.cluster_allreduce, alpha-beta) on the links the block of devices actually spans, costed
  as alpha + beta · P per block shape (planner.cost.stage_costs.Topology states how, and its
  approximation: an uneven block is costed as the packed sub-cluster of its shape).
* Activation transfer at a cut i between stage A on devices [p, o) and stage B on [o, q): 2 · a_i / R
  bytes per minibatch (the activations forward and their gradients backward, a_i the output bytes of
  state i-1's augmented antichain, R the activation compression ratio, default 1), charged on the links
  the replicas actually use (planner.cost.cut_links: round-robin senders and receivers, each server's
  NIC carrying its replicas' share; the busiest link sets the term). It is a pipeline term of its own
  (PipeDream overlaps communication with compute). `cut_links="boundary"` charges the whole transfer
  on the link joining devices o-1 and o instead (the approximation before issue 16).
* Memory per device (checked only with a memory limit): model states plus PipeDream's stashed weight
  versions and in-flight activations, v = ceil(D / r) minibatches for D devices from the stage to the
  last (PipeDream §3.3; planner.cost.stage_costs.stage_memory_bytes; for r = 1 this is
  planner.cost.pipeline.stage_memory("pipedream")).
* Data parallelism in the same model: one stage of all the states on all N devices. One device:
  F + B of all the states, nothing to synchronise.

Dynamic program (exact within the model): F[j][d][r] = the best time of states [0, j) on devices
[0, d) whose last stage has r replicas (the cut term after it depends on them), F[0][0][0] = 0,
F[j][d][r] = min over cuts i < j and r' of max(F[i][d-r][r'], transfer(i; d-r-r', d-r, d),
stage(i, j, r, d-r)); the answer is min over r of F[n][N][r], or over d <= N too with
`use_fewer_machines`. `straight` fixes r = 1. A stage over the memory limit is excluded; a stage is
never empty (i < j). With a memory limit the in-flight count depends on the devices the whole pipeline
uses, so with `use_fewer_machines` the program is solved once per total. Vectorised over the valid
(i, j) pairs: for each (d, r), the best prefix per cut (min over r'), the stage terms of every pair at
once and a segmented minimum per j. Complexity: O(N^2 · Q + N^3 · n) time with Q <= n(n+1)/2 valid
pairs (n states, N devices), O(Q + n · N^2) memory, plus the all-reduce patterns costed once each
(cached by block shape); with a memory limit and `use_fewer_machines`, N times that (the stage times
and the cuts' lines are kept). The optimal stages are recovered by re-evaluating only the optimal path's
entries. Ties prefer the largest last stage, then the latest cut. Past the program's limits, plain
chains go to the bottleneck search (planner.optimize.pipeline_scale).

Measured times are used as measured, whatever the cluster's device (PipeDream's graph.txt does not say
where it was profiled); FLOP profiles are timed by the roofline of the cluster's device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.cost.cut_links import CutLinks
from planner.cost.overlap import Overlap, device_overlap
from planner.cost.stage_costs import (
    Topology,
    in_flight,
    stage_memory_bytes,
    stage_time,
    sync_tail,
    sync_time,
)
from planner.errors import InfeasibleError
from planner.optimize.chain_costs import ChainCosts, PairArrays, chain_costs, pair_arrays
from planner.optimize.limits import check_native
from planner.optimize.native_types import (
    NativeOptions,
    NativeResult,
    NativeStage,
    check_options,
    stage_layer_names,
)
from planner.spec.hardware import Cluster, Device
from planner.spec.profile import ModelProfile

INF = math.inf
MEMO_FLOATS = 2**22  # at most 32 MiB of stage times kept (a memory limit with fewer machines re-solves)
Array = NDArray[np.float64]


def partition_native(
    model: ModelProfile | ChainCosts,
    cluster: Cluster,
    *,
    memory_limit_bytes: float | None = None,
    straight: bool = False,
    use_fewer_machines: bool = False,
    activation_compression_ratio: float = 1.0,
    optimizer: str = "sgd",
    overlap: Overlap | None = None,
    update_s_per_parameter_byte: float = 0.0,
    cut_links: str = "replicas",
) -> NativeResult:
    """The optimal native partition of `model` (a measured profile, or ChainCosts) on `cluster` (see the
    module doc). Raises SpecError for a bad option, InfeasibleError when nothing fits (the memory limit,
    or a straight pipeline with more devices than states and no use_fewer_machines)."""
    options = NativeOptions(
        memory_limit_bytes=None if memory_limit_bytes is None else float(memory_limit_bytes),
        straight=bool(straight),
        use_fewer_machines=bool(use_fewer_machines),
        activation_compression_ratio=float(activation_compression_ratio),
        optimizer=optimizer,
        overlap=device_overlap(cluster_device(cluster)) if overlap is None else overlap,
        update_s_per_parameter_byte=float(update_s_per_parameter_byte),
        cut_links=cut_links,
    )
    return NativePlanner(model, cluster, options).optimum()


def cluster_device(cluster: Cluster) -> Device | None:
    """The cluster's device, or None for one built from bandwidths alone (measured times need none)."""
    return cluster.device if isinstance(cluster.device, Device) else None


class NativePlanner:
    """One model on one cluster with fixed options: the optimum, or the figures of any plan.

    Holds the dynamic program's arrays; the table fill, the reconstruction and `evaluate` share the
    same arithmetic, so a reconstructed stage reproduces its table entry exactly.
    """

    def __init__(
        self, model: ModelProfile | ChainCosts, cluster: Cluster, options: NativeOptions | None = None
    ):
        costs = model if isinstance(model, ChainCosts) else chain_costs(model)
        self.costs = costs
        self.topology = Topology(cluster)
        self.options = options or NativeOptions()
        self.state_factor = check_options(self.options, costs.dtype)
        self.cut_links = CutLinks(cluster, boundary=self.options.cut_links == "boundary")
        self.stage_times: dict[tuple[int, int], Array] = {}  # per (r, offset), every pair

    @cached_property
    def pairs(self) -> PairArrays:
        """The dynamic program's per-pair figures, built on first use."""
        return pair_arrays(self.costs)

    def transfer_time(self, cut: Any, first: int, offset: int, end: int) -> Array:
        """Transfer term of the cut before state `cut` (>= 1; array) between the stages on devices
        [first, offset) and [offset, end) (planner.cost.cut_links)."""
        activation = self.costs.output_activation_bytes[np.asarray(cut) - 1]
        return self.cut_links.term(activation / self.options.activation_compression_ratio, first, offset, end)

    def optimum(self) -> NativeResult:
        """The optimal partition (InfeasibleError when none fits, or when the search exceeds the limits)."""
        options, devices = self.options, self.topology.total
        per_total = options.memory_limit_bytes is not None and options.use_fewer_machines
        try:
            check_native(
                self.costs.num_states, len(self.costs.pair_start), devices, options.straight, per_total
            )
        except InfeasibleError as refused:
            if not self.costs.is_plain:
                raise
            from planner.optimize.limits import check_bottleneck
            from planner.optimize.pipeline_scale import optimum_at_scale

            try:
                check_bottleneck(self.costs.num_states, devices, self.topology.groups, options.straight)
            except InfeasibleError as too_big:
                raise InfeasibleError(f"{refused}; {too_big}") from None
            return optimum_at_scale(self)  # past the program's limits: the bottleneck search
        best_time, best_total, table = INF, 0, None
        if per_total:
            for total in range(1, devices + 1):  # the in-flight counts depend on the devices used
                candidate = self.solve(total)
                if candidate[-1, total].min() < best_time:
                    best_time, best_total, table = float(candidate[-1, total].min()), total, candidate
        else:
            table = self.solve(devices)
            for total in range(1, devices + 1) if options.use_fewer_machines else [devices]:
                if table[-1, total].min() < best_time:  # ascending: fewer devices win ties
                    best_time, best_total = float(table[-1, total].min()), total
        if table is None or not math.isfinite(best_time):
            raise InfeasibleError(
                "no native partition fits: every candidate stage exceeds the memory limit, or a straight "
                f"pipeline needs at least as many states ({self.costs.num_states}) as devices"
            )
        return self.result(self.reconstruct(table, best_total), best_time)

    def evaluate(self, stages: Sequence[tuple[int, int, int]]) -> NativeResult:
        """The figures of a plan: stages (start, end, replicas), consecutive from state 0 to the last, on
        devices 0, 1, ... in order. Its pipeline time is the largest stage or transfer term (+inf when a
        stage exceeds the memory limit). ValueError for a plan that is not a partition of the states into
        valid ranges on at most the cluster's devices."""
        costs = self.costs
        bounds, offset, previous = [], 0, 0
        for start, end, replicas in stages:
            if start != previous or not costs.is_valid(start, end) or replicas < 1:
                raise ValueError(
                    f"stage ({start}, {end}, {replicas}) does not continue a partition at {previous}"
                )
            bounds.append((start, end, replicas, offset))
            offset, previous = offset + replicas, end
        if previous != costs.num_states or offset > self.topology.total:
            raise ValueError(
                f"a plan covers states [0, {costs.num_states}) on at most {self.topology.total} devices"
            )
        built = self.stages(bounds, offset)
        time = max(max(stage.time_s, stage.transfer_in_s) for stage in built)
        limit = self.options.memory_limit_bytes
        if limit is not None and any(stage.memory_bytes > limit for stage in built):
            time = INF
        return self.result(built, time)

    def stage_terms(self, rows: Any, replicas: int, offset: int, total: int) -> Array:
        """Stage terms (F + phase + U) / r of the pairs `rows` (indices or a slice) on devices
        [offset, offset + r) of a `total`-device pipeline; +inf over the memory limit."""
        pairs = self.pairs
        time = self.stage_times.get((replicas, offset))
        if time is None:
            time = self._stage_times(replicas, offset)
            if len(pairs.i) * len(self.stage_times) < MEMO_FLOATS:  # the solves of each total reuse them
                self.stage_times[replicas, offset] = time
        time = time[rows]
        limit = self.options.memory_limit_bytes
        if limit is not None:
            versions = in_flight(total - offset, replicas)
            memory = stage_memory_bytes(
                pairs.parameters[rows], pairs.activations[rows], versions, self.state_factor
            )
            time = np.where(memory > limit, INF, time)
        return time

    def _stage_times(self, replicas: int, offset: int) -> Array:
        pairs, options = self.pairs, self.options
        update = pairs.parameters * options.update_s_per_parameter_byte
        if replicas == 1:
            return pairs.compute + update
        alpha, beta = self.topology.sync_coefficients(replicas, offset)
        sync = sync_time(pairs.parameters, alpha, beta)
        tail = sync_tail(pairs.parameters, alpha, beta, options.overlap.bucket_bytes)
        return stage_time(
            pairs.forward, pairs.backward, sync, replicas, overlap=options.overlap, tail=tail, update=update
        )

    def replica_counts(self, devices: int) -> range:
        return range(1, 2) if self.options.straight else range(1, devices + 1)

    def solve(self, total: int) -> Array:
        """F[j][d][r] for d <= total (r: the last stage's replicas), an (n + 1, total + 1, total + 1)
        array (+inf: infeasible)."""
        pairs = self.pairs
        n = self.costs.num_states
        table = np.full((n + 1, total + 1, total + 1), INF)
        table[0, 0, 0] = 0.0
        every = slice(None)
        ends = pairs.j[pairs.group_start]
        for d in range(1, total + 1):
            for r in self.replica_counts(d):
                o = d - r
                column = table[:, d, r]
                if o == 0:
                    values = self.stage_terms(pairs.first_pairs, r, 0, total)
                    np.minimum(column[1:], values, out=column[1:])
                    continue
                prefix = self.prefix(table, o, r)
                if not np.isfinite(prefix).any():
                    continue
                values = np.maximum(prefix[pairs.i], self.stage_terms(every, r, o, total))
                best = np.minimum.reduceat(values, pairs.group_start)
                column[ends] = np.minimum(column[ends], best)
        return table

    def prefix(self, table: Array, offset: int, replicas: int) -> Array:
        """Per cut i: the best plan of states [0, i) on devices [0, offset) followed by its cut onto a
        stage of `replicas` at `offset`, min over the last stage's replicas r' of max(F[i][offset][r'],
        transfer); +inf where none (i = 0 and i = n included)."""
        n, best = self.costs.num_states, np.full(self.costs.num_states + 1, INF)
        befores = np.array(self.replica_counts(offset))
        columns = table[1:n, offset, befores]  # (cut, r')
        reached = np.isfinite(columns).any(axis=0)
        if not reached.any():
            return best
        activation = self.costs.output_activation_bytes[: n - 1] / self.options.activation_compression_ratio
        # every r' asked for, so the links' lines are cached across the solves of each total
        transfer = self.cut_links.terms(activation, tuple(offset - befores), offset, offset + replicas)
        best[1:n] = np.maximum(columns[:, reached], transfer[:, reached]).min(axis=1)
        return best

    def _pick(self, table: Array, j: int, d: int, r: int, total: int) -> tuple[int, int]:
        """(i, r') of entry F[j][d][r]: the cut and the replicas of the stage before it (0 for none), the
        latest cut first, then the most replicas."""
        pairs, value = self.pairs, table[j, d, r]
        rows = np.flatnonzero(pairs.j == j)
        o = d - r
        if o == 0:
            assert self.stage_terms(rows[pairs.i[rows] == 0], r, 0, total)[0] == value
            return 0, 0
        here = rows[pairs.i[rows] > 0]
        cuts = pairs.i[here]
        stage = self.stage_terms(here, r, o, total)
        for i in sorted(set(cuts.tolist()), reverse=True):
            at = cuts == i
            for before in sorted(self.replica_counts(o), reverse=True):
                transfer = self.transfer_time(i, o - before, o, d)
                if np.any(np.maximum(np.maximum(table[i, o, before], transfer), stage[at]) == value):
                    return i, before
        raise AssertionError(f"no candidate reproduces F[{j}][{d}][{r}]")

    def reconstruct(self, table: Array, total: int) -> list[NativeStage]:
        """The stages of the best entry F[n][total][r], the most replicas r among equals."""
        j, d = self.costs.num_states, total
        last = table[j, d]
        r = int(np.flatnonzero(last == last.min()).max())
        bounds = []
        while j > 0:
            i, before = self._pick(table, j, d, r, total)
            bounds.append((i, j, r, d - r))
            j, d, r = i, d - r, before
        bounds.reverse()
        return self.stages(bounds, total)

    def stages(self, bounds: list[tuple[int, int, int, int]], total: int) -> list[NativeStage]:
        """The stages (start, end, replicas, first device) of a pipeline on `total` devices."""
        names = stage_layer_names(self.costs, [end for _, end, _, _ in bounds])
        firsts = [0] + [o for _, _, _, o in bounds[:-1]]  # the first device of the stage before each
        return [
            self._stage(i, j, r, o, total, layer_names, before)
            for (i, j, r, o), layer_names, before in zip(bounds, names, firsts, strict=True)
        ]

    def _stage(
        self, i: int, j: int, r: int, o: int, total: int, names: tuple[str, ...], before: int = 0
    ) -> NativeStage:
        costs, topology = self.costs, self.topology
        parameters, activations = costs.parameter_bytes(i, j), costs.activation_bytes(i, j)
        forward, backward = costs.forward_s(i, j), costs.backward_s(i, j)
        sync = float(topology.sync_time(parameters, r, o))
        tail = topology.sync_tail_time(parameters, r, o, self.options.overlap.bucket_bytes)
        update = parameters * self.options.update_s_per_parameter_byte
        time = stage_time(forward, backward, sync, r, overlap=self.options.overlap, tail=tail, update=update)
        versions = in_flight(total - o, r)
        transfer = float(self.transfer_time(i, before, o, o + r)) if i > 0 else 0.0
        moved = float(costs.output_activation_bytes[i - 1]) / self.options.activation_compression_ratio
        return NativeStage(
            start=i,
            end=j,
            layer_names=names,
            replicas=r,
            first_device=o,
            time_s=float(time),
            forward_s=forward,
            backward_s=backward,
            sync_s=sync,
            sync_algorithm=topology.sync_algorithm(parameters, r, o),
            transfer_in_s=transfer,
            transfer_link=self.cut_links.busiest(moved, before, o, o + r) if i > 0 else None,
            parameter_bytes=parameters,
            activation_bytes=activations,
            in_flight=versions,
            memory_bytes=float(stage_memory_bytes(parameters, activations, versions, self.state_factor)),
            update_s=update,
        )

    def result(self, stages: list[NativeStage], time: float) -> NativeResult:
        costs = self.costs
        return NativeResult(
            pipeline_time_s=time,
            data_parallel_time_s=self.data_parallel_time(),
            single_device_time_s=float(costs.cum_forward_s[-1] + costs.cum_backward_s[-1]) + self.update_s(),
            stages=tuple(stages),
            num_devices=self.topology.total,
            num_states=costs.num_states,
            options=self.options,
            linearised_blocks=costs.view.linearised_blocks if costs.view is not None else 0,
        )

    def data_parallel_time(self) -> float:
        """All the states as one stage on all N devices (no memory check)."""
        n, total = self.costs.num_states, self.topology.total
        return self._stage(0, n, total, 0, total, ()).time_s

    def update_s(self) -> float:
        """The optimizer step on all the model's parameters on one device, seconds."""
        return self.costs.parameter_bytes(0, self.costs.num_states) * self.options.update_s_per_parameter_byte
