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

Cost terms (assumptions stated; every term per minibatch):

* Stage: (F(i,j) + max(B(i,j), sync)) / r. F and B are the stage's forward and backward time on one
  device; the r replicas take minibatches round-robin (PipeDream §3.2), so the stage finishes r
  minibatches per F + max(B, sync). `sync` all-reduces the gradients, P(i,j) bytes (the stage's
  parameter bytes), across the r replicas, overlapped with the backward pass as DDP does (Li et al.,
  "PyTorch Distributed", VLDB 2020, §3.2.3: gradient buckets reduce while the backward proceeds);
  max(B, sync) is the simple bound of a perfect overlap (no bucket granularity, no tail after the
  last layer's gradient).
* Gradient synchronisation: the fastest of ring, halving-doubling and hierarchical all-reduce
  (planner.cost.collectives, alpha-beta) on the links the block of devices actually spans: inside one
  server only the intra-server link, across servers the server NICs as well. Each of these algorithms
  costs alpha + beta · P on a fixed placement (affine in bytes; tests check it), so for each block
  pattern (r, o) the coefficients are computed once from `allreduce_on_cluster` at two message sizes,
  and the sync of any P is min over the algorithms of alpha + beta · P, vectorised (0 when P = 0 or
  r = 1). Approximation: a block is costed as the packed sub-cluster of its shape (per level, the units
  it spans and ceil(devices / units) devices per unit, filled innermost first), so an uneven block,
  e.g. 1 + 3 devices over two servers, is costed as 2 + 2.
* Activation transfer at a cut i, between the stage ending on device o-1 and the one starting on
  device o: 2 · a_i / R (the activations forward and their gradients backward, a_i the output bytes
  of state i-1's augmented antichain, R the activation compression ratio, default 1) over the link that
  joins devices o-1 and o (the intra-server link if they share a server, else the link of the lowest
  level that contains both): 2 · (a_i / R) / (bandwidth · efficiency) + 2 · latency. It is a pipeline
  term of its own (PipeDream overlaps communication with compute). Approximation: the link at the
  boundary stands for all replicas' transfers (a replicated neighbour sends some minibatches over other
  links, e.g. the NIC of another server).
* Memory per device (checked only with a memory limit): weights, gradients and optimizer state of the
  stage's parameters (planner.cost.memory.state_bytes_per_parameter, SGD with momentum by default),
  plus PipeDream's weight stashing and in-flight activations: a replica holds v = ceil(D / r)
  minibatches in flight, D the devices from the stage's first to the pipeline's last (PipeDream §3.3:
  "stages after this one + 1" for a straight pipeline, D / r when each replica takes every r-th
  minibatch), each with a stashed weight version (v - 1 copies beyond the live one) and the stage's
  activations A(i,j) (every layer output of the stage, per minibatch). For r = 1 this is
  planner.cost.pipeline.stage_memory("pipedream").
* Data parallelism in the same model: one stage of all the states on all N devices. One device:
  F + B of all the states, nothing to synchronise.

Dynamic program (exact within the model): F[j][d] = the best time of states [0, j) on devices [0, d),
F[0][0] = 0, F[j][d] = min over cuts i < j and replicas 1 <= r <= d of max(F[i][d-r], transfer(i, d-r),
stage(i, j, r, d-r)); the answer is F[n][N], or min over d <= N of F[n][d] with `use_fewer_machines`.
`straight` fixes r = 1. A stage over the memory limit is excluded; a stage is never empty (i < j).
With a memory limit the in-flight count depends on the devices the whole pipeline uses, so with
`use_fewer_machines` the program is solved once per total. Vectorised over the valid (i, j) pairs: for
each (d, r), the stage terms of every pair at once, the max with the prefix column, and a segmented
minimum per j. Complexity: O(N^2 · Q) time with Q <= n(n+1)/2 valid pairs (n states, N devices), O(Q +
n · N) memory, plus O(N^2) all-reduce patterns costed once each (cached by block shape); with a memory
limit and `use_fewer_machines`, O(N^3 · Q). The optimal stages are recovered by re-evaluating only the
entries on the optimal path. Ties (zero-cost layers) prefer the fewest stages: the largest r first,
then the latest cut.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.errors import InfeasibleError, SpecError
from planner.optimize.chain_view import ChainView, build_chain_view
from planner.spec.hardware import Cluster, Level, Link
from planner.spec.profile import DTYPE_BYTES, ModelProfile

INF = math.inf
SYNC_ALGORITHMS: tuple[str, ...] = ("ring", "halving-doubling", "hierarchical")
_PROBE_BYTES = (2.0**20, 2.0**21)  # message sizes at which the affine all-reduce coefficients are read

Array = NDArray[np.float64]


# ------------------------------------------------------------------------------------------ the chain


@dataclass(frozen=True, eq=False)
class ChainCosts:
    """Prefix sums over the chain's states (index s + 1 covers states 0..s; index 0 is 0) and the valid
    stage ranges [i, j) as pairs sorted by j then i.

    Units: seconds per minibatch (forward, backward on one device), bytes (parameters, activations).
    `output_activation_bytes[s]` is what crosses a cut after state s. `view` is the chain view the
    states come from (None for a plain chain built from arrays, whose state s is layer s).
    """

    cum_forward_s: Array
    cum_backward_s: Array
    cum_parameter_bytes: Array
    cum_activation_bytes: Array
    output_activation_bytes: Array
    pair_start: NDArray[np.int64]
    pair_end: NDArray[np.int64]
    layer_names: tuple[str, ...]
    view: ChainView | None = None
    dtype: str = "fp32"

    @property
    def num_states(self) -> int:
        return len(self.cum_forward_s) - 1

    def forward_s(self, i: int, j: int) -> float:
        return float(self.cum_forward_s[j] - self.cum_forward_s[i])

    def backward_s(self, i: int, j: int) -> float:
        return float(self.cum_backward_s[j] - self.cum_backward_s[i])

    def parameter_bytes(self, i: int, j: int) -> float:
        return float(self.cum_parameter_bytes[j] - self.cum_parameter_bytes[i])

    def activation_bytes(self, i: int, j: int) -> float:
        return float(self.cum_activation_bytes[j] - self.cum_activation_bytes[i])

    def is_valid(self, i: int, j: int) -> bool:
        """Whether [i, j) is a stage range: i < j, and state i-1 precedes state j-1 (a plain chain: any)."""
        if not 0 <= i < j <= self.num_states:
            return False
        if i == 0 or self.view is None:
            return True
        before = self.view.predecessors[j - 1]
        k = int(np.searchsorted(before, i - 1))
        return k < len(before) and int(before[k]) == i - 1


def chain_costs(
    profile: ModelProfile, forward_s: Sequence[float] | None = None, backward_s: Sequence[float] | None = None
) -> ChainCosts:
    """The chain view of `profile` with separate forward and backward prefix sums.

    `forward_s` / `backward_s` give each layer's time per minibatch by profile index (e.g. from
    planner.cost.compute.layer_times); by default the profile's measured times (PipeDream's graph.txt:
    per minibatch; Input sources and __getitem__ sinks are left out as in the chain view).
    """
    if (forward_s is None) != (backward_s is None):
        raise ValueError("give both forward_s and backward_s, or neither")
    if forward_s is None:
        missing = [
            i for i, layer in enumerate(profile.layers) if layer.forward_time is None and not layer.is_input
        ]
        if missing:
            raise SpecError(
                f"profile {profile.name}",
                f"layers[{missing[0]}].forward_time",
                "expected measured layer times, or times derived from FLOP (a CNN architecture)",
                show_got=False,
            )
        forward_s = [layer.forward_time or 0.0 for layer in profile.layers]
        backward_s = [layer.backward_time or 0.0 for layer in profile.layers]
    assert backward_s is not None
    forward_view = build_chain_view(profile, layer_time_s=forward_s)
    backward_view = build_chain_view(profile, layer_time_s=backward_s)
    start, end = _valid_pairs(forward_view)
    return ChainCosts(
        cum_forward_s=forward_view.cum_compute_s,
        cum_backward_s=backward_view.cum_compute_s,
        cum_parameter_bytes=forward_view.cum_parameter_bytes,
        cum_activation_bytes=forward_view.cum_activation_bytes,
        output_activation_bytes=forward_view.output_activation_bytes,
        pair_start=start,
        pair_end=end,
        layer_names=forward_view.layer_names,
        view=forward_view,
        dtype=profile.dtype,
    )


def plain_chain(
    forward_s: Sequence[float],
    backward_s: Sequence[float],
    parameter_bytes: Sequence[float],
    activation_bytes: Sequence[float],
    names: Sequence[str] | None = None,
    dtype: str = "fp32",
) -> ChainCosts:
    """A sequential chain given as per-layer arrays (layer s is state s; every cut is valid)."""
    arrays = [np.asarray(v, dtype=float) for v in (forward_s, backward_s, parameter_bytes, activation_bytes)]
    count = len(arrays[0])
    if count == 0 or any(a.shape != (count,) for a in arrays):
        raise ValueError("need one forward time, backward time, parameter and activation size per layer")
    if any(np.any(a < 0) or not np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("layer figures must be finite and >= 0")
    ends, starts = np.tril_indices(count + 1, -1)  # (j, i) with i < j, sorted by j then i
    cum = [np.concatenate(([0.0], np.cumsum(a))) for a in arrays]
    return ChainCosts(
        cum_forward_s=cum[0],
        cum_backward_s=cum[1],
        cum_parameter_bytes=cum[2],
        cum_activation_bytes=cum[3],
        output_activation_bytes=arrays[3],
        pair_start=starts.astype(np.int64),
        pair_end=ends.astype(np.int64),
        layer_names=tuple(names) if names is not None else tuple(f"layer{s}" for s in range(count)),
        dtype=dtype,
    )


def _valid_pairs(view: ChainView) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Stage ranges [i, j): i = 0, or state i-1 precedes state j-1 in the antichain DAG."""
    starts, ends = [], []
    for j in range(1, view.num_states + 1):
        before = view.predecessors[j - 1] + 1
        starts.append(np.concatenate(([0], before)).astype(np.int64))
        ends.append(np.full(len(before) + 1, j, dtype=np.int64))
    return np.concatenate(starts), np.concatenate(ends)


# ------------------------------------------------------------------------------------------- topology


class Topology:
    """Where a block of devices sits on a cluster, and what its gradient sync and boundary transfers cost.

    Devices fill the cluster innermost first; `groups[l]` devices make one unit of level l+1 (one server
    for l = 0), `groups[-1]` is the whole cluster.
    """

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.counts = tuple(level.count for level in cluster.levels)
        self.groups = tuple(math.prod(self.counts[: k + 1]) for k in range(len(self.counts)))
        self.total = self.groups[-1]
        self._coefficients: dict[tuple[int, ...], tuple[Array, Array]] = {}

    def block_counts(self, replicas: int, offset: int) -> tuple[int, ...]:
        """Level counts of the packed sub-cluster shaped like devices [offset, offset + replicas): per
        level, the units it spans and ceil(devices below / units) per unit."""
        last = offset + replicas - 1
        counts = []
        below = replicas
        for group in self.groups:
            spanned = last // group - offset // group + 1
            counts.append(math.ceil(below / spanned))
            below = spanned
        return tuple(counts)

    def sync_coefficients(self, replicas: int, offset: int) -> tuple[Array, Array]:
        """(alpha s, beta s/byte) of each of SYNC_ALGORITHMS for the block: all-reduce time alpha + beta·P."""
        counts = self.block_counts(replicas, offset)
        key = (replicas, *counts)
        cached = self._coefficients.get(key)
        if cached is None:
            cached = self._coefficients[key] = _affine_coefficients(self.cluster, counts, replicas)
        return cached

    def sync_time(self, parameter_bytes: Any, replicas: int, offset: int) -> Array:
        """Fastest all-reduce of `parameter_bytes` (array) over the block, seconds (0 for P = 0 or r = 1)."""
        size = np.asarray(parameter_bytes, dtype=float)
        if replicas == 1:
            return np.zeros_like(size)
        alpha, beta = self.sync_coefficients(replicas, offset)
        return sync_time(size, alpha, beta)

    def sync_algorithm(self, parameter_bytes: float, replicas: int, offset: int) -> str | None:
        """The fastest algorithm for one message (None when nothing is synchronised)."""
        if replicas == 1 or parameter_bytes <= 0:
            return None
        alpha, beta = self.sync_coefficients(replicas, offset)
        return SYNC_ALGORITHMS[int(np.argmin(alpha + beta * parameter_bytes))]

    def cut_link(self, offset: int) -> Link:
        """The link joining devices offset-1 and offset: that of the lowest level containing both."""
        for level, group in zip(self.cluster.levels, self.groups, strict=True):
            if (offset - 1) // group == offset // group:
                return level.link
        raise AssertionError("the outermost level contains every device")

    def transfer_time(self, activation_bytes: Any, offset: int, compression: float = 1.0) -> Array:
        """Activations forward and gradients backward across the cut before device `offset`, seconds:
        2 · (a / R) / (bandwidth · efficiency) + 2 · latency (alpha-beta, planner.cost.pipeline)."""
        from planner.cost.pipeline import activation_transfer_time

        link = self.cut_link(offset)
        size = np.asarray(activation_bytes, dtype=float) / compression
        return 2.0 * np.asarray(
            activation_transfer_time(size, link.bandwidth, link.efficiency, link.latency), dtype=float
        )


def sync_time(parameter_bytes: Any, alpha: Any, beta: Any) -> Array:
    """min over the algorithms k of alpha[k] + beta[k]·P, 0 where P = 0 (seconds). alpha[k] and beta[k]
    are scalars or arrays broadcasting against P (one block pattern per entry)."""
    size = np.asarray(parameter_bytes, dtype=float)
    positive = (size > 0).astype(float)
    best = alpha[0] * positive + beta[0] * size
    for a, b in zip(alpha[1:], beta[1:], strict=True):
        best = np.minimum(best, a * positive + b * size)
    return best


def stage_time(forward: Any, backward: Any, sync: Any, replicas: Any) -> Array:
    """A stage's pipeline term per minibatch, seconds: (F + max(B, sync)) / r (DDP-style overlap bound)."""
    return (np.asarray(forward, dtype=float) + np.maximum(backward, sync)) / replicas


def _affine_coefficients(cluster: Cluster, counts: tuple[int, ...], replicas: int) -> tuple[Array, Array]:
    from planner.cost.collectives import allreduce_on_cluster

    levels = tuple(replace(level, count=count) for level, count in zip(cluster.levels, counts, strict=True))
    sub = replace(cluster, levels=levels)
    small, large = _PROBE_BYTES
    alpha, beta = [], []
    for algorithm in SYNC_ALGORITHMS:
        t_small = allreduce_on_cluster(sub, small, algorithm, devices=replicas).time_s
        t_large = allreduce_on_cluster(sub, large, algorithm, devices=replicas).time_s
        slope = (t_large - t_small) / (large - small)
        beta.append(max(slope, 0.0))
        alpha.append(max(t_small - slope * small, 0.0))  # clamp round-off: costs never decrease with P
    return np.array(alpha), np.array(beta)


def cluster_from_levels(levels: Sequence[tuple[int, float]], name: str = "levels") -> Cluster:
    """A cluster from (count, bandwidth bytes/s) per level, innermost first (PipeDream's -n/-b), with the
    catalog-free defaults: latency 0, efficiency 1, no device (measured times need none). Levels are
    named gpu, server, then level2, level3..."""
    names = ["gpu", "server"]
    built = tuple(
        Level(
            name=names[k] if k < len(names) else f"level{k}",
            count=int(count),
            link=Link(bandwidth=float(bandwidth), latency=0.0, efficiency=1.0, name="from --levels"),
        )
        for k, (count, bandwidth) in enumerate(levels)
    )
    return Cluster(spec="cluster", name=name, device="(none: measured times)", levels=built)


# -------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class NativeOptions:
    """Switches of the native search (see the module doc). `memory_limit_bytes` None: no memory check."""

    memory_limit_bytes: float | None = None
    straight: bool = False
    use_fewer_machines: bool = False
    activation_compression_ratio: float = 1.0
    optimizer: str = "sgd"


def _check_options(options: NativeOptions, dtype: str) -> float:
    """SpecError for a bad option; returns the bytes of model states per parameter byte."""
    from planner.cost.memory import OPTIMIZERS, state_bytes_per_parameter

    limit = options.memory_limit_bytes
    if limit is not None and not (math.isfinite(limit) and limit >= 0):
        raise SpecError("options", "memory_limit_bytes", "expected a finite memory limit >= 0", limit)
    ratio = options.activation_compression_ratio
    if not (math.isfinite(ratio) and ratio > 0):
        raise SpecError("options", "activation_compression_ratio", "expected a finite ratio > 0", ratio)
    if options.optimizer not in OPTIMIZERS:
        raise SpecError("options", "optimizer", f"expected one of {', '.join(OPTIMIZERS)}", options.optimizer)
    return state_bytes_per_parameter(dtype, options.optimizer).total / DTYPE_BYTES[dtype]


def in_flight(devices_from_stage: int, replicas: int) -> int:
    """Minibatches a replica holds in flight: ceil(D / r), D the devices from this stage to the last
    (PipeDream SOSP'19 §3.3; K - k for stage k of a straight pipeline of K)."""
    return -(-devices_from_stage // replicas)


def stage_memory_bytes(
    parameter_bytes: Any, activation_bytes: Any, versions: int, state_factor: float
) -> Array:
    """Bytes per device: model states (state_factor × P: weights, gradients, optimizer state), the
    v - 1 stashed weight versions and v minibatches of the stage's activations."""
    p = np.asarray(parameter_bytes, dtype=float)
    return state_factor * p + (versions - 1) * p + versions * np.asarray(activation_bytes, dtype=float)


# --------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class NativeStage:
    """One stage: states [start, end) on devices [first_device, first_device + replicas).

    `time_s` = (forward_s + max(backward_s, sync_s)) / replicas, its pipeline term; `transfer_in_s` the
    transfer term of the cut before it (0 for the first stage). Times per minibatch, sizes in bytes,
    `memory_bytes` per device.
    """

    start: int
    end: int
    layer_names: tuple[str, ...]
    replicas: int
    first_device: int
    time_s: float
    forward_s: float
    backward_s: float
    sync_s: float
    sync_algorithm: str | None
    transfer_in_s: float
    transfer_link: str | None
    parameter_bytes: float
    activation_bytes: float
    in_flight: int
    memory_bytes: float

    @property
    def devices(self) -> tuple[int, ...]:
        return tuple(range(self.first_device, self.first_device + self.replicas))

    @property
    def compute_s(self) -> float:
        return self.forward_s + self.backward_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": [self.start, self.end],
            "layer_names": list(self.layer_names),
            "replicas": self.replicas,
            "devices": list(self.devices),
            "time_s": self.time_s,
            "compute_s": self.compute_s,
            "forward_s": self.forward_s,
            "backward_s": self.backward_s,
            "sync_s": self.sync_s,
            "sync_algorithm": self.sync_algorithm,
            "transfer_in_s": self.transfer_in_s,
            "transfer_link": self.transfer_link,
            "parameter_bytes": self.parameter_bytes,
            "activation_bytes": self.activation_bytes,
            "in_flight_minibatches": self.in_flight,
            "memory_bytes": self.memory_bytes,
        }


def config_string(replicas: Sequence[int]) -> str:
    """ "straight" for an unreplicated pipeline of >= 2 stages, else the replicas joined by "-" ("15-1";
    "16" is data parallelism on 16 devices)."""
    if len(replicas) >= 2 and all(r == 1 for r in replicas):
        return "straight"
    return "-".join(str(r) for r in replicas)


@dataclass(frozen=True)
class NativeResult:
    """The optimal partition in the native model (seconds per minibatch of the profile's batch)."""

    pipeline_time_s: float
    data_parallel_time_s: float
    single_device_time_s: float
    stages: tuple[NativeStage, ...]
    num_devices: int
    num_states: int
    options: NativeOptions
    cost_model: str = "native"

    @property
    def config(self) -> str:
        return config_string([stage.replicas for stage in self.stages])

    @property
    def devices_used(self) -> int:
        return sum(stage.replicas for stage in self.stages)

    @property
    def speedup_over_dp(self) -> float:
        return _ratio(self.data_parallel_time_s, self.pipeline_time_s)

    @property
    def speedup_over_single(self) -> float:
        return _ratio(self.single_device_time_s, self.pipeline_time_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_model": self.cost_model,
            "config": self.config,
            "pipeline_time_s": self.pipeline_time_s,
            "data_parallel_time_s": self.data_parallel_time_s,
            "single_device_time_s": self.single_device_time_s,
            "speedup_over_dp": self.speedup_over_dp,
            "speedup_over_single": self.speedup_over_single,
            "num_devices": self.num_devices,
            "devices_used": self.devices_used,
            "num_states": self.num_states,
            "stages": [stage.to_dict() for stage in self.stages],
        }


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0:
        return 1.0 if numerator == 0 else INF
    return numerator / denominator


# -------------------------------------------------------------------------------------------- solving


def partition_native(
    model: ModelProfile | ChainCosts,
    cluster: Cluster,
    *,
    memory_limit_bytes: float | None = None,
    straight: bool = False,
    use_fewer_machines: bool = False,
    activation_compression_ratio: float = 1.0,
    optimizer: str = "sgd",
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
    )
    return NativePlanner(model, cluster, options).optimum()


def evaluate_plan(
    model: ModelProfile | ChainCosts,
    cluster: Cluster,
    stages: Sequence[tuple[int, int, int]],
    *,
    memory_limit_bytes: float | None = None,
    activation_compression_ratio: float = 1.0,
    optimizer: str = "sgd",
) -> NativeResult:
    """The native model's figures for a given plan (see NativePlanner.evaluate)."""
    options = NativeOptions(
        memory_limit_bytes=None if memory_limit_bytes is None else float(memory_limit_bytes),
        activation_compression_ratio=float(activation_compression_ratio),
        optimizer=optimizer,
    )
    return NativePlanner(model, cluster, options).evaluate(stages)


@dataclass(frozen=True, eq=False)
class _PairArrays:
    """Per valid pair (i, j) (sorted by j, then i): its figures; `group_start` the first pair of each j,
    `first_pairs` the pairs with i = 0 (one per j); transfer[i, o] the term of the cut before state i onto
    device o (i >= 1, o >= 1; +inf elsewhere)."""

    i: NDArray[np.int64]
    j: NDArray[np.int64]
    forward: Array
    backward: Array
    parameters: Array
    activations: Array
    compute: Array
    group_start: NDArray[np.int64]
    first_pairs: NDArray[np.int64]
    transfer: Array


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
        self.state_factor = _check_options(self.options, costs.dtype)

    @cached_property
    def pairs(self) -> _PairArrays:
        """The dynamic program's per-pair figures and transfer table, built on first use."""
        costs, topology = self.costs, self.topology
        i, j = costs.pair_start, costs.pair_end
        forward = costs.cum_forward_s[j] - costs.cum_forward_s[i]
        backward = costs.cum_backward_s[j] - costs.cum_backward_s[i]
        n, total = costs.num_states, topology.total
        transfer = np.full((n + 1, total + 1), INF)
        for o in range(1, total):
            transfer[1:n, o] = self.transfer_time(np.arange(1, n), o)
        return _PairArrays(
            i=i,
            j=j,
            forward=forward,
            backward=backward,
            parameters=costs.cum_parameter_bytes[j] - costs.cum_parameter_bytes[i],
            activations=costs.cum_activation_bytes[j] - costs.cum_activation_bytes[i],
            compute=forward + backward,
            group_start=np.flatnonzero(np.r_[True, j[1:] != j[:-1]]),
            first_pairs=np.flatnonzero(i == 0),
            transfer=transfer,
        )

    def transfer_time(self, cut: Any, offset: int) -> Array:
        """Transfer term of the cut before state `cut` (>= 1; array) onto device `offset` (>= 1)."""
        activation = self.costs.output_activation_bytes[np.asarray(cut) - 1]
        return self.topology.transfer_time(activation, offset, self.options.activation_compression_ratio)

    def optimum(self) -> NativeResult:
        """The optimal partition (InfeasibleError when none fits)."""
        options, devices = self.options, self.topology.total
        best_time, best_total, table = INF, 0, None
        if options.memory_limit_bytes is not None and options.use_fewer_machines:
            for total in range(1, devices + 1):  # the in-flight counts depend on the devices used
                candidate = self.solve(total)
                if candidate[-1, total] < best_time:
                    best_time, best_total, table = float(candidate[-1, total]), total, candidate
        else:
            table = self.solve(devices)
            for total in range(1, devices + 1) if options.use_fewer_machines else [devices]:
                if table[-1, total] < best_time:  # ascending: fewer devices win ties
                    best_time, best_total = float(table[-1, total]), total
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
            offset += replicas
            previous = end
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
        """Stage terms (F + max(B, sync)) / r of the pairs `rows` (indices or a slice) on devices
        [offset, offset + r) of a `total`-device pipeline; +inf over the memory limit."""
        pairs = self.pairs
        if replicas == 1:
            time = pairs.compute[rows]
        else:
            alpha, beta = self.topology.sync_coefficients(replicas, offset)
            sync = sync_time(pairs.parameters[rows], alpha, beta)
            time = stage_time(pairs.forward[rows], pairs.backward[rows], sync, replicas)
        limit = self.options.memory_limit_bytes
        if limit is not None:
            versions = in_flight(total - offset, replicas)
            memory = stage_memory_bytes(
                pairs.parameters[rows], pairs.activations[rows], versions, self.state_factor
            )
            time = np.where(memory > limit, INF, time)
        return time

    def replica_counts(self, devices: int) -> range:
        return range(1, 2) if self.options.straight else range(1, devices + 1)

    def solve(self, total: int) -> Array:
        """F[j][d] for d <= total, as an (n + 1, total + 1) array (+inf: infeasible)."""
        pairs = self.pairs
        n = self.costs.num_states
        table = np.full((n + 1, total + 1), INF)
        table[0, 0] = 0.0
        every = slice(None)
        ends = pairs.j[pairs.group_start]
        for d in range(1, total + 1):
            column = table[:, d]
            for r in self.replica_counts(d):
                o = d - r
                if o == 0:
                    values = self.stage_terms(pairs.first_pairs, r, 0, total)
                    np.minimum(column[1:], values, out=column[1:])
                    continue
                prefix = np.maximum(table[:, o], pairs.transfer[:, o])
                if not np.isfinite(prefix).any():
                    continue
                values = np.maximum(prefix[pairs.i], self.stage_terms(every, r, o, total))
                best = np.minimum.reduceat(values, pairs.group_start)
                column[ends] = np.minimum(column[ends], best)
        return table

    def _pick(self, table: Array, j: int, d: int, total: int) -> tuple[int, int]:
        """(i, r) of an optimal last stage for entry F[j][d]: the largest r, then the largest i."""
        pairs = self.pairs
        value = table[j, d]
        rows = np.flatnonzero(pairs.j == j)
        for r in sorted(self.replica_counts(d), reverse=True):
            o = d - r
            if o == 0:
                here = rows[pairs.i[rows] == 0]
                values = self.stage_terms(here, r, 0, total)
            else:
                here = rows[pairs.i[rows] > 0]
                prefix = np.maximum(table[:, o], pairs.transfer[:, o])
                values = np.maximum(prefix[pairs.i[here]], self.stage_terms(here, r, o, total))
            hits = here[values == value]
            if len(hits):
                return int(pairs.i[hits].max()), r
        raise AssertionError(f"no candidate reproduces F[{j}][{d}]")

    def reconstruct(self, table: Array, total: int) -> list[NativeStage]:
        bounds = []
        j, d = self.costs.num_states, total
        while j > 0:
            i, r = self._pick(table, j, d, total)
            bounds.append((i, j, r, d - r))
            j, d = i, d - r
        bounds.reverse()
        return self.stages(bounds, total)

    def stages(self, bounds: list[tuple[int, int, int, int]], total: int) -> list[NativeStage]:
        """The stages (start, end, replicas, first device) of a pipeline on `total` devices."""
        names = _stage_layer_names(self.costs, [end for _, end, _, _ in bounds])
        return [
            self._stage(i, j, r, o, total, layer_names)
            for (i, j, r, o), layer_names in zip(bounds, names, strict=True)
        ]

    def _stage(self, i: int, j: int, r: int, o: int, total: int, names: tuple[str, ...]) -> NativeStage:
        costs, topology = self.costs, self.topology
        parameters, activations = costs.parameter_bytes(i, j), costs.activation_bytes(i, j)
        forward, backward = costs.forward_s(i, j), costs.backward_s(i, j)
        sync = float(topology.sync_time(parameters, r, o))
        versions = in_flight(total - o, r)
        transfer = float(self.transfer_time(i, o)) if i > 0 else 0.0
        return NativeStage(
            start=i,
            end=j,
            layer_names=names,
            replicas=r,
            first_device=o,
            time_s=float(stage_time(forward, backward, sync, r)),
            forward_s=forward,
            backward_s=backward,
            sync_s=sync,
            sync_algorithm=topology.sync_algorithm(parameters, r, o),
            transfer_in_s=transfer,
            transfer_link=(topology.cut_link(o).name or None) if i > 0 else None,
            parameter_bytes=parameters,
            activation_bytes=activations,
            in_flight=versions,
            memory_bytes=float(stage_memory_bytes(parameters, activations, versions, self.state_factor)),
        )

    def result(self, stages: list[NativeStage], time: float) -> NativeResult:
        costs = self.costs
        return NativeResult(
            pipeline_time_s=time,
            data_parallel_time_s=self.data_parallel_time(),
            single_device_time_s=float(costs.cum_forward_s[-1] + costs.cum_backward_s[-1]),
            stages=tuple(stages),
            num_devices=self.topology.total,
            num_states=costs.num_states,
            options=self.options,
        )

    def data_parallel_time(self) -> float:
        """All the states as one stage on all N devices (no memory check)."""
        costs, n, total = self.costs, self.costs.num_states, self.topology.total
        sync = float(self.topology.sync_time(costs.parameter_bytes(0, n), total, 0))
        return (costs.forward_s(0, n) + max(costs.backward_s(0, n), sync)) / total


def _stage_layer_names(costs: ChainCosts, ends: list[int]) -> list[tuple[str, ...]]:
    """Profile layer names of each stage (stages ending at the given states, in order): the nodes of
    each down-set not in an earlier stage; PipeDream's dropped Input sources join the first stage and a
    dropped __getitem__ sink the stage of its first producer. A plain chain: the layers [start, end)."""
    view = costs.view
    if view is None:
        starts = [0, *ends[:-1]]
        return [tuple(costs.layer_names[s:e]) for s, e in zip(starts, ends, strict=True)]
    assigned = 0
    members: list[list[int]] = []
    for end in ends:
        layers = view.layers_in(end, assigned)
        for layer in layers:
            assigned |= 1 << layer
        members.append(layers)
    owner = {layer: k for k, layers in enumerate(members) for layer in layers}
    members[0] = [*view.dropped_inputs, *members[0]]
    for sink in view.dropped_sinks:
        producers = [owner[p] for p in view.layer_inputs[sink] if p in owner]
        members[min(producers) if producers else 0].append(sink)
    return [tuple(view.layer_names[k] for k in sorted(layers)) for layers in members]
